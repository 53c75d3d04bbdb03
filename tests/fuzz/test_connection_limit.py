"""At ``max_connections`` a real pysmbd refuses extra connections cleanly and keeps serving the ones it has.

Small numbers (a limit of 20) so it runs in ``make test``; ``bench/load`` does the same at 1,000.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from smbprotocol.exceptions import SMBConnectionClosed

PYSMBD = str(Path(sys.executable).with_name("pysmbd"))
USER, PASSWORD = "limit", "Limit-Passw0rd"
LIMIT = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def limited_server(tmp_path):
    """pysmbd with max_connections = 20 on a free loopback port; stopped by the finalizer."""
    share = tmp_path / "share"
    share.mkdir()
    users = subprocess.run(
        [PYSMBD, "hash-password", "--user", USER],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert users.returncode == 0, users.stderr
    (tmp_path / "users").write_text(users.stdout)
    port = _free_port()
    config = tmp_path / "pysmbd.toml"
    config.write_text(
        f'[server]\nusers_file = "{tmp_path / "users"}"\nstate_dir = "{tmp_path / "state"}"\n'
        f"max_connections = {LIMIT}\n"
        f'[[listeners]]\naddress = "127.0.0.1"\nport = {port}\n'
        f'[[shares]]\nname = "data"\npath = "{share}"\n'
    )
    log = tmp_path / "pysmbd.log"
    process = subprocess.Popen(
        [PYSMBD, "serve", "--config", str(config), "--log-file", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"pysmbd exited with {process.returncode}: {log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "pysmbd did not listen within 30 s"
                time.sleep(0.05)
        # The readiness probe must be gone before the test fills the server up to its limit.
        assert _counts_settle_at(config, (0, 0)) == (0, 0), "the readiness probe is still counted"
        yield port, config, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


class Client:
    """One smbprotocol connection + NTLM session + tree on "data" (signed)."""

    def __init__(self, port: int) -> None:
        from smbprotocol.connection import Connection
        from smbprotocol.session import Session
        from smbprotocol.tree import TreeConnect

        self.connection = Connection(uuid.uuid4(), "127.0.0.1", port, require_signing=True)
        self.connection.connect(timeout=10)
        self.session = Session(self.connection, USER, PASSWORD, require_encryption=False)
        self.session.connect()
        self.tree = TreeConnect(self.session, r"\\127.0.0.1\data")
        self.tree.connect()

    def round_trip(self, name: str, data: bytes) -> bytes:
        from smbprotocol.open import CreateDisposition, CreateOptions, FilePipePrinterAccessMask, Open, ShareAccess

        handle = Open(self.tree, name)
        handle.create(
            2,  # Impersonation
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
        except Exception:  # already dropped by the server: the assertions say whether that was wrong
            pass


def _counts_settle_at(config: Path, wanted: tuple) -> tuple:
    """(connections, sessions) from ``pysmbd status``; the status file is rewritten shortly after a change."""
    deadline = time.monotonic() + 10
    while True:
        done = subprocess.run(
            [PYSMBD, "status", "--config", str(config), "--json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        status = json.loads(done.stdout)
        counts = (status["connections"], status["sessions"])
        if counts == wanted or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def _refused(port: int) -> bytes:
    """Connect past the limit and send a NEGOTIATE's worth of bytes; return what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
        extra.settimeout(10)
        try:
            extra.sendall(b"\x00\x00\x00\x04\xfeSMB")
            return extra.recv(4096)
        except ConnectionResetError:
            return b""


def test_extra_connections_are_refused_and_existing_sessions_keep_working(limited_server):
    port, config, log = limited_server
    clients = []
    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            clients = list(pool.map(lambda _: Client(port), range(LIMIT)))
        assert _counts_settle_at(config, (LIMIT, LIMIT)) == (LIMIT, LIMIT)

        # Past the limit: accepted and closed at once, no SMB answer, no hang.
        assert [_refused(port) for _attempt in range(5)] == [b""] * 5
        # A real client is told plainly that the socket was closed (smbprotocol's reader thread may close
        # its end first, so the send can also fail with EBADF).
        with pytest.raises((SMBConnectionClosed, OSError)):
            Client(port)
        assert log.read_text().count('"connection_refused"') == 6

        # Every existing session is unharmed.
        for index, client in enumerate(clients):
            payload = f"client {index}".encode() * 100
            assert client.round_trip(f"c{index}.txt", payload) == payload

        # A freed slot is usable again.
        clients.pop().close()
        deadline = time.monotonic() + 10
        while True:
            try:
                clients.append(Client(port))
                break
            except Exception:
                assert time.monotonic() < deadline, "a freed connection slot was not reused within 10 s"
                time.sleep(0.1)
        assert clients[-1].round_trip("again.txt", b"again") == b"again"
    finally:
        for client in clients:
            client.close()
