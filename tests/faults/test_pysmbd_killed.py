"""``kill -9`` of pysmbd in the middle of a converge: the run fails naming pysmbd, and the rerun converges.

The converge is the demo's (the pysmbd role, then the entry role) on a private work directory and free ports,
with pysmbd installed where the role installs it. pysmbd is killed with SIGKILL either between the two roles or
while server_ports reloads it (a wrapper around the pysmbd command kills the server first, as a crash at that
moment would). Either way the play must fail with a message that names pysmbd and says it is not running,
never claim that the old listeners keep serving, and never report success. The next, fault-free run must end in
the state a fault-free converge reaches: pysmbd running on exactly the new ports, which answer SMB.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import time
from pathlib import Path

import pytest

from tests.secrets.secret_search import distinctive_password
from tests.support.ansible_run import PlayRun, run_playbook
from tests.support.net import free_tcp_ports
from tests.support.peers import process_alive
from tests.support.smbclient_cli import answers_smb

PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "converge.yml"
INSTALLED_PYSMBD = "/opt/pysmbd/venv/bin/pysmbd"  # the role's default pysmbd_venv

pytestmark = pytest.mark.slow


def converge(work: Path, variables: dict, fault: str = "none", name: str = "run") -> PlayRun:
    extra = work / f"{name}.vars.json"
    extra.write_text(json.dumps(dict(variables, fault_kill=fault, ansible_python_interpreter=sys.executable)))
    playbook = work / f"{name}.yml"
    playbook.write_text(PLAYBOOK.read_text())  # a copy, so each run's results file lands in the work directory
    return run_playbook(playbook, "localhost,", "-c", "local", "-e", f"@{extra}", timeout=300)


def running_pid(work: Path) -> int | None:
    try:
        pid = int((work / "run" / "pysmbd.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if process_alive(pid) else None


def write_kill_on_reload_wrapper(work: Path) -> None:
    """A pysmbd command that SIGKILLs the server, waits until it is gone, then runs the real command."""
    wrapper = work / "pysmbd-killed-on-reload"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = reload ]; then\n'
        f'  pid="$(cat {work}/run/pysmbd.pid 2>/dev/null)"\n'
        '  if [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; then\n'
        "    for i in $(seq 100); do\n"
        '      grep -qs "^State:[[:space:]]*[^Z]" "/proc/$pid/status" || break; sleep 0.05\n'
        "    done\n"
        "  fi\n"
        "fi\n"
        f'exec {INSTALLED_PYSMBD} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def failures(run: PlayRun) -> list:
    return [
        (task, result["msg"])
        for task, hosts in run.results.items()
        for result in [hosts.get("localhost", {})]
        if result.get("failed") and not result.get("ignore_errors")
    ]


@pytest.fixture
def converge_work(public_workdir):
    """The work directory of one converge; the pysmbd it started is stopped afterwards."""
    yield public_workdir
    pid = running_pid(public_workdir)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and process_alive(pid):
            time.sleep(0.1)


@pytest.mark.parametrize("fault", ["before_apply", "during_reload"])
def test_pysmbd_killed_mid_converge_fails_naming_pysmbd_and_the_rerun_converges(converge_work, fault):
    work = converge_work
    initial, first, second, third = free_tcp_ports(4)
    variables = {
        "fault_work": str(work),
        "fault_initial_port": initial,
        "fault_password": distinctive_password("Faulty"),
        "fault_ports": [{"transport": "tcp", "port": first}],
    }
    base = converge(work, variables, name="base")
    assert base.returncode == 0, base.stdout[-4000:] + base.stderr[-2000:]
    assert os.access(INSTALLED_PYSMBD, os.X_OK), "the pysmbd role did not install pysmbd where expected"
    write_kill_on_reload_wrapper(work)
    killed_pid = running_pid(work)
    assert killed_pid is not None

    moved = dict(variables, fault_ports=[{"transport": "tcp", "port": second}, {"transport": "tcp", "port": third}])
    faulty = converge(work, moved, fault=fault, name="fault")
    assert faulty.returncode != 0, "the run reported success although pysmbd was killed:\n" + faulty.stdout[-4000:]
    assert not process_alive(killed_pid)
    failed = failures(faulty)
    assert failed, faulty.stdout[-4000:]
    task, message = failed[0]  # the first failure is what the administrator reads first
    assert "pysmbd" in message and "not running" in message, f"{task}: {message}"
    assert "keep serving" not in message, f"{task} claims the old listeners serve, but pysmbd is dead: {message}"
    assert "fatal: [localhost]" in faulty.stdout  # the host is named

    rerun = converge(work, moved, name="rerun")
    assert rerun.returncode == 0, rerun.stdout[-4000:] + rerun.stderr[-2000:]
    assert running_pid(work) is not None
    assert answers_smb(second) and answers_smb(third) and not answers_smb(first)
    again = converge(work, moved, name="again")
    assert again.returncode == 0, again.stdout[-3000:]
    unchanged = again.results["smb.alternative_ports.alternative_ports : Apply the server's ports"]["localhost"]
    assert unchanged["changed"] is False and [e["port"] for e in unchanged["after"]] == sorted([second, third])
