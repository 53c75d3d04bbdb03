"""A real pysmbd process (the installed ``pysmbd`` command) on free loopback ports, and SMB clients for it.

``pysmbd_server(port_count=2, server="max_connections = 3")`` writes a config, a users file and a share under ``tmp_path``, starts
``pysmbd serve`` and waits until its status file shows it listening. Every process is stopped by a
finalizer. smbclient and smbprotocol are the peers; a missing one fails the test with the package name.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

import pytest
from pysmbd_runtime_helpers import PASSWORD, PYSMBD, USER, free_ports, run_pysmbd


@dataclass
class PysmbdServer:
    root: Path
    config: Path
    share: Path
    ports: List[int]
    process: Optional[subprocess.Popen] = None

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def log(self) -> Path:
        return self.root / "pysmbd.log"

    def write_config(self, ports: List[int], *, server: str = "", shares: str = "") -> None:
        listeners = "".join(f'[[listeners]]\naddress = "127.0.0.1"\nport = {port}\n' for port in ports)
        self.config.write_text(
            "[server]\n"
            f'users_file = "{self.root / "users"}"\n'
            f'state_dir = "{self.state_dir}"\n'
            f"{server}\n"
            f"{listeners}"
            f'[[shares]]\nname = "data"\npath = "{self.share}"\ncomment = "Team data"\n'
            f"{shares}"
        )
        self.ports = ports

    def start(self) -> None:
        self.process = subprocess.Popen(
            [PYSMBD, "serve", "--config", str(self.config), "--log-file", str(self.log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"pysmbd exited with {self.process.returncode}: {self.process.stderr.read()}")
            if self.status_json().get("running"):
                return
            time.sleep(0.05)
        pytest.fail(f"pysmbd did not start within 30 s; log:\n{self.log.read_text() if self.log.exists() else ''}")

    def status_json(self) -> dict:
        done = run_pysmbd("status", "--config", str(self.config), "--json")
        return json.loads(done.stdout)

    def reload(self) -> subprocess.CompletedProcess:
        return run_pysmbd("reload", "--config", str(self.config), "--timeout", "20")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@pytest.fixture
def pysmbd_server(tmp_path: Path) -> Callable[..., PysmbdServer]:
    """Factory: ``pysmbd_server(port_count=2, server="max_connections = 3")`` starts one server."""
    started: List[PysmbdServer] = []

    def start(port_count: int = 1, *, server: str = "", shares: str = "") -> PysmbdServer:
        root = tmp_path / f"pysmbd{len(started)}"
        share = root / "share"
        share.mkdir(parents=True)
        users = run_pysmbd("hash-password", "--user", USER, stdin=PASSWORD + "\n")
        assert users.returncode == 0, users.stderr
        (root / "users").write_text(users.stdout)
        instance = PysmbdServer(root=root, config=root / "pysmbd.toml", share=share, ports=[])
        instance.write_config(free_ports(port_count), server=server, shares=shares)
        started.append(instance)
        instance.start()
        return instance

    yield start
    for instance in started:
        instance.stop()


class SMBSession:
    """One smbprotocol connection + session + tree on a share ("data" by default; signing, no encryption)."""

    def __init__(
        self, port: int, *, user: str = USER, password: str = PASSWORD, encrypt: bool = False, share: str = "data"
    ) -> None:
        from smbprotocol.connection import Connection
        from smbprotocol.session import Session
        from smbprotocol.tree import TreeConnect

        self.connection = Connection(uuid.uuid4(), "127.0.0.1", port, require_signing=True)
        self.connection.connect(timeout=10)
        try:
            self.session = Session(self.connection, user, password, require_encryption=encrypt)
            self.session.connect()
            self.tree = TreeConnect(self.session, rf"\\127.0.0.1\{share}")
            self.tree.connect()
        except BaseException:
            self.connection.disconnect()
            raise

    def write_and_read(self, name: str, data: bytes) -> bytes:
        from smbprotocol.open import (
            CreateDisposition,
            CreateOptions,
            FilePipePrinterAccessMask,
            ImpersonationLevel,
            Open,
            ShareAccess,
        )

        handle = Open(self.tree, name)
        handle.create(
            ImpersonationLevel.Impersonation,
            FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
            0,
            ShareAccess.FILE_SHARE_READ,
            CreateDisposition.FILE_OVERWRITE_IF,
            CreateOptions.FILE_NON_DIRECTORY_FILE,
        )
        try:
            handle.write(data, 0)
            return handle.read(0, len(data))
        finally:
            handle.close()

    def close(self) -> None:
        try:
            self.connection.disconnect()
        except Exception:  # the server may already have dropped us; nothing to clean up then
            pass


@pytest.fixture
def smb_sessions():
    """Factory for SMBSession objects that are all disconnected at the end."""
    opened: List[SMBSession] = []

    def open_session(port: int, **kwargs) -> SMBSession:
        session = SMBSession(port, **kwargs)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()
