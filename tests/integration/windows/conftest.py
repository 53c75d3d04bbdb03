"""Emulated Windows hosts (real WS-Management over HTTP and HTTPS) for the Windows modules' tests over WinRM."""

from __future__ import annotations

import secrets

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget
from tests.support.windows_host import EmulatedWindowsHost, HostUser
from tests.support.windows_host.state import WindowsState

USER = "Administrator"


@pytest.fixture
def password() -> str:
    return "Pw-" + secrets.token_urlsafe(12)


@pytest.fixture(params=["names", "numbers"])
def enum_form(request) -> str:
    """The emulated host answers enum properties as names or as the CIM class's numbers; tests run both."""
    return request.param


def _state(enum_form: str) -> WindowsState:
    return WindowsState(host={"enum_form": enum_form, "language_mode": "FullLanguage"})


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


# The server_ports windows backend reads EnableInstances and enum names only (issue 12 items 1-2); the lead is
# moving it to plugins/module_utils/backends/windows.py. strict: the marks must go once it reads both forms.
_SERVER_PORTS_NEEDS_BACKEND = {
    "test_add_change_remove_and_exclusive": ("names", "numbers"),
    "test_check_mode_runs_one_read_and_no_changing_call": ("numbers",),
    "test_windows_real_scenario_against_the_emulated_host": ("numbers",),
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        forms = _SERVER_PORTS_NEEDS_BACKEND.get(item.originalname, ())
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("enum_form") in forms:
            item.add_marker(
                pytest.mark.xfail(
                    strict=True,
                    reason="server_ports windows backend reads EnableInstances / enum names (issue 12 items 1-2)",
                )
            )
