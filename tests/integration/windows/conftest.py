"""Emulated Windows hosts (real WS-Management over HTTP and HTTPS) for the Windows modules' tests over WinRM.
Reaching them and reading what they saw: tests/support/windows_over_winrm.py."""

from __future__ import annotations

import secrets

import pytest

from tests.support.accounts import WINDOWS_USER
from tests.support.windows_host import EmulatedWindowsHost, HostUser


@pytest.fixture
def password() -> str:
    return "Pw-" + secrets.token_urlsafe(12)


@pytest.fixture
def http_host(password):
    """NTLM with message encryption over HTTP, on a free loopback port."""
    host = EmulatedWindowsHost(users=[HostUser(WINDOWS_USER, password)], tls=False).start()
    yield host
    host.stop()


@pytest.fixture
def https_host(password):
    """Basic (or NTLM) over HTTPS with a self-signed certificate."""
    host = EmulatedWindowsHost(users=[HostUser(WINDOWS_USER, password)], tls=True).start()
    yield host
    host.stop()
