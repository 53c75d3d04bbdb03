"""At ``max_connections`` a real pysmbd refuses extra connections cleanly and keeps serving the ones it has.

Small numbers (a limit of 20) so it runs in ``make test``; ``bench/load`` does the same at 1,000.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from smbprotocol.exceptions import SMBConnectionClosed

from tests.support.net import free_port, wait_for_port
from tests.support.peers import pysmbd_status, pysmbd_users_line, serve_pysmbd, stop_process
from tests.support.smb_session import SmbSession

USER, PASSWORD = "limit", "Limit-Passw0rd"
LIMIT = 20


@pytest.fixture
def limited_server(tmp_path):
    """pysmbd with max_connections = 20 on a free loopback port; stopped by the finalizer."""
    share = tmp_path / "share"
    share.mkdir()
    (tmp_path / "users").write_text(pysmbd_users_line(USER, PASSWORD))
    port = free_port()
    config = tmp_path / "pysmbd.toml"
    config.write_text(
        f'[server]\nusers_file = "{tmp_path / "users"}"\nstate_dir = "{tmp_path / "state"}"\n'
        f"max_connections = {LIMIT}\n"
        f'[[listeners]]\naddress = "127.0.0.1"\nport = {port}\n'
        f'[[shares]]\nname = "data"\npath = "{share}"\n'
    )
    log = tmp_path / "pysmbd.log"
    process = serve_pysmbd(config, log)
    try:
        wait_for_port(port, process, 30, log)
        # The readiness probe must be gone before the test fills the server up to its limit.
        assert _counts_settle_at(config, (0, 0)) == (0, 0), "the readiness probe is still counted"
        yield port, config, log
    finally:
        stop_process(process)


def _counts_settle_at(config: Path, wanted: tuple) -> tuple:
    """(connections, sessions) from ``pysmbd status``; the status file is rewritten shortly after a change."""
    deadline = time.monotonic() + 10
    while True:
        status = pysmbd_status(config)
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
            clients = list(pool.map(lambda _: SmbSession(port, USER, PASSWORD), range(LIMIT)))
        assert _counts_settle_at(config, (LIMIT, LIMIT)) == (LIMIT, LIMIT)

        # Past the limit: accepted and closed at once, no SMB answer, no hang.
        assert [_refused(port) for _attempt in range(5)] == [b""] * 5
        # A real client is told plainly that the socket was closed (smbprotocol's reader thread may close
        # its end first, so the send can also fail with EBADF).
        with pytest.raises((SMBConnectionClosed, OSError)):
            SmbSession(port, USER, PASSWORD)
        assert log.read_text().count('"connection_refused"') == 6

        # Every existing session is unharmed.
        for index, client in enumerate(clients):
            payload = f"client {index}".encode() * 100
            assert client.write_and_read(f"c{index}.txt", payload) == payload

        # A freed slot is usable again.
        clients.pop().close()
        deadline = time.monotonic() + 10
        while True:
            try:
                clients.append(SmbSession(port, USER, PASSWORD))
                break
            except Exception:
                assert time.monotonic() < deadline, "a freed connection slot was not reused within 10 s"
                time.sleep(0.1)
        assert clients[-1].write_and_read("again.txt", b"again") == b"again"
    finally:
        for client in clients:
            client.close()
