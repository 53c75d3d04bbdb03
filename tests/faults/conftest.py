"""Fixtures for the fault tests: a pysmbd of our own, a tiny tmpfs that can fill up, a work directory others can
traverse. Free ports, peers and localhost plays come from tests/support (net.py, peers.py, plays.py)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest

from tests.support.peers import (
    process_alive,
    pysmbd_command,
    pysmbd_listening_ports,
    pysmbd_status,
    pysmbd_users_line,
    require_tool,
)

USER = "faulty"


def answers_smb(port: int) -> bool:
    """Samba's smbclient got an SMB answer there (even a refused anonymous login is an answer)."""
    done = subprocess.run(
        [require_tool("smbclient", "smbclient"), "-L", "//127.0.0.1", "-p", str(port), "-N", "-t", "5", "-m", "SMB3"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = done.stdout + done.stderr
    return "do_connect: Connection to" not in output and "NT_STATUS_CONNECTION_REFUSED" not in output


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
        return pysmbd_status(self.config)

    def listening_ports(self) -> List[int]:
        return pysmbd_listening_ports(self.config)

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
    users = root / "users"
    users.write_text(pysmbd_users_line(USER, password))
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
