# smb.alternative_ports executor v1
# Runs the cmdlet calls of a JSON request (its only argument) and writes one JSON document to stdout.
# Request data never becomes code: each call is `& $command @parameters -ErrorAction Stop`, where the
# parameters are a hashtable built from the JSON, so a value is always bound as a value. A call with an
# `arguments` list runs a native program (`& $command @arguments`, an array of strings) and returns its lines.
param([string]$RequestJson)

$ErrorActionPreference = 'Stop'
$WarningPreference = 'SilentlyContinue'
$ProgressPreference = 'SilentlyContinue'

function ConvertTo-ParameterValue([object]$Value) {
    # {"PSCredential": {"UserName": ..., "Password": ...}} is the one non-JSON type a parameter may need.
    if ($null -ne $Value -and $Value -isnot [string] -and $null -ne $Value.PSObject.Properties['PSCredential']) {
        $secret = ConvertTo-SecureString -String ([string]$Value.PSCredential.Password) -AsPlainText -Force
        return New-Object System.Management.Automation.PSCredential ([string]$Value.PSCredential.UserName, $secret)
    }
    return $Value
}

function ConvertTo-Hashtable([object]$Object) {
    $table = @{}
    if ($null -ne $Object) {
        foreach ($property in $Object.PSObject.Properties) { $table[$property.Name] = ConvertTo-ParameterValue $property.Value }
    }
    return $table
}

function ConvertTo-PlainValue([object]$Value) {
    if ($null -eq $Value) { return $null }
    if ($Value -is [enum]) { return $Value.ToString() }
    if ($Value -is [datetime]) { return $Value.ToString('o') }
    if ($Value -is [string] -or $Value.GetType().IsPrimitive) { return $Value }
    if ($Value -is [System.Collections.IDictionary]) {
        # Checked before IEnumerable: a pipeline does not unroll a dictionary, so that branch would recurse forever.
        $table = [ordered]@{}
        foreach ($key in $Value.Keys) { $table[[string]$key] = ConvertTo-PlainValue $Value[$key] }
        return $table
    }
    if ($Value -is [System.Collections.IEnumerable]) { return , @($Value | ForEach-Object { ConvertTo-PlainValue $_ }) }
    return $Value.ToString()
}

function ConvertTo-Record([object]$Object, [string[]]$Properties) {
    if ($Object -is [string] -or $Object.GetType().IsPrimitive) { return $Object }
    if (-not $Properties) { $Properties = @($Object.PSObject.Properties | ForEach-Object { $_.Name }) }
    $record = [ordered]@{}
    foreach ($name in $Properties) {
        $property = $Object.PSObject.Properties[$name]
        $record[$name] = $null
        if ($property) { $record[$name] = ConvertTo-PlainValue $property.Value }
    }
    return $record
}

$request = ConvertFrom-Json -InputObject $RequestJson
$results = New-Object System.Collections.ArrayList
foreach ($call in @($request.calls)) {
    $command = [string]$call.command
    $parameters = ConvertTo-Hashtable $call.parameters
    $properties = [string[]]@($call.properties | Where-Object { $null -ne $_ })
    $result = [ordered]@{ command = $command; ok = $true; output = @(); error = $null }
    try {
        if ($null -ne $call.arguments) {
            # A native program (netsh.exe): each argument is bound as one string; its output is text lines.
            $arguments = [string[]]@($call.arguments)
            $output = @(& $command @arguments | ForEach-Object { [string]$_ })
            if ($LASTEXITCODE -ne 0) { throw ('{0} exited with code {1}: {2}' -f $command, $LASTEXITCODE, ($output -join ' ')) }
        } else {
            $output = @(& $command @parameters -ErrorAction Stop)
        }
        $result.output = @($output | Where-Object { $null -ne $_ } | ForEach-Object { ConvertTo-Record $_ $properties })
    } catch {
        $result.ok = $false
        $result.error = [ordered]@{
            message = $_.Exception.Message
            category = $_.CategoryInfo.Category.ToString()
            fully_qualified_error_id = $_.FullyQualifiedErrorId
        }
    }
    [void]$results.Add($result)
    if (-not $result.ok -and $request.stop_on_error) { break }
}

# ASCII only, so the console code page cannot garble what the controller reads.
$json = ConvertTo-Json -InputObject @{ results = $results.ToArray() } -Depth 8 -Compress
$json = [regex]::Replace($json, '[^\x00-\x7F]', { param($match) '\u{0:x4}' -f [int][char]$match.Value })
[Console]::Out.Write($json)
exit 0
