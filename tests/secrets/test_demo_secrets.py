"""No SMB password (nor its NT hash) in anything the demo leaves behind, at -vvv.

playbooks/demo.yml itself runs twice (deploy, then the second run) with its files moved to a private work
directory and its ports to free ones (extra vars), its user's password seeded where the demo's password lookup
reads it, and verification raised to level ``session`` so the password also travels through verify.
Everything written is then searched: the runs' output, Ansible's log file, the task results a callback receives,
pysmbd's log and status file, and verify's JSON and JUnit reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.secrets.secret_search import distinctive_password, read_tree, search, tasks_holding
from tests.support.ansible_run import run_playbook
from tests.support.net import free_tcp_ports
from tests.support.peers import process_alive, pysmbd_command

DEMO = Path(__file__).resolve().parents[2] / "playbooks" / "demo.yml"

pytestmark = pytest.mark.slow


@pytest.fixture
def demo_work(public_workdir):
    """The demo's private directory; the pysmbd the demo started there is stopped afterwards."""
    yield public_workdir
    pidfile = public_workdir / "run" / "pysmbd.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    if process_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and process_alive(pid):
            time.sleep(0.1)


def demo_variables(work: Path) -> dict:
    initial, first, second = free_tcp_ports(3)
    password_lookup = "{{ lookup('ansible.builtin.file', demo_state_dir ~ '/demo-password') }}"
    return {
        "ansible_python_interpreter": sys.executable,
        "demo_state_dir": str(work / "demo"),
        "pysmbd_config_dir": str(work / "etc"),
        "pysmbd_state_dir": str(work / "run"),
        "pysmbd_systemd_unit_dir": str(work / "systemd"),
        "pysmbd_listeners": [{"transport": "tcp", "address": "127.0.0.1", "port": initial}],
        "pysmbd_shares": [
            {"name": "data", "path": str(work / "share"), "read_only": False, "guest_ok": False, "encrypt": False}
        ],
        "smb_alternative_ports": {
            "backend": "pysmbd",
            "server": {
                "ports": [{"transport": "tcp", "port": first}, {"transport": "tcp", "port": second}],
                "exclusive": True,
                "standard_ports": "close",
                "firewall": False,
            },
            "verify": {
                "from": "controller",
                "level": "session",
                "share": "data",
                "timeout": 5,
                "credentials": {"username": "demo", "password": password_lookup},
                "report": {
                    "json": str(work / "reports" / "verify.json"),
                    "junit": str(work / "reports" / "verify.xml"),
                },
            },
        },
    }


def test_the_demo_at_vvv_shows_no_password_and_no_nt_hash_anywhere(demo_work):
    work = demo_work
    (work / "demo").mkdir()
    (work / "reports").mkdir()
    password = distinctive_password("Demo")
    (work / "demo" / "demo-password").write_text(password)
    nt_hash = subprocess.run(
        [pysmbd_command(), "hash-password"], input=password, capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    extra = work / "demo-vars.json"
    extra.write_text(json.dumps(demo_variables(work)))
    playbook = work / "demo.yml"
    playbook.write_text(DEMO.read_text())  # a copy, so the results file lands here and not in playbooks/
    env = {"ANSIBLE_LOG_PATH": str(work / "logs" / "ansible.log")}
    (work / "logs").mkdir()
    runs = []
    for attempt in ("first", "second"):
        done = run_playbook(playbook, "localhost,", "-c", "local", "-e", f"@{extra}", "-vvv", "--diff", env=env)
        (work / "logs" / f"{attempt}.stdout").write_text(done.stdout)
        (work / "logs" / f"{attempt}.stderr").write_text(done.stderr)
        (work / "logs" / f"{attempt}.results.json").write_text(json.dumps(done.results))
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        runs.append(done)
    report = json.loads((work / "reports" / "verify.json").read_text())
    assert report  # verify logged in with the password and wrote its report
    assert (work / "run" / "pysmbd.log").stat().st_size > 0

    inputs = [work / "demo" / "demo-password", extra]
    texts = read_tree(work, skip=inputs)
    assert sum(len(content) for content in texts.values()) > 100_000  # -vvv output really was captured
    findings = search({"demo password": password}, texts)
    users_file = work / "etc" / "users"  # must hold the NT hash, and nothing else may
    findings += search({"demo NT hash": nt_hash}, {k: v for k, v in texts.items() if k != str(users_file)})
    findings += search({"demo NT hash": nt_hash.lower()}, {k: v for k, v in texts.items() if k != str(users_file)})
    assert nt_hash in users_file.read_text()
    leaking_tasks = [t for run in runs for t in tasks_holding(run.results, password)]
    assert not findings, "tasks whose result holds the password: %s\n%s" % (
        leaking_tasks,
        "\n".join(map(str, findings)),
    )
