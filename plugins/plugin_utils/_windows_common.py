# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read / plan / apply-and-read-back pattern every Windows module follows.

This is a private plugin_utils file: its API may change without notice.

A module run opens one WinRM shell and runs at most two commands in it: one executor run that reads the
state, and, when something must change outside check mode, one executor run that applies the changes and
then reads the state back. Check mode stops after the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import CallResult, CmdletCall, run_calls
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMSession, WinRMTarget

# Categories PowerShell uses when a Get-* finds nothing; a read treats them as "none there".
_NOT_FOUND_CATEGORIES = ("ObjectNotFound",)


class WindowsTaskError(Exception):
    """A Windows module could not do its work; the message names the host, the call and what failed."""

    def __init__(self, message: str, result: Optional[dict] = None) -> None:
        super().__init__(message)
        self.result = result or {}


@dataclass
class Outcome:
    """What a read / plan / apply run did, for the module to turn into its result."""

    before: Any
    after: Any
    changes: List[CmdletCall]
    commands_run: int


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


def read_apply_read(
    target: WinRMTarget,
    read_calls: Sequence[CmdletCall],
    parse: Callable[[List[CallResult]], Any],
    plan: Callable[[Any], List[CmdletCall]],
    check_mode: bool,
    session_factory: Callable[[WinRMTarget], WinRMSession] = WinRMSession,
) -> Outcome:
    """Read, plan the changing calls, and (outside check mode, when there are any) apply them and read back.

    ``parse`` turns the results of ``read_calls`` into a state; ``plan`` turns a state into changing calls.
    """
    read_calls = list(read_calls)
    with session_factory(target) as session:
        before = parse(run_calls(session, read_calls, stop_on_error=False))
        changes = plan(before)
        if check_mode or not changes:
            return Outcome(before=before, after=before, changes=changes, commands_run=session.commands_run)
        results = run_calls(session, changes + read_calls, stop_on_error=True)
        _raise_on_failed_change(results, changes, target.label)
        after = parse(results[len(changes) :])
        return Outcome(before=before, after=after, changes=changes, commands_run=session.commands_run)


def _raise_on_failed_change(results: List[CallResult], changes: List[CmdletCall], where: str) -> None:
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
