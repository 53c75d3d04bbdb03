"""Helpers for tests that drive the emulated host with real pywinrm.

The command line comes from the collection (``plugins/plugin_utils/_powershell.py``), the stdin is
built here from the contract (executor text, four NULs, JSON request), so these tests check the host
against the contract rather than against the controller's own helpers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import winrm

from .auth import HostUser
from .bootstrap_source import REPO_ROOT, expected_bootstrap
from .host import EmulatedWindowsHost
from .powershell_process import EXECUTOR_HEADER, REQUEST_SEPARATOR
from .state import WindowsState, allow_local_admins

USER = HostUser("vagrant", "Wh-Secret:1")
OTHER_USER = HostUser("admin", "Adm1n-Secret", domain="CORP")
EXECUTOR_PATH = REPO_ROOT / "plugins" / "plugin_utils" / "executor.ps1"


def powershell_arguments() -> list[str]:
    """The contract's arguments with the collection's bootstrap."""
    script = expected_bootstrap()
    if script is None:
        pytest.fail("plugins/plugin_utils/_powershell.py defines no BOOTSTRAP constant; the contract needs one")
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    return ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded]


def executor_text() -> bytes:
    """The collection's executor.ps1 when present, else a stand-in with the contract's header line."""
    if EXECUTOR_PATH.is_file():
        return EXECUTOR_PATH.read_bytes()
    return (EXECUTOR_HEADER + "\r\nparam([string]$RequestJson)\r\n").encode()


def executor_stdin(calls: list[dict[str, Any]], stop_on_error: bool = True, padding: bytes = b"") -> bytes:
    request = {"calls": calls, "stop_on_error": stop_on_error}
    return executor_text() + padding + REQUEST_SEPARATOR + json.dumps(request).encode()


def run_executor(protocol: winrm.protocol.Protocol, stdin: bytes) -> tuple[bytes, bytes, int]:
    """One shell, one command, stdin, output, cleanup: what the collection does per task.

    An error propagates as raised (no cleanup that could hide it behind a second error).
    """
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "powershell.exe", powershell_arguments())
    protocol.send_command_input(shell_id, command_id, stdin, end=True)
    output = protocol.get_command_output(shell_id, command_id)
    protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id)
    return output


def results(stdout: bytes) -> list[dict[str, Any]]:
    return json.loads(stdout)["results"]


def ntlm_protocol(
    host: EmulatedWindowsHost, user: HostUser = USER, password: str | None = None
) -> winrm.protocol.Protocol:
    name = f"{user.domain}\\{user.name}" if user.domain else user.name
    return winrm.protocol.Protocol(
        host.url,
        transport="ntlm",
        username=name,
        password=user.password if password is None else password,
        ca_trust_path=None,  # plain HTTP: no certificate to trust, and no environment CA bundle either
        operation_timeout_sec=5,
        read_timeout_sec=10,
    )


def basic_https_protocol(
    host: EmulatedWindowsHost, password: str | None = None, **kwargs: Any
) -> winrm.protocol.Protocol:
    options: dict[str, Any] = {"ca_trust_path": str(host.cert_path), "server_cert_validation": "validate"}
    options.update(kwargs)
    return winrm.protocol.Protocol(
        host.url,
        transport="basic",
        username=USER.name,
        password=USER.password if password is None else password,
        operation_timeout_sec=5,
        read_timeout_sec=10,
        **options,
    )


@pytest.fixture
def http_host(tmp_path: Path) -> Iterator[EmulatedWindowsHost]:
    # USER is a local administrator other than the built-in one: the host allows it as a Vagrant box does.
    host = EmulatedWindowsHost(
        [USER, OTHER_USER], state_file=tmp_path / "state.json", initial_state=allow_local_admins(WindowsState())
    ).start()
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture
def https_host(tmp_path: Path) -> Iterator[EmulatedWindowsHost]:
    # Basic is off on a default host; this one has it on, as an administrator turns it on for HTTPS.
    host = EmulatedWindowsHost(
        [USER], tls=True, basic_auth=True, initial_state=allow_local_admins(WindowsState())
    ).start()
    try:
        yield host
    finally:
        host.stop()
