"""Fixtures for the Linux end-to-end tests: a running pysmbd of our own, a process holding a port.

Servers, free ports, peers and localhost plays come from tests/support (pysmbd_server.py, net.py, peers.py,
plays.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.accounts import E2E_PASSWORD, E2E_USER
from tests.support.pysmbd_server import PysmbdServer, prepare_pysmbd, stopped_at_exit


@pytest.fixture
def running_pysmbd(tmp_path):
    """``start(ports, quic=(certificate, private key))``: pysmbd (supervisor mode) on the given TCP ports, with a
    [quic] table when given; stopped afterwards."""
    with stopped_at_exit() as started:

        def start(ports: list, quic: tuple = ()) -> PysmbdServer:
            server = prepare_pysmbd(
                tmp_path, E2E_USER, E2E_PASSWORD, ports, quic_files=quic or None, share_settings="read_only = false"
            )
            started.append(server.start("daemon"))
            return server

        yield start


@pytest.fixture
def port_holder():
    """A process (python) listening on a port (on every address, or on ``address``), as another service would."""
    procs = []

    def hold(port: int, address: str = "0.0.0.0") -> subprocess.Popen:
        code = (
            "import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            f"s.bind(({address!r}, {port})); s.listen(); print('ready', flush=True); sys.stdin.read()"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        procs.append(proc)
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)
