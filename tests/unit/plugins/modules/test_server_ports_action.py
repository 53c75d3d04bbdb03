"""The server_ports action plugins' dispatch: backend auto on a WinRM host runs the Windows work on the controller.

Uses the emulated Windows host (real WS-Management) from tests/support; the Linux side is covered by
tests/integration/linux.
"""

from __future__ import annotations

import secrets
import sys

import pytest

from tests.integration.windows.test_playbook_windows import write_inventory, write_playbook
from tests.support.accounts import WINDOWS_USER as USER
from tests.support.ansible_run import run_playbook
from tests.support.windows_host import EmulatedWindowsHost, HostUser
from tests.support.windows_host.state import WindowsState, quic_ready

QUIC_8443 = {"ports": [{"transport": "quic", "port": 8443}]}


@pytest.fixture
def windows():
    """An emulated Windows host (NTLM with message encryption over HTTP) and its password."""
    secret = "Pw-" + secrets.token_urlsafe(12)
    host = EmulatedWindowsHost(
        users=[HostUser(USER, secret)], tls=False, initial_state=quic_ready(WindowsState())
    ).start()
    yield host, secret
    host.stop()


def test_auto_on_a_winrm_host_goes_to_windows_and_is_idempotent(tmp_path, windows):
    tasks = [
        {"name": "set", "smb.alternative_ports.server_ports": QUIC_8443, "diff": True},
        {"name": "again", "smb.alternative_ports.server_ports": QUIC_8443},
        {"name": "info", "smb.alternative_ports.server_ports_info": {}},
    ]
    run = run_playbook(write_playbook(tmp_path, tasks), write_inventory(tmp_path, *windows))
    assert run.returncode == 0, run.stdout[-3000:]
    first = run.results["set"]["win1"]
    assert (first["backend"], first["changed"]) == ("windows", True)
    assert first["after"] == [{"transport": "quic", "port": 8443, "instances": "default"}]
    assert "quic/8443" in first["diff"]["after"]
    assert run.results["again"]["win1"]["changed"] is False
    assert run.results["info"]["win1"]["ports"] == first["after"]


def test_windows_only_options_never_reach_the_linux_module(tmp_path):
    playbook = write_playbook(
        tmp_path,
        [
            {
                "name": "linux",
                "smb.alternative_ports.server_ports": {
                    "backend": "pysmbd",
                    "config_path": str(tmp_path / "absent.toml"),
                    "winrm_port": 5985,
                    "ports": [{"transport": "tcp", "port": 4445}],
                },
                "ignore_errors": True,
            }
        ],
    )
    run = run_playbook(playbook, "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}")
    msg = run.results["linux"]["localhost"]["msg"]
    assert "Unsupported parameters" not in msg
    assert "absent.toml" in msg and "smb.alternative_ports.pysmbd role" in msg
