"""Fault injection, and the host run as its own process the way molecule starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import winrm
from winrm.exceptions import WSManFaultError

from tests.support.peers import stop_process
from tests.support.windows_host import EmulatedWindowsHost, read_state_file
from tests.support.windows_host.bootstrap_source import REPO_ROOT
from tests.support.windows_host.state import WindowsState, allow_local_admins
from tests.support.windows_host.testing import (
    USER,
    executor_stdin,
    ntlm_protocol,
    powershell_arguments,
    results,
    run_executor,
)

TWO_PORTS = [
    {
        "command": "New-SmbServerAlternativePort",
        "parameters": {"TransportType": "QUIC", "Port": p, "EnableInstances": "Default"},
    }
    for p in (8443, 9443, 10443, 11443)
]


def test_dropped_connection_mid_apply_reaches_the_client_and_leaves_half_applied():
    with EmulatedWindowsHost(
        [USER], drop_connection_during_command=2, initial_state=allow_local_admins(WindowsState())
    ) as host:
        run_executor(ntlm_protocol(host), executor_stdin([{"command": "Get-SmbServerAlternativePort"}]))
        protocol = ntlm_protocol(host)
        shell_id = protocol.open_shell()
        command_id = protocol.run_command(shell_id, "powershell.exe", powershell_arguments())
        with pytest.raises(requests.exceptions.ConnectionError):
            protocol.send_command_input(shell_id, command_id, executor_stdin(TWO_PORTS), end=True)
        assert [p["Port"] for p in host.state.alternative_ports] == [8443, 9443]

        # pywinrm reconnects and re-authenticates, but its next message was sealed with the old session:
        # the host says so, encrypted with the new session so that the client can read it
        with pytest.raises(WSManFaultError) as raised:
            protocol.close_shell(shell_id)
        assert "could not be decrypted with this connection's NTLM session" in raised.value.reason

        # a rerun of the task works and can converge
        stdout, _stderr, exit_code = run_executor(ntlm_protocol(host), executor_stdin(TWO_PORTS[2:]))
        assert exit_code == 0 and all(r["ok"] for r in results(stdout))
        assert [p["Port"] for p in host.state.alternative_ports] == [8443, 9443, 10443, 11443]


def test_fail_after_commands_answers_with_a_wsman_fault():
    with EmulatedWindowsHost([USER], fail_after_commands=1, initial_state=allow_local_admins(WindowsState())) as host:
        run_executor(ntlm_protocol(host), executor_stdin([{"command": "Get-SmbClientConfiguration"}]))
        with pytest.raises(WSManFaultError) as raised:
            run_executor(ntlm_protocol(host), executor_stdin([{"command": "Get-SmbClientConfiguration"}]))
        assert "The process terminated unexpectedly." in raised.value.reason
        assert host.counters["executions"] == 1


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the host exited with {process.returncode}: {process.stderr.read() if process.stderr else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"the host did not write {path} within {timeout} s")
        time.sleep(0.05)


def test_command_line_host_serves_https_and_publishes_its_state(tmp_path):
    users = tmp_path / "users"
    users.write_text(f":{USER.name}:{USER.password}\n", encoding="utf-8")
    initial = tmp_path / "initial.json"
    initial.write_text(
        json.dumps({"alternative_ports": [{"TransportType": "Quic", "Port": 7443, "Instances": "Default"}]})
    )
    pidfile, state_file, cert = tmp_path / "host.pid", tmp_path / "state.json", tmp_path / "cert.pem"
    command = [
        sys.executable, "-m", "tests.support.windows_host", "--port", "0", "--users-file", str(users), "--tls",
        "--pidfile", str(pidfile), "--state-file", str(state_file), "--cert-file", str(cert),
        "--initial-state", str(initial), "--basic-auth", "--local-account-token-filter-policy",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        _wait_for(pidfile, process)
        ready = json.loads(process.stdout.readline())
        assert int(pidfile.read_text()) == process.pid == ready["pid"]
        assert read_state_file(state_file)["url"] == ready["url"]

        session = winrm.Session(
            ready["url"], auth=(USER.name, USER.password), transport="basic", ca_trust_path=str(cert)
        )
        protocol = session.protocol
        stdout, _stderr, exit_code = run_executor(
            protocol,
            executor_stdin([{"command": "Get-SmbServerAlternativePort", "properties": ["Port", "Instances"]}]),
        )
        assert exit_code == 0
        assert results(stdout)[0]["output"] == [{"Port": 7443, "Instances": "Default"}]
        snapshot = read_state_file(state_file)
        assert snapshot["counters"]["executions"] == 1
        assert snapshot["calls"][0]["command"] == "Get-SmbServerAlternativePort"
    finally:
        stop_process(process)
    assert process.returncode == 0
    assert not pidfile.exists()


def test_command_line_host_rejects_a_bad_users_file(tmp_path):
    users = tmp_path / "users"
    users.write_text("just-a-name\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.windows_host", "--users-file", str(users)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert f"{users}:1: expected DOMAIN:user:password" in done.stderr
