"""No WinRM password in anything the Windows scenario leaves behind, at -vvv.

The molecule ``windows`` scenario's own playbooks (create, converge, verify, destroy) run with ansible-playbook
against the emulated Windows host they start, in a private ephemeral directory, with a distinctive password
seeded where ``create`` looks for it. Everything written is then searched: the output of every run, Ansible's
log file, the task results a callback receives, the emulated host's log and its state file (its call log).
A dropped-connection run is searched too, since error paths are where secrets usually leak.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.secrets.secret_search import distinctive_password, read_tree, search
from tests.support.ansible_run import PlayRun, run_playbook
from tests.support.plays import winrm_host_vars
from tests.support.windows_host import EmulatedWindowsHost, HostUser
from tests.support.windows_host.state import WindowsState, quic_ready

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "molecule" / "windows"

pytestmark = pytest.mark.slow


def scenario_copy(tmp_path: Path) -> Path:
    """The scenario's playbooks and inventory, copied so the runs write their result files here, not in molecule/."""
    copy = tmp_path / "scenario"
    shutil.copytree(SCENARIO, copy, ignore=shutil.ignore_patterns("*.results.json"))
    return copy


def run(scenario: Path, playbook: str, ephemeral: Path, logs: Path, *args: str) -> PlayRun:
    env = {
        "MOLECULE_EPHEMERAL_DIRECTORY": str(ephemeral),
        "MOLECULE_PROJECT_DIRECTORY": str(REPO),
        "MOLECULE_SCENARIO_DIRECTORY": str(scenario),
        "ANSIBLE_LOG_PATH": str(logs / "ansible.log"),
    }
    done = run_playbook(scenario / playbook, scenario / "inventory" / "hosts.yml", *args, env=env, timeout=240)
    (logs / f"{playbook}.stdout").write_text(done.stdout)
    (logs / f"{playbook}.stderr").write_text(done.stderr)
    (logs / f"{playbook}.results.json").write_text(json.dumps(done.results))
    return done


def test_the_windows_scenario_at_vvv_shows_no_password_anywhere(tmp_path):
    scenario = scenario_copy(tmp_path)
    ephemeral = tmp_path / "ephemeral"
    logs = tmp_path / "logs"
    ephemeral.mkdir()
    logs.mkdir()
    password = distinctive_password("WinRM")
    (ephemeral / "winrm-password").write_text(password)  # create.yml's password lookup reuses this file
    share_password = distinctive_password("Share")
    (ephemeral / "share-password").write_text(share_password)  # the global mappings' credential
    try:
        created = run(scenario, "create.yml", ephemeral, logs, "-vvv")
        assert created.returncode == 0, created.stdout[-3000:] + created.stderr[-2000:]
        converged = run(scenario, "converge.yml", ephemeral, logs, "-vvv", "--diff")
        assert converged.returncode == 0, converged.stdout[-3000:] + converged.stderr[-2000:]
        assert "changed=0" not in converged.stdout  # the run did real work over WinRM
        verified = run(scenario, "verify.yml", ephemeral, logs, "-vvv")
        assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-2000:]
        host_state = json.loads((ephemeral / "host-state.json").read_text())
        assert host_state["counters"]["executions"] > 0
    finally:
        run(scenario, "destroy.yml", ephemeral, logs, "-vvv")
    # Everything written except the two inputs that must hold the password (created by us and by create.yml).
    # (The scenario's playbooks and inventory are inputs too; the result files the runs wrote beside them are not.)
    texts = read_tree(
        tmp_path,
        skip=[
            ephemeral / "winrm-password",
            ephemeral / "share-password",
            ephemeral / "users",
            *scenario.rglob("*.yml"),
        ],
    )
    assert any(name.endswith("ansible.log") for name in texts) and any(name.endswith("host.log") for name in texts)
    assert sum(len(content) for content in texts.values()) > 100_000  # -vvv output really was captured
    findings = search({"WinRM password": password, "mapping password": share_password}, texts)
    assert not findings, "\n".join(map(str, findings))


def test_a_connection_dropped_mid_apply_at_vvv_shows_no_password(tmp_path):
    password = distinctive_password("WinDrop")
    host = EmulatedWindowsHost(
        [HostUser("Administrator", password)],
        drop_connection_during_command=2,
        initial_state=quic_ready(WindowsState()),
    ).start()
    try:
        inventory = tmp_path / "inventory.json"
        inventory.write_text(
            json.dumps({"all": {"hosts": {"win1": winrm_host_vars(host.address, "Administrator", password)}}})
        )
        playbook = tmp_path / "apply.yml"
        playbook.write_text(
            json.dumps(
                [
                    {
                        "hosts": "all",
                        "gather_facts": False,
                        "tasks": [
                            {
                                "name": "apply",
                                "smb.alternative_ports.server_ports": {
                                    "backend": "windows",
                                    "ports": [{"transport": "quic", "port": 8443}, {"transport": "quic", "port": 9443}],
                                },
                            }
                        ],
                    }
                ]
            )
        )
        done = run_playbook(playbook, inventory, "-vvv", env={"ANSIBLE_LOG_PATH": str(tmp_path / "ansible.log")})
    finally:
        host.stop()
    assert done.returncode != 0 and "broke while a command ran" in done.results["apply"]["win1"]["msg"]
    texts = {"stdout": done.stdout.encode(), "stderr": done.stderr.encode()}
    texts.update(read_tree(tmp_path, skip=[inventory]))
    findings = search({"WinRM password": password}, texts)
    assert not findings, "\n".join(map(str, findings))
