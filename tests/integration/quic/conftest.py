"""Real SMB over QUIC peers: pysmbd with a QUIC listener, and QUIC servers that are not SMB.

``quic_pysmbd`` starts pysmbd (through ``quic_server_runner.py``, which registers the QUIC adapter in
pysmbd's own listener manager) with one TCP and one QUIC listener on free loopback ports, a self-signed
certificate made by ``pysmbd.server.certs``, a users file made by ``pysmbd hash-password`` and one share.
The process is stopped by a finalizer.
"""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import pytest

from pysmbd.server.certs import GeneratedCertificate, generate_self_signed
from tests.support.net import free_port
from tests.support.peers import pysmbd_users_line, stop_process

USER, PASSWORD = "quicuser", "Quic-Secret-42"
RUNNER = Path(__file__).with_name("quic_server_runner.py")
PYSMBD = str(Path(sys.executable).with_name("pysmbd"))
START_TIMEOUT = 30.0


@dataclass
class QuicPysmbd:
    root: Path
    share: Path
    tcp_port: int
    quic_port: int
    certificate: GeneratedCertificate
    process: subprocess.Popen
    server_settings: str = ""
    quic_settings: str = ""
    share_settings: str = ""
    """Lines added to share "data" (``read_only = true``, say), for a reload that changes the share."""

    @property
    def config(self) -> Path:
        return self.root / "pysmbd.toml"

    def write_config(self, tcp_port: int, quic_port: int) -> None:
        self.config.write_text(
            "[server]\n"
            f'users_file = "{self.root / "users"}"\n'
            f'state_dir = "{self.root / "state"}"\n'
            f"{self.server_settings}\n"
            f'[[listeners]]\ntransport = "tcp"\naddress = "127.0.0.1"\nport = {tcp_port}\n'
            f'[[listeners]]\ntransport = "quic"\naddress = "127.0.0.1"\nport = {quic_port}\n'
            f'[quic]\ncertificate = "{self.certificate.certificate}"\nprivate_key = "{self.certificate.private_key}"\n'
            f"{self.quic_settings}\n"
            f'[[shares]]\nname = "data"\npath = "{self.share}"\n'
            f"{self.share_settings}\n"
        )
        self.tcp_port, self.quic_port = tcp_port, quic_port

    def read_line(self, timeout: float) -> str:
        readable = select.select([self.process.stdout], [], [], timeout)[0]
        return self.process.stdout.readline().strip() if readable else ""

    def reload(self) -> str:
        """SIGHUP the server; return its ``RELOADED ...`` line."""
        self.process.send_signal(signal.SIGHUP)
        return self.read_line(START_TIMEOUT)

    def log_tail(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        stop_process(self.process)


def start_quic_pysmbd(root: Path, *, server_settings: str = "", quic_settings: str = "") -> QuicPysmbd:
    share = root / "share"
    share.mkdir(parents=True)
    (root / "users").write_text(pysmbd_users_line(USER, PASSWORD))
    certificate = generate_self_signed(root / "cert.pem", root / "key.pem", ["localhost", "127.0.0.1"])
    tcp_port, quic_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    log = open(root / "server.log", "w")  # the child keeps its own copy of the descriptor
    server = QuicPysmbd(
        root,
        share,
        tcp_port,
        quic_port,
        certificate,
        None,
        server_settings,
        quic_settings,  # type: ignore[arg-type]
    )
    server.write_config(tcp_port, quic_port)
    server.process = subprocess.Popen(
        [sys.executable, str(RUNNER), "--config", str(server.config)], stdout=subprocess.PIPE, stderr=log, text=True
    )
    log.close()
    line = server.read_line(START_TIMEOUT)
    if line != "READY":
        server.stop()
        pytest.fail(f"pysmbd with a QUIC listener did not start ({line or 'no answer in 30 s'}):\n{server.log_tail()}")
    return server


@pytest.fixture
def quic_pysmbd(tmp_path: Path) -> Iterator[QuicPysmbd]:
    server = start_quic_pysmbd(tmp_path / "pysmbd")
    yield server
    server.stop()


@pytest.fixture
def other_ca(tmp_path: Path) -> GeneratedCertificate:
    """A certificate that did not sign the server's: trusting only it must fail the handshake."""
    return generate_self_signed(tmp_path / "other" / "ca.pem", tmp_path / "other" / "ca-key.pem", ["localhost"])


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


__all__: List[str] = ["PASSWORD", "USER", "QuicPysmbd", "free_port", "start_quic_pysmbd", "wait_until"]
