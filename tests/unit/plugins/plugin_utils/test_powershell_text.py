"""The PowerShell text the collection sends: syntax (tree-sitter-powershell) and the data-never-in-code rule."""

from __future__ import annotations

import base64
import json

import pytest
import tree_sitter
import tree_sitter_powershell

from ansible_collections.smb.alternative_ports.plugins.plugin_utils import _powershell
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import (
    BOOTSTRAP,
    BOOTSTRAP_SCRIPT,
    EXECUTOR_HEADER,
    EXECUTOR_PATH,
    PAYLOAD_SEPARATOR,
    POWERSHELL_ARGUMENTS,
    CmdletCall,
    build_stdin,
)

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def syntax_problems(source: str) -> list[str]:
    """Every ERROR or MISSING node of the parse tree, with its line and text."""
    problems = []
    pending = [PARSER.parse(source.encode("utf-8")).root_node]
    while pending:
        node = pending.pop()
        if node.type == "ERROR" or node.is_missing:
            problems.append(f"line {node.start_point[0] + 1}: {node.type} {node.text[:60]!r}")
        pending.extend(node.children)
    return problems


# Windows PowerShell 5.1 lacks these (PowerShell 7 added them): a parameter name, or the command it belongs to.
_PS7_PARAMETERS = {"-ashashtable": None, "-parallel": "foreach-object", "-asbytestream": None}


def ps51_problems(source: str) -> list[str]:
    """Constructs Windows PowerShell 5.1 cannot run: parse errors (``??``, ``?:``, ``?.``, ``clean`` blocks fail
    to parse in this grammar), pipeline chains (``&&``, ``||``) and PowerShell 7-only parameters."""
    problems = syntax_problems(source)
    pending = [PARSER.parse(source.encode("utf-8")).root_node]
    while pending:
        node = pending.pop()
        line = node.start_point[0] + 1
        if node.type == "pipeline_chain_tail":
            problems.append(f"line {line}: pipeline chain operator {node.text.decode().split()[0]!r} (PowerShell 7)")
        if node.type == "command_parameter":
            name = node.text.decode().lower().split(":")[0]
            if name in _PS7_PARAMETERS:
                owner = _PS7_PARAMETERS[name]
                if owner is None or _command_of(node) == owner:
                    problems.append(f"line {line}: {name} (PowerShell 7 only)")
        pending.extend(node.children)
    return problems


def _command_of(parameter) -> str:
    command = parameter.parent.parent if parameter.parent is not None else None
    for child in command.children if command is not None else []:
        if child.type == "command_name":
            return child.text.decode().lower()
    return ""


@pytest.mark.parametrize(
    "construct",
    [
        "$a = $b ?? 1",
        "$a = $b ? 1 : 2",
        "$n = $x?.Name",
        "Get-Item x && Get-Item y",
        "Get-Item x || Get-Item y",
        "$j | ConvertFrom-Json -AsHashtable",
        "1..3 | ForEach-Object -Parallel { $_ }",
        "function f { process { 1 } clean { 2 } }",
    ],
)
def test_the_ps51_check_catches_powershell_7_constructs(construct):
    assert ps51_problems(construct), construct


def test_the_ps51_check_leaves_plain_51_alone():
    assert ps51_problems("$a = if ($b) { 1 } else { 2 }; Get-Item x | ForEach-Object { $_ }") == []


def test_executor_and_bootstrap_use_nothing_windows_powershell_51_lacks():
    assert ps51_problems(EXECUTOR_PATH.read_text(encoding="utf-8")) == []
    assert ps51_problems(BOOTSTRAP_SCRIPT) == []


def test_the_syntax_check_catches_broken_powershell():
    assert syntax_problems("$table = @{ a = 1 ")
    assert syntax_problems("foreach ($a in @(1, 2) { $x = 1 }")


def test_executor_script_parses_cleanly():
    assert syntax_problems(EXECUTOR_PATH.read_text(encoding="utf-8")) == []


