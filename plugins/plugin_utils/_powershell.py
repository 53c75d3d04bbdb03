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
BOOTSTRAP_SCRIPT = """\
$ErrorActionPreference = 'Stop'
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
    if exit_code != 0:
        problem = f"the PowerShell executor exited with code {exit_code}"
    else:
        try:
            document = json.loads(text)
        except ValueError:
            problem = "the PowerShell executor did not answer with JSON"
    if not problem and not (isinstance(document, dict) and isinstance(document.get("results"), list)):
        problem = "the PowerShell executor's answer has no results list"
    if problem:
        raise ExecutorError(
            f"{where}: {problem}; stdout: {_excerpt(text)!r}; stderr: {_excerpt(stderr.decode('utf-8', 'replace'))!r}"
        )
    results = [_as_result(item) for item in document["results"]]
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
    output = item.get("output")
    if output is None:
        output = []
    elif not isinstance(output, list):
        output = [output]  # a lone object that PowerShell did not keep in an array
    return CallResult(command=str(item.get("command")), ok=bool(item.get("ok")), output=output, error=item.get("error"))


def _excerpt(text: str, limit: int = 400) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."
