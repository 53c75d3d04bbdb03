"""Plays the end-to-end tests write: tasks run on localhost, server_ports tasks, inventories for emulated hosts.

The tests drive the collection the way an administrator does, through ansible-playbook (run_playbook in
ansible_run.py), so the YAML they write is part of what they check. Kept in one place so every test says
"move this server to these ports" the same way, and a change to the module's options is made once.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Sequence, Tuple

from tests.support.ansible_run import PlayRun, run_playbook
from tests.support.peers import pysmbd_command


def localhost_play(directory: Path, tasks: str, *args: str, name: str = "play.yml", timeout: int = 240) -> PlayRun:
    """Run ``tasks`` (YAML, indented freely) in a play on localhost with the venv's Python.

    ``-c local`` and the venv's interpreter: the modules must import the same pysmbd and libraries as the test.
    """
    playbook = directory / name
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n" + textwrap.indent(textwrap.dedent(tasks), "    ")
    )
    return run_on_localhost(playbook, *args, timeout=timeout)


def run_on_localhost(playbook: Path, *args: str, timeout: int = 240) -> PlayRun:
    """Run a written playbook on localhost over the local connection with the venv's Python."""
    return run_playbook(
        playbook,
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        *args,
        timeout=timeout,
    )


def result_of(run: PlayRun, task_name: str, host: str = "localhost") -> dict:
    """A host's result of a task, whatever role prefix Ansible put before its name (the last run of it)."""
    names = [name for name in run.results if name == task_name or name.endswith(f" : {task_name}")]
    assert names, f"task {task_name!r} did not run:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
    return run.results[names[-1]][host]


def server_ports_task(ports: Sequence[int], *, name: str = "change ports", extra: str = "", **options: object) -> str:
    """A server_ports task (YAML for localhost_play) that leaves the server on exactly the TCP ``ports``.

    ``options`` are the backend's module options, written in the order given (``backend="samba",
    smb_conf=conf``); ``extra`` is one task keyword line, such as ``ignore_errors: true`` when the test
    inspects a failure itself.
    """
    lines = "".join(f"        {key}: {value}\n" for key, value in options.items())
    entries = ", ".join(f"{{transport: tcp, port: {p}}}" for p in ports)
    return f"""
    - name: {name}
      smb.alternative_ports.server_ports:
{lines}        ports: [{entries}]
        exclusive: true
      {extra}
    """


def pysmbd_ports_task(
    config: Path, ports: Sequence[int], *, name: str = "change ports", address: str = "127.0.0.1", extra: str = ""
) -> str:
    """server_ports_task for the pysmbd backend: the server of ``config``, run by this venv's pysmbd,
    listening on ``address``."""
    return server_ports_task(
        ports,
        name=name,
        extra=extra,
        backend="pysmbd",
        config_path=config,
        executable=pysmbd_command(),
        address=address,
    )


def winrm_host_vars(address: Tuple[str, int], user: str, password: str) -> dict:
    """Inventory variables that reach an emulated Windows host (tests/support/windows_host) over WinRM.

    Plain HTTP with NTLM (its message encryption): what EmulatedWindowsHost serves without ``tls``, and what a
    real host's default WinRM listener offers.
    """
    host, port = address
    return {
        "ansible_connection": "winrm",
        "ansible_host": host,
        "ansible_port": port,
        "ansible_user": user,
        "ansible_password": password,
        "ansible_winrm_scheme": "http",
        "ansible_winrm_transport": "ntlm",
    }