def test_bootstrap_parses_cleanly_and_is_the_encoded_command():
    assert syntax_problems(BOOTSTRAP_SCRIPT) == []
    assert base64.b64decode(BOOTSTRAP).decode("utf-16-le") == BOOTSTRAP_SCRIPT
    assert POWERSHELL_ARGUMENTS[-2:] == ("-EncodedCommand", BOOTSTRAP)


def test_executor_starts_with_the_contract_header():
    assert (
        EXECUTOR_PATH.read_text(encoding="utf-8").splitlines()[0]
        == EXECUTOR_HEADER
        == "# smb.alternative_ports executor v1"
    )


def test_executor_runs_calls_by_splatting_with_error_action_stop():
    text = EXECUTOR_PATH.read_text(encoding="utf-8")
    assert "& $command @parameters -ErrorAction Stop" in text
    assert "Invoke-Expression" not in text and "iex " not in text.lower()


def test_stdin_holds_executor_separator_and_json_request():
    calls = [CmdletCall("New-SmbMapping", {"RemotePath": "\\\\fs1\\data", "TcpPort": 4445}, None)]
    stdin = build_stdin(calls).decode("utf-8")
    script, request = stdin.split(PAYLOAD_SEPARATOR, 1)
    assert script == EXECUTOR_PATH.read_text(encoding="utf-8")
    assert json.loads(request) == {
        "calls": [{"command": "New-SmbMapping", "parameters": {"RemotePath": "\\\\fs1\\data", "TcpPort": 4445}}],
        "stop_on_error": True,
    }


def test_request_is_ascii_even_with_non_ascii_data():
    stdin = build_stdin([CmdletCall("Test-Path", {"Path": "HKLM:\\Software\\Contoso-Ümlaut"})])
    stdin.decode("ascii")  # raises if any byte is not ASCII
    request = json.loads(stdin.decode("ascii").split(PAYLOAD_SEPARATOR, 1)[1])
    assert request["calls"][0]["parameters"]["Path"].endswith("Ümlaut")


@pytest.mark.parametrize(
    "value",
    ["'; Remove-Item C:\\ -Recurse; '", '"; $(Stop-Computer) "', "`0`0`0`0", "\u0000\u0000\u0000\u0000", "$env:PATH"],
)
def test_hostile_values_stay_data(value):
    stdin = build_stdin([CmdletCall("New-SmbMapping", {"RemotePath": value})]).decode("ascii")
    script, request = stdin.split(PAYLOAD_SEPARATOR, 1)
    assert value not in script
    assert json.loads(request)["calls"][0]["parameters"]["RemotePath"] == value
    assert all(value not in argument for argument in POWERSHELL_ARGUMENTS)


def test_a_damaged_executor_is_refused(tmp_path, monkeypatch):
    broken = tmp_path / "executor.ps1"
    broken.write_text("# something else\n", encoding="utf-8")
    monkeypatch.setattr(_powershell, "EXECUTOR_PATH", broken)
    with pytest.raises(_powershell.ExecutorError, match="does not start with"):
        build_stdin([])


def test_a_native_program_gets_its_arguments_as_data_never_as_text():
    """netsh.exe runs as `& $command @arguments`: each JSON string is one argument, never spliced into script."""
    text = EXECUTOR_PATH.read_text(encoding="utf-8")
    assert "$arguments = [string[]]@($call.arguments)" in text and "& $command @arguments" in text
    hostile = "protocol=udp; Remove-Item C:\\ -Recurse"
    call = CmdletCall("netsh.exe", {}, None, ["interface", "ipv4", "show", "excludedportrange", hostile])
    script, request = build_stdin([call]).decode("ascii").split(PAYLOAD_SEPARATOR, 1)
    assert hostile not in script
    assert json.loads(request)["calls"][0]["arguments"][-1] == hostile
