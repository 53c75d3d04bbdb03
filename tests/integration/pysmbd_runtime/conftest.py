"""A real pysmbd process (the installed ``pysmbd`` command) on free loopback ports, and SMB clients for it.

``pysmbd_server(port_count=2, server="max_connections = 3")`` writes a config, a users file and a share under ``tmp_path``, starts
``pysmbd serve`` and waits until its status file shows it listening. Every process is stopped by a
finalizer. smbclient and smbprotocol are the peers; a missing one fails the test with the package name.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

import pytest
from pysmbd_runtime_helpers import PASSWORD, USER, run_pysmbd

from tests.support.net import free_tcp_ports
from tests.support.peers import pysmbd_users_line, serve_pysmbd, stop_process, wait_until_running
from tests.support.smb_session import SmbSession


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
        self.process = serve_pysmbd(self.config, self.log)
        wait_until_running(self.process, self.config, self.log)

    def status_json(self) -> dict:
        done = run_pysmbd("status", "--config", str(self.config), "--json")
        return json.loads(done.stdout)

    def reload(self) -> subprocess.CompletedProcess:
        return run_pysmbd("reload", "--config", str(self.config), "--timeout", "20")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


@pytest.fixture
def pysmbd_server(tmp_path: Path) -> Callable[..., PysmbdServer]:
    """Factory: ``pysmbd_server(port_count=2, server="max_connections = 3")`` starts one server."""
    started: List[PysmbdServer] = []

    def start(port_count: int = 1, *, server: str = "", shares: str = "") -> PysmbdServer:
        root = tmp_path / f"pysmbd{len(started)}"
        share = root / "share"
        share.mkdir(parents=True)
        (root / "users").write_text(pysmbd_users_line(USER, PASSWORD))
        instance = PysmbdServer(root=root, config=root / "pysmbd.toml", share=share, ports=[])
        instance.write_config(free_tcp_ports(port_count), server=server, shares=shares)
        started.append(instance)
        instance.start()
        return instance

    yield start
    for instance in started:
        instance.stop()


@pytest.fixture
def smb_sessions():
    """Factory for SmbSession objects (as USER by default) that are all disconnected at the end."""
    opened: List[SmbSession] = []

    def open_session(port: int, *, user: str = USER, password: str = PASSWORD, **kwargs) -> SmbSession:
        session = SmbSession(port, user, password, **kwargs)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()
