# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read / plan / apply-and-read-back pattern of the Windows client modules, and the executor runner.

This is a private plugin_utils file: its API may change without notice.

A module run opens one WinRM shell and runs at most two commands in it: one executor run that reads the
state, and, when something must change outside check mode, one executor run that applies the changes and
then reads the state back. Check mode stops after the first. The server_ports backend
(``module_utils/backends/windows.py``) follows the same pattern through ``executor_runner``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Sequence

from ansible_collections.smb.alternative_ports.plugins.module_utils._cmdlets import (
    CallResult,
    CmdletCall,
    WindowsTaskError,
    describe_calls,
    found_nothing,
    output_of,
    raise_on_failed_change,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import run_calls
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMSession, WinRMTarget

# The Windows client modules import the cmdlet data and errors from here, with the session helpers.
__all__ = [
    "CallResult",
    "CmdletCall",
    "Outcome",
    "Runner",
    "WindowsTaskError",
    "describe_calls",
    "executor_runner",
    "found_nothing",
    "output_of",
    "raise_on_failed_change",
    "read_apply_read",
]

Runner = Callable[[List[CmdletCall], bool], List[CallResult]]


@dataclass
class Outcome:
    """What a read / plan / apply run did, for the module to turn into its result."""

    before: Any
    after: Any
    changes: List[CmdletCall]
    commands_run: int


@contextmanager
def executor_runner(
    target: WinRMTarget, session_factory: Callable[[WinRMTarget], WinRMSession] = WinRMSession
) -> Iterator[Runner]:
    """One WinRM shell for a whole task; yields ``run(calls, stop_on_error) -> results``, one command per call."""
    with session_factory(target) as session:
        yield lambda calls, stop_on_error: run_calls(session, calls, stop_on_error=stop_on_error)


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
        raise_on_failed_change(results, changes, target.label)
        after = parse(results[len(changes) :])
        return Outcome(before=before, after=after, changes=changes, commands_run=session.commands_run)
