"""Fixtures for the fault tests: pysmbd servers of our own, a tiny tmpfs that can fill up. Servers, free ports,
peers and localhost plays come from tests/support (pysmbd_server.py, net.py, peers.py, plays.py)."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.pysmbd_server import PysmbdServer, stopped_at_exit


@pytest.fixture
def pysmbd_servers():
    """Start pysmbd servers made by ``prepare_pysmbd``; every one still running is stopped afterwards."""
    with stopped_at_exit() as started:

        def start(server: PysmbdServer) -> PysmbdServer:
            started.append(server.start())
            return server

        yield start


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
