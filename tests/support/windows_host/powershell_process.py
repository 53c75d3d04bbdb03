"""The one program the emulated host runs: ``powershell.exe`` with the collection's executor.

A WinRS command is accepted only when its command line is exactly the contract's
(``powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <BOOTSTRAP>``) and
its stdin is the executor script (first line ``# smb.alternative_ports executor v1``), four NUL bytes,
and the JSON request. Anything else ends at once with exit code 1 and a plain sentence on stderr, so a
test (or a person pointing another tool at the host) learns what happened instead of seeing silence.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Callable

from .bootstrap_source import expected_bootstrap
from .request_runner import CallRecord, RequestError, run_request
from .state import WindowsState

EXECUTOR_HEADER = "# smb.alternative_ports executor v1"
REQUEST_SEPARATOR = b"\x00\x00\x00\x00"
_EXPECTED_ARGS = ("-noprofile", "-noninteractive", "-executionpolicy", "bypass", "-encodedcommand")
_PROGRAM = "powershell.exe"
REFUSAL_PREFIX = b"emulated host runs only the smb.alternative_ports executor"


@dataclass
class ProcessResult:
    """What the command wrote and how it ended."""

    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""


def refusal(got: str) -> ProcessResult:
    """The plain answer to anything that is not the collection's executor."""
    shown = got[:80]
    message = REFUSAL_PREFIX + f"; got: {shown}\r\n".encode()
    return ProcessResult(1, b"", message)


def command_line_text(command: str, arguments: list[str]) -> str:
    """The command line as one string, as Windows would see it."""
    return " ".join([command, *arguments]).strip()


def check_command_line(command: str, arguments: list[str]) -> ProcessResult | None:
    """None when the command line is the contract's; otherwise the refusal to return."""
    line = command_line_text(command, arguments)
    tokens = line.split()
    if len(tokens) != 7 or tokens[0].lower() != _PROGRAM or tuple(t.lower() for t in tokens[1:6]) != _EXPECTED_ARGS:
        return refusal(line)
    try:
        script = base64.b64decode(tokens[6], validate=True).decode("utf-16-le")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return refusal(line)
    expected = expected_bootstrap()
    if expected is not None and script != expected:
        return refusal(f"-EncodedCommand bootstrap differs from plugins/plugin_utils/_powershell.py: {script}")
    if expected is None and not script.strip():
        return refusal(line)
    return None


def split_stdin(stdin: bytes) -> tuple[str, bytes] | None:
    """(executor script, request bytes), or None when stdin is not shaped as the contract says."""
    script, separator, request = stdin.partition(REQUEST_SEPARATOR)
    if not separator:
        return None
    text = script.decode("utf-8", errors="replace").lstrip("\ufeff")
    first_line = text.splitlines()[0] if text else ""
    if first_line.rstrip("\r") != EXECUTOR_HEADER:
        return None
    return text, request


def run_executor(
    stdin: bytes,
    state: WindowsState,
    record: Callable[[CallRecord], None],
    *,
    max_calls: int | None = None,
) -> ProcessResult:
    """Run the executor's request from a complete stdin."""
    mode = state.host.get("language_mode", "FullLanguage")
    if mode != "FullLanguage":
        # What the bootstrap does before it reads stdin: say the language mode and exit 3.
        return ProcessResult(3, f"smb.alternative_ports: PowerShell language mode is {mode}\r\n".encode(), b"")
    parts = split_stdin(stdin)
    if parts is None:
        script = stdin.partition(REQUEST_SEPARATOR)[0]
        return refusal(script.decode("utf-8", errors="replace").lstrip("\ufeff"))
    request_bytes = parts[1]
    try:
        request: Any = json.loads(request_bytes.decode("utf-8"))
        result = run_request(state, request, record, max_calls=max_calls)
    except (UnicodeDecodeError, json.JSONDecodeError, RequestError) as error:
        return ProcessResult(
            1, b"", f"executor: the request after the NUL separator is not valid: {error}\r\n".encode()
        )
    return ProcessResult(0, json.dumps(result).encode("utf-8"), b"")
