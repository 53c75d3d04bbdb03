"""Reaching an emulated Windows host (tests/support/windows_host) as the collection does, over real WinRM, and
reading back what the host saw: the calls that changed state, and how many shells and commands it took."""

from __future__ import annotations

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget
from tests.support.accounts import WINDOWS_USER
from tests.support.windows_host import EmulatedWindowsHost


def target_of(host: EmulatedWindowsHost, password: str, **overrides) -> WinRMTarget:
    """The WinRMTarget for ``host`` as its administrator; ``overrides`` replace any of its values."""
    address, port = host.address
    values = {
        "host": address,
        "port": port,
        "user": WINDOWS_USER,
        "password": password,
        "scheme": "https" if host.tls else "http",
    }
    values.update(overrides)
    return WinRMTarget.from_values(values)


def changing_calls(host: EmulatedWindowsHost) -> list[tuple[str, dict]]:
    """The calls that change state, in order, as (command, parameters) — what a reviewer reads in an audit log."""
    return [(c["command"], c["parameters"]) for c in host.calls if not _reads(c)]


def _reads(call: dict) -> bool:
    """A Get-/Test- cmdlet, or a native program asked to ``show`` (netsh ... show excludedportrange)."""
    return call["command"].startswith(("Get-", "Test-")) or "show" in [a.lower() for a in call.get("arguments") or []]


def round_trips(host: EmulatedWindowsHost) -> tuple[int, int]:
    """(shells created, commands executed) on the host so far."""
    counters = host.counters
    return counters["shells_created"], counters["executions"]
