# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running cmdlet calls on a Windows host through the collection's PowerShell executor.

This is a private plugin_utils file: its API may change without notice.

The command line is always the same: ``powershell.exe ... -EncodedCommand BOOTSTRAP``, a fixed constant.
Everything else travels over stdin: the text of ``executor.ps1``, four NUL characters, then the JSON
request. So no user data is ever spliced into PowerShell text, and no command-line length limit applies.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, List

from ansible_collections.smb.alternative_ports.plugins.module_utils._cmdlets import CallResult, CmdletCall

EXECUTOR_HEADER = "# smb.alternative_ports executor v1"
EXECUTOR_PATH = Path(__file__).with_name("executor.ps1")
PAYLOAD_SEPARATOR = "\0\0\0\0"

# Reads all of stdin, splits it at the first four NULs, runs the first part as a script block and passes
# the second part (the JSON request) as its only argument. `$input | Out-String` keeps the line breaks.
# Constrained Language Mode (an AppLocker or WDAC policy) forbids [ScriptBlock]::Create: say so on stdout
# (Write-Output works in every language mode) and exit 3, so the controller can name the cause.
CONSTRAINED_LANGUAGE_EXIT_CODE = 3
CONSTRAINED_LANGUAGE_MARKER = "smb.alternative_ports: PowerShell language mode is "
BOOTSTRAP_SCRIPT = """\
$ErrorActionPreference = 'Stop'
if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') {
    Write-Output ('smb.alternative_ports: PowerShell language mode is ' + $ExecutionContext.SessionState.LanguageMode)
    exit 3
}
$payload = [string]($input | Out-String)
$parts = $payload.Split([string[]]@("`0`0`0`0"), 2, [StringSplitOptions]::None)
if ($parts.Length -ne 2) {
    [Console]::Error.WriteLine('smb.alternative_ports: stdin must hold the executor, four NULs and a JSON request')
    exit 2
}
& ([ScriptBlock]::Create($parts[0])) $parts[1]
"""
BOOTSTRAP = base64.b64encode(BOOTSTRAP_SCRIPT.encode("utf-16-le")).decode("ascii")
POWERSHELL = "powershell.exe"
POWERSHELL_ARGUMENTS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", BOOTSTRAP)


class ExecutorError(Exception):
    """The executor could not run or its answer could not be read; the message is safe to show."""


def load_executor() -> str:
    text = EXECUTOR_PATH.read_text(encoding="utf-8")
    if text.splitlines()[0] != EXECUTOR_HEADER:
        raise ExecutorError(f"{EXECUTOR_PATH} does not start with {EXECUTOR_HEADER!r}; the collection is damaged")
    return text


def build_stdin(calls: List[CmdletCall], stop_on_error: bool = True) -> bytes:
    """The bytes sent to the bootstrap: executor text, separator, JSON request (ASCII-only, so any code page reads it)."""
    request = {"calls": [call.as_request() for call in calls], "stop_on_error": stop_on_error}
    text = load_executor() + PAYLOAD_SEPARATOR + json.dumps(request, ensure_ascii=True, separators=(",", ":"))
    return text.encode("utf-8")


def parse_stdout(stdout: bytes, stderr: bytes, exit_code: int, calls: List[CmdletCall], where: str) -> List[CallResult]:
    """Parse the executor's JSON answer; ``where`` (``user@host:port``) goes into every error message."""
    text = stdout.decode("utf-8", errors="replace").strip()
    problem = ""
    document: Any = None
    if exit_code == CONSTRAINED_LANGUAGE_EXIT_CODE and CONSTRAINED_LANGUAGE_MARKER in text:
        mode = (text.split(CONSTRAINED_LANGUAGE_MARKER, 1)[1].split() or ["an unknown"])[0]
        raise ExecutorError(
            f"{where}: Windows PowerShell on the host runs in {mode} mode (Constrained Language Mode, set by an "
            "AppLocker or WDAC application control policy), which cannot run the collection's executor; "
            "allow powershell.exe scripts for the connecting account in that policy, or manage this host another way"
        )
    if exit_code != 0:
        problem = f"the PowerShell executor exited with code {exit_code}"
    else:
        try:
            document = json.loads(text)
        except ValueError:
            problem = "the PowerShell executor did not answer with JSON"
    if not problem and not (isinstance(document, dict) and isinstance(document.get("results"), (list, dict))):
        problem = "the PowerShell executor's answer has no results list"
    if problem:
        raise ExecutorError(
            f"{where}: {problem}; stdout: {_excerpt(text)!r}; stderr: {_excerpt(stderr.decode('utf-8', 'replace'))!r}"
        )
    results = [_as_result(item) for item in as_list(document["results"])]
    if len(results) > len(calls):
        raise ExecutorError(f"{where}: the executor answered {len(results)} results for {len(calls)} calls")
    return results


def run_calls(session: Any, calls: List[CmdletCall], stop_on_error: bool = True) -> List[CallResult]:
    """Run ``calls`` in one command execution of an open WinRMSession and return one result per call that ran."""
    output = session.run(POWERSHELL, POWERSHELL_ARGUMENTS, build_stdin(calls, stop_on_error))
    return parse_stdout(output.stdout, output.stderr, output.exit_code, calls, session.target.label)


def _as_result(item: Any) -> CallResult:
    if not isinstance(item, dict):
        raise ExecutorError(f"the executor returned a result that is not an object: {_excerpt(repr(item))}")
    output = as_list(item.get("output"))
    return CallResult(command=str(item.get("command")), ok=bool(item.get("ok")), output=output, error=item.get("error"))


def as_list(value: Any) -> list:
    """A list from any of the shapes Windows PowerShell 5.1's ConvertTo-Json gives one.

    5.1 writes an array that carries extended-type data as ``{"value": [...], "Count": n}``, a one-element
    array as the lone element, and an empty one as null.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and set(value) == {"value", "Count"} and isinstance(value["value"], (list, type(None))):
        return as_list(value["value"])
    return [value]


def _excerpt(text: str, limit: int = 400) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."
