"""The pysmbd role's supervisor-mode stop: it signals the pid of the pidfile only when that pid is pysmbd's.

The pidfile lives in a directory the pysmbd account can write, and the stop runs as root: a pidfile pointing at
another process must not make root kill it.
"""

from __future__ import annotations

import getpass
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.ansible_run import run_playbook


def run_stop(tmp_path: Path, pid: int, config: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    (state / "pysmbd.pid").write_text(f"{pid}\n")
    playbook = tmp_path / "stop.yml"
    playbook.write_text(
        textwrap.dedent(
            f"""\
            - hosts: localhost
              gather_facts: false
              tasks:
                - name: stop
                  ansible.builtin.include_role:
                    name: smb.alternative_ports.pysmbd
                    tasks_from: stop
                  vars:
                    pysmbd_state_dir: {state}
                    pysmbd_user: {getpass.getuser()}
                    pysmbd_config_path: {config}
            """
        )
    )
    run = run_playbook(playbook, "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}")
    assert run.returncode == 0, run.stdout[-3000:]


@pytest.fixture
def process():
    started = []

    def start(*argv: str) -> subprocess.Popen:
        code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_DFL); time.sleep(120)"
        child = subprocess.Popen([sys.executable, "-c", code, *argv])
        started.append(child)
        return child

    yield start
    for child in started:
        child.kill()
        child.wait()


def test_a_pidfile_naming_another_process_signals_nothing(tmp_path, process):
    config = tmp_path / "pysmbd.toml"
    bystander = process("some", "other", "daemon")
    run_stop(tmp_path, bystander.pid, config)
    assert bystander.poll() is None, "a process that is not pysmbd was signalled"


def test_the_pysmbd_of_the_pidfile_is_stopped(tmp_path, process):
    config = tmp_path / "pysmbd.toml"
    server = process("/opt/pysmbd/venv/bin/pysmbd", "serve", "--config", str(config), "--daemon")
    run_stop(tmp_path, server.pid, config)
    assert server.wait(timeout=30) != 0  # ended by SIGTERM
