"""Fixtures for the fault tests: a pysmbd of our own, a tiny tmpfs that can fill up, playbooks on localhost."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

import pytest

from tests.support.ansible_run import PlayRun, run_playbook

USER = "faulty"


def free_tcp_ports(count: int) -> List[int]:
    """Distinct ports the kernel says are free now (all bound at once, then released)."""
    socks = [socket.socket() for _index in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def pysmbd_command() -> str:
    found = shutil.which("pysmbd") or str(Path(sys.executable).parent / "pysmbd")
    assert os.access(found, os.X_OK), "pysmbd is not installed in the venv: run `make venv`"
    return found


def answers_smb(port: int) -> bool:
    """Samba's smbclient got an SMB answer there (even a refused anonymous login is an answer)."""
    assert shutil.which("smbclient"), "smbclient is missing: apt-get install smbclient"
    done = subprocess.run(
        ["smbclient", "-L", "//127.0.0.1", "-p", str(port), "-N", "-t", "5", "-m", "SMB3"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = done.stdout + done.stderr
    return "do_connect: Connection to" not in output and "NT_STATUS_CONNECTION_REFUSED" not in output


def process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@dataclass
class Pysmbd:
    """One pysmbd: its config may live on another filesystem than its state directory."""

    config: Path
    state_dir: Path
    password: str

    def pid(self) -> Optional[int]:
        try:
            return int((self.state_dir / "pysmbd.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def status(self) -> dict:
        done = subprocess.run(
            [pysmbd_command(), "status", "--config", str(self.config), "--json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return json.loads(done.stdout)

    def listening_ports(self) -> List[int]:
        return sorted(x["port"] for x in self.status()["listeners"] if x["state"] == "listening")

    def start(self) -> None:
        subprocess.run([pysmbd_command(), "serve", "--config", str(self.config), "--daemon"], timeout=60, check=True)

    def stop(self) -> None:
        pid = self.pid()
        if pid is None or not process_alive(pid):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and process_alive(pid):
            time.sleep(0.05)
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


def write_pysmbd_files(root: Path, config_dir: Path, ports: List[int], password: str) -> Pysmbd:
    """Users file, share and state directory under ``root``; the config itself in ``config_dir``."""
    share, state_dir = root / "share", root / "state"
    share.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    line = subprocess.run(
        [pysmbd_command(), "hash-password", "--user", USER],
        input=password,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    users = root / "users"
    users.write_text(line)
    listeners = "".join(f'\n[[listeners]]\ntransport = "tcp"\naddress = "127.0.0.1"\nport = {p}\n' for p in ports)
    config = config_dir / "pysmbd.toml"
    config.write_text(
        f'# pysmbd for a fault test\n[server]\nname = "FAULTS"\nusers_file = "{users}"\nstate_dir = "{state_dir}"\n'
        f'{listeners}\n[[shares]]\nname = "data"\npath = "{share}"\nread_only = false\n'
    )
    return Pysmbd(config, state_dir, password)


@pytest.fixture
def pysmbd_servers():
    """Start pysmbd servers (supervisor mode); every one still running is stopped afterwards."""
    started: List[Pysmbd] = []

    def start(server: Pysmbd) -> Pysmbd:
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs mounted by the test (we are root); unmounted afterwards, lazily if something holds it."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"cannot mount a tmpfs (the fault tests run as root): {done.stderr.strip()}"
    yield mount_point
    if subprocess.run(["umount", str(mount_point)], capture_output=True, timeout=30, check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30, check=False)


def fill_to_the_brim(directory: Path) -> Path:
    """Write a file until the filesystem refuses one more byte."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for chunk in (b"\0" * 4096, b"\0"):
            while True:
                try:
                    handle.write(chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    probe = directory / "probe"
    with pytest.raises(OSError, match="No space left"):
        probe.write_bytes(b"x" * 4096)
    probe.unlink(missing_ok=True)
    return filler


@pytest.fixture
def public_workdir():
    """A work directory others may traverse (the pysmbd role runs the server as its own account)."""
    path = Path(tempfile.mkdtemp(prefix="smb-ap-faults-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def localhost_play(directory: Path, tasks: str, *args: str, name: str = "play.yml", timeout: int = 240) -> PlayRun:
    """Run ``tasks`` (YAML, indented freely) in a play on localhost with the venv's Python."""
    playbook = directory / name
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n" + textwrap.indent(textwrap.dedent(tasks), "    ")
    )
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


ServerPortsTask = Callable[..., str]


def server_ports_task(server: Pysmbd, ports: List[int], name: str = "change ports") -> str:
    entries = ", ".join(f"{{transport: tcp, port: {p}}}" for p in ports)
    return f"""
    - name: {name}
      smb.alternative_ports.server_ports:
        backend: pysmbd
        config_path: {server.config}
        executable: {pysmbd_command()}
        address: 127.0.0.1
        ports: [{entries}]
        exclusive: true
      ignore_errors: true
    """
