# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cmdlet calls and their results, as the Windows backend plans them and the PowerShell executor runs them.

This is a private module_utils file: its API may change without notice.

Plain data only: building and reading calls needs no WinRM, so the Windows backend (``backends/windows.py``)
lives beside the Linux ones and is tested without a host. Running the calls is ``plugin_utils/_powershell.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence

from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import BackendError

# Categories PowerShell uses when a Get-* finds nothing; a read treats them as "none there".
_NOT_FOUND_CATEGORIES = ("ObjectNotFound",)
# Switch parameters the collection may send as $false (-Confirm:$false).
_SWITCHES = frozenset({"Confirm", "WhatIf", "Force", "PassThru"})


class WindowsTaskError(BackendError):
    """A Windows module could not do its work; the message names the host, the call and what failed."""


@dataclass
class CmdletCall:
    """One cmdlet call: ``& command @parameters -ErrorAction Stop``, keeping only ``properties`` of its output."""

    command: str
    parameters: dict = field(default_factory=dict)
    properties: Optional[List[str]] = None
    arguments: Optional[List[str]] = None
    """Set for a native program (``netsh.exe``): its arguments, each passed as one string; output is text lines."""

    def as_request(self) -> dict:
        request: dict = {"command": self.command, "parameters": self.parameters}
        if self.properties is not None:
            request["properties"] = list(self.properties)
        if self.arguments is not None:
            request["arguments"] = [str(argument) for argument in self.arguments]
        return request

    def describe(self) -> str:
        """``New-SmbMapping -RemotePath \\\\srv\\share -TcpPort 4445``, for messages."""
        if self.arguments is not None:
            return " ".join([self.command, *self.arguments])
        words = [self.command]
        for name, value in self.parameters.items():
            if name.lower() == "password":
                value = "********"
            if value is False and name in _SWITCHES:
                words.append(f"-{name}:$false")  # a switch takes $false only after a colon
            else:
                words.append(f"-{name}" if value is True else f"-{name} {_describe_value(value)}")
        return " ".join(words)


@dataclass
class CallResult:
    command: str
    ok: bool
    output: list
    error: Optional[dict] = None

    @property
    def error_message(self) -> str:
        if not self.error:
            return ""
        message = str(self.error.get("message") or "").strip()
        error_id = self.error.get("fully_qualified_error_id")
        return f"{message} ({error_id})" if error_id else message


def output_of(result: CallResult, call: CmdletCall, where: str, absent_ok: bool = True) -> list:
    """The output of a read call, an empty list when it found nothing, or a clear error."""
    if result.ok:
        return result.output
    if absent_ok and found_nothing(result):
        return []
    raise WindowsTaskError(f"{where}: {call.describe()} failed: {result.error_message}")


def found_nothing(result: CallResult) -> bool:
    """True when a failed Get-* only says that nothing matched (not that the command does not exist)."""
    error = result.error or {}
    error_id = str(error.get("fully_qualified_error_id") or "")
    return str(error.get("category") or "") in _NOT_FOUND_CATEGORIES and not error_id.startswith("CommandNotFound")


def raise_on_failed_change(results: List[CallResult], changes: Sequence[CmdletCall], where: str) -> None:
    """Name the change that failed, what ran before it and what was not run (the executor stops at a failure)."""
    for index, result in enumerate(results[: len(changes)]):
        if not result.ok:
            done = [call.describe() for call in changes[:index]]
            not_run = [call.describe() for call in changes[index + 1 :]]
            raise WindowsTaskError(
                f"{where}: {changes[index].describe()} failed: {result.error_message}. "
                f"{len(done)} earlier change(s) were made, {len(not_run)} later one(s) were not run; "
                "fix the cause and run the task again",
                result={"calls_done": done, "calls_not_run": not_run},
            )
    if len(results) < len(changes):
        raise WindowsTaskError(f"{where}: the executor stopped after {len(results)} of {len(changes)} changes")


def describe_calls(calls: Sequence[CmdletCall]) -> List[str]:
    """Human-readable command lines for results (``commands``); passwords and credentials are masked."""
    return [call.describe() for call in calls]


def _describe_value(value: Any) -> str:
    if isinstance(value, dict):
        return "<credential>" if "PSCredential" in value else "<object>"
    if isinstance(value, (list, tuple)):
        return ",".join(_describe_value(v) for v in value) if len(value) <= 3 else f"<{len(value)} values>"
    if value is False:
        return "$false"
    return str(value)
