"""Fixtures for the Linux end-to-end tests: a running pysmbd of our own, a process holding a port.

Free ports, peers and localhost plays come from tests/support (net.py, peers.py, plays.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.peers import pysmbd_command, pysmbd_listening_ports, pysmbd_status

PASSWORD = "Linux-e2e-pa55!"
USER = "tester"


@dataclass
class Pysmbd:
    config: Path
    state_dir: Path
    share: Path

    def status(self) -> dict:
        return pysmbd_status(self.config)

    def listening_ports(self) -> list:
        return pysmbd_listening_ports(self.config)


def gen_cert(directory: Path) -> tuple:
    """A self-signed pair made by ``pysmbd gen-cert``: (certificate, private key, SHA-256 fingerprint)."""
    cert, key = directory / "quic-cert.pem", directory / "quic-key.pem"
    done = subprocess.run(
        [pysmbd_command(), "gen-cert", "--cert", str(cert), "--key", str(key), "--name", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    fingerprint = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("sha256 "))
    return cert, key, fingerprint


def write_config(tmp_path: Path, ports: list, quic: tuple = ()) -> Pysmbd:
    share = tmp_path / "share"
    share.mkdir()
    state_dir = tmp_path / "state"
    nt_hash = subprocess.run(
        [pysmbd_command(), "hash-password"], input=PASSWORD, capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    users = tmp_path / "users"
    users.write_text(f"{USER}:1000:{'X' * 32}:{nt_hash}:[U          ]:LCT-00000000:\n")
    listeners = "".join(f'\n[[listeners]]\ntransport = "tcp"\naddress = "127.0.0.1"\nport = {p}\n' for p in ports)
    config = tmp_path / "pysmbd.toml"
    quic_table = f'\n[quic]\ncertificate = "{quic[0]}"\nprivate_key = "{quic[1]}"\n' if quic else ""
    config.write_text(
        f'[server]\nname = "E2E"\nusers_file = "{users}"\nstate_dir = "{state_dir}"\n{listeners}{quic_table}\n'
        f'[[shares]]\nname = "data"\npath = "{share}"\nread_only = false\n'
    )
    return Pysmbd(config, state_dir, share)


@pytest.fixture
def running_pysmbd(tmp_path):
    """Start pysmbd (supervisor mode) on the given ports; stop it afterwards."""
    started = []

    def start(ports: list, quic: tuple = ()) -> Pysmbd:
        """``quic``: (certificate, private key) for a [quic] table."""
        server = write_config(tmp_path, ports, quic)
        subprocess.run([pysmbd_command(), "serve", "--config", str(server.config), "--daemon"], timeout=60, check=True)
        started.append(server)
        return server

    yield start
    for server in started:
        pidfile = server.state_dir / "pysmbd.pid"
        if pidfile.exists():
            pid = int(pidfile.read_text().strip())
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)


@pytest.fixture
def port_holder():
    """A process (python) listening on a port, as another service would."""
    procs = []

    def hold(port: int) -> subprocess.Popen:
        code = (
            "import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            f"s.bind(('0.0.0.0', {port})); s.listen(); print('ready', flush=True); sys.stdin.read()"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        procs.append(proc)
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)
