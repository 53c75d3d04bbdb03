"""ansible-playbook against the emulated Windows host: what an administrator sees in the play's output."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.accounts import WINDOWS_USER as USER
from tests.support.ansible_run import run_playbook
from tests.support.plays import winrm_host_vars


def write_inventory(tmp_path: Path, host, password: str) -> Path:
    inventory = {"all": {"hosts": {"win1": winrm_host_vars(host.address, USER, password)}}}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory))
    return path


def write_playbook(tmp_path: Path, tasks: list) -> Path:
    path = tmp_path / "play.yml"
    path.write_text(json.dumps([{"name": "Windows", "hosts": "all", "gather_facts": False, "tasks": tasks}]))
    return path


MAPPING_TASK = {
    "name": "Map Z",
    "smb.alternative_ports.client_mapping": {
        "local_path": "Z:",
        "remote_path": "\\\\fs1\\data",
        "tcp_port": 4445,
        "username": "CONTOSO\\svc-files",
        "password": "Map-Pw-never-shown",
    },
}


def test_a_play_maps_a_drive_and_the_second_run_changes_nothing(tmp_path, http_host, password):
    inventory = write_inventory(tmp_path, http_host, password)
    playbook = write_playbook(tmp_path, [MAPPING_TASK])
    first = run_playbook(playbook, inventory, "--diff")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.results["Map Z"]["win1"]["changed"] is True
    assert "Z: -> \\\\fs1\\data over tcp/4445" in first.stdout  # the diff
    second = run_playbook(playbook, inventory)
    assert second.returncode == 0 and second.results["Map Z"]["win1"]["changed"] is False
    assert len(http_host.state.global_mappings) == 1
    assert "Map-Pw-never-shown" not in first.stdout + second.stdout


def test_wrong_password_fails_with_a_clear_message_and_no_traceback(tmp_path, http_host, password):
    inventory = write_inventory(tmp_path, http_host, "not-" + password)
    run = run_playbook(write_playbook(tmp_path, [MAPPING_TASK]), inventory, "-vvv")
    address, port = http_host.address
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"authentication failed for {USER}@{address}:{port}" in run.results["Map Z"]["win1"]["msg"]
    assert "Traceback" not in output
    assert password not in output
    assert http_host.counters["executions"] == 0


def test_tcp_server_port_on_windows_is_refused_before_the_host_is_contacted(tmp_path, http_host, password):
    tasks = [
        {
            "name": "Validate",
            "smb.alternative_ports.validate": {
                "model": {"backend": "windows", "server": {"ports": [{"transport": "tcp", "port": 4445}]}}
            },
            "ignore_errors": True,
        },
        {
            "name": "Apply",
            "smb.alternative_ports.server_ports": {"backend": "windows", "ports": [{"transport": "tcp", "port": 4445}]},
        },
    ]
    run = run_playbook(write_playbook(tmp_path, tasks), write_inventory(tmp_path, http_host, password))
    assert run.results["Validate"]["win1"]["failed"] is True
    validate_msg = run.results["Validate"]["win1"]["msg"]
    assert (
        "server.ports[0]" in validate_msg
        and "TCP and RDMA listening ports cannot be changed on Windows" in validate_msg
    )
    apply_msg = run.results["Apply"]["win1"]["msg"]
    assert (
        "Windows can move only its SMB over QUIC listener; TCP and RDMA listening ports cannot be changed on Windows"
        in apply_msg
    )
    counters = http_host.counters
    assert (counters["shells_created"], counters["commands"]) == (0, 0)
