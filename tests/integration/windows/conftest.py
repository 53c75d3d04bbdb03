"""Emulated Windows hosts (real WS-Management over HTTP and HTTPS) for the Windows modules' tests over WinRM.
Reaching them and reading what they saw: tests/support/windows_over_winrm.py."""

from __future__ import annotations

import secrets

import pytest

from tests.support.accounts import WINDOWS_USER
from tests.support.windows_host import EmulatedWindowsHost, HostUser
from tests.support.windows_host.state import WindowsState, quic_ready


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
    host = EmulatedWindowsHost(
        users=[HostUser(WINDOWS_USER, password)], tls=False, initial_state=_state(enum_form)
    ).start()
    yield host
    host.stop()


@pytest.fixture
def https_host(password, enum_form):
    """Basic (or NTLM) over HTTPS with a self-signed certificate."""
    # Basic is off on a default host; this one has it on (HTTPS only), as an administrator would turn it on.
    host = EmulatedWindowsHost(
        users=[HostUser(WINDOWS_USER, password)], tls=True, basic_auth=True, initial_state=_state(enum_form)
    ).start()
    yield host
    host.stop()
