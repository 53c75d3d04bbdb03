"""The Windows modules' logic run against the emulated host's cmdlet model, in process (no HTTP).

``ModelSession`` stands in for WinRMSession: it checks the command line and stdin exactly as the emulated host
does (``tests/support/windows_host/powershell_process.py``) and runs the request against a ``WindowsState``.
The tests over real WinRM use tests/support/windows_over_winrm.py instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import CommandOutput, WinRMTarget
from tests.support.windows_host.powershell_process import check_command_line, run_executor
from tests.support.windows_host.state import WindowsState


@dataclass
class ModelHost:
    """The emulated host's state, and every cmdlet call and command it saw."""

    state: WindowsState = field(default_factory=WindowsState)
    calls: list = field(default_factory=list)
    commands: int = 0
    shells: int = 0

    def changing_calls(self) -> list[tuple[str, dict]]:
        return [(c.command, c.parameters) for c in self.calls if not _reads(c.command, c.extra.get("arguments"))]

    def changing_commands(self) -> list[str]:
        return [command for command, parameters in self.changing_calls()]

    def reset_counts(self) -> None:
        """Forget the calls and counts so far (the state stays)."""
        self.calls.clear()
        self.commands = self.shells = 0

    def session_factory(self, target):
        return ModelSession(target, self)


class ModelSession:
    def __init__(self, target: WinRMTarget, host: ModelHost) -> None:
        self.target = target
        self.host = host
        self.commands_run = 0

    def __enter__(self):
        self.host.shells += 1
        return self

    def __exit__(self, *exc_info):
        return None

    def run(self, command, arguments=(), stdin=None):
        self.commands_run += 1
        self.host.commands += 1
        refused = check_command_line(command, list(arguments))
        if refused is None:
            refused = run_executor(stdin or b"", self.host.state, self.host.calls.append)
        return CommandOutput(refused.stdout, refused.stderr, refused.exit_code)


def _reads(command: str, arguments) -> bool:
    """A Get-/Test- cmdlet, or a native program asked to ``show`` (netsh ... show excludedportrange)."""
    return command.startswith(("Get-", "Test-")) or "show" in [a.lower() for a in arguments or []]
