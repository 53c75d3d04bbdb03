"""Emulated Windows hosts (real WS-Management over HTTP and HTTPS) for the Windows modules' tests over WinRM."""

from __future__ import annotations

import secrets

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget
from tests.support.windows_host import EmulatedWindowsHost, HostUser
from tests.support.windows_host.state import WindowsState, quic_ready

USER = "Administrator"


@pytest.fixture
def password() -> str:
    return "Pw-" + secrets.token_urlsafe(12)


@pytest.fixture(params=["names", "numbers"])
def enum_form(request) -> str:
    """The emulated host answers enum properties as names or as the CIM class's numbers; tests run both."""
    return request.param


def _state(enum_form: str) -> WindowsState:
    # a Windows Server 2025 that can serve SMB over QUIC: EnableSMBQUIC on, a certificate mapping
    return quic_ready(WindowsState(host={"enum_form": enum_form, "language_mode": "FullLanguage"}), "win1.example")


@pytest.fixture
def http_host(password, enum_form):
    """NTLM with message encryption over HTTP, on a free loopback port."""
    host = EmulatedWindowsHost(users=[HostUser(USER, password)], tls=False, initial_state=_state(enum_form)).start()
    yield host
    host.stop()


@pytest.fixture
def https_host(password, enum_form):
    """Basic (or NTLM) over HTTPS with a self-signed certificate."""
    # Basic is off on a default host; this one has it on (HTTPS only), as an administrator would turn it on.
    host = EmulatedWindowsHost(
        users=[HostUser(USER, password)], tls=True, basic_auth=True, initial_state=_state(enum_form)
    ).start()
    yield host
    host.stop()


def target_of(host: EmulatedWindowsHost, password: str, **overrides) -> WinRMTarget:
    address, port = host.address
    values = {
        "host": address,
        "port": port,
        "user": USER,
        "password": password,
        "scheme": "https" if host.tls else "http",
    }
    values.update(overrides)
    return WinRMTarget.from_values(values)


def changing_calls(host: EmulatedWindowsHost) -> list[tuple[str, dict]]:
    """The calls that change state, in order, as (command, parameters) — what a reviewer reads in an audit log."""
    return [(c["command"], c["parameters"]) for c in host.calls if not c["command"].startswith(("Get-", "Test-"))]


def round_trips(host: EmulatedWindowsHost) -> tuple[int, int]:
    counters = host.counters
    return counters["shells_created"], counters["executions"]
