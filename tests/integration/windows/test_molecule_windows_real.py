"""molecule/windows-real is meant for a real Windows Server 2025 host; pointed at the emulated host through its
environment variables, it must run green and leave the host as it found it (destroy undoes converge)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.accounts import WINDOWS_USER as USER

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_windows_real_scenario_against_the_emulated_host(http_host, password):
    address, port = http_host.address
    env = dict(
        os.environ,
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        SMB_AP_WINDOWS_HOST=address,
        SMB_AP_WINDOWS_PORT=str(port),
        SMB_AP_WINDOWS_SCHEME="http",
        SMB_AP_WINDOWS_USER=USER,
        SMB_AP_WINDOWS_PASSWORD=password,
        SMB_AP_QUIC_PORT="18443",
        SMB_AP_QUIC_CERT_THUMBPRINT="0123456789ABCDEF0123456789ABCDEF01234567",
        SMB_AP_QUIC_SERVER_NAME="fs1.contoso.com",
        SMB_AP_SHARE="\\\\fs1.contoso.com\\data",
        SMB_AP_SHARE_USER="CONTOSO\\svc-files",
        SMB_AP_SHARE_PASSWORD="Share-Pw-never-shown",
        # The emulated host runs only the collection's executor: the Get-NetUDPEndpoint check needs a real host.
        SMB_AP_WINDOWS_RUN_RAW="false",
        ANSIBLE_NOCOLOR="1",
        NO_COLOR="1",
    )
    run = subprocess.run(
        [str(VENV_BIN / "molecule"), "test", "-s", "windows-real"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "idempotence" in output
    state = http_host.state
    assert (state.alternative_ports, state.firewall_rules, state.global_mappings) == ([], [], [])
    assert any(c["command"] == "New-SmbGlobalMapping" for c in http_host.calls)
    assert any(
        c["command"] == "New-SmbServerAlternativePort" and c["parameters"]["Port"] == 18443 for c in http_host.calls
    )
    assert password not in output and "Share-Pw-never-shown" not in output
