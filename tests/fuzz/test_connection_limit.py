"""At ``max_connections`` a real pysmbd refuses extra connections cleanly and keeps serving the ones it has.

Small numbers (a limit of 20) so it runs in ``make test``; ``bench/load`` does the same at 1,000.
"""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from smbprotocol.exceptions import SMBConnectionClosed

from tests.support.net import free_port
from tests.support.pysmbd_server import prepare_pysmbd, pysmbd_status
from tests.support.smb_session import SmbSession

USER, PASSWORD = "limit", "Limit-Passw0rd"
LIMIT = 20


@pytest.fixture
def limited_server(tmp_path):
    """pysmbd with max_connections = 20 on a free loopback port; stopped by the finalizer."""
    server = prepare_pysmbd(
        tmp_path, USER, PASSWORD, [free_port()], server_settings=f"max_connections = {LIMIT}\nrefused_log_interval = 1"
    )
    server.start()
    try:
        # The server must count nothing before the test fills it up to its limit.
        assert _counts_settle_at(server.config, (0, 0)) == (0, 0), "a connection is counted before any was made"
        yield server.tcp_port, server.config, server.log
    finally:
        server.stop()


def _counts_settle_at(config: Path, wanted: tuple) -> tuple:
    """(connections, sessions) from ``pysmbd status``; the status file is rewritten shortly after a change."""
    deadline = time.monotonic() + 10
    while True:
        status = pysmbd_status(config)
        counts = (status["connections"], status["sessions"])
        if counts == wanted or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def _refusals_logged(log: Path, expected: int) -> tuple:
    """(refusal lines, refusals counted in summary lines) once they add up to ``expected`` or after 15 s."""
    deadline = time.monotonic() + 15
    while True:
        entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        lines = sum(entry["event"] == "connection_refused" for entry in entries)
        summarised = sum(entry["count"] for entry in entries if entry["event"] == "connection_refused_summary")
        if lines + summarised >= expected or time.monotonic() > deadline:
            return lines, summarised
        time.sleep(0.1)


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
        # A line at once, then summaries with counts (one per refused_log_interval): the refusals add up to 6, yet a
        # flood of them cannot flood the log.
        lines, summarised = _refusals_logged(log, 6)
        assert lines + summarised == 6 and lines <= 2

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
