"""Admission against the installed pysmbd: deadlines, the per-address cap, login delays and quiet refusal logs.

Hostile clients are raw sockets bound to their own loopback address (127.0.0.x: every one reaches a server on
127.0.0.1, and the server sees each as a different client); the user with credentials is smbprotocol.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

import pytest
import spnego

from tests.unit.pysmbd_core.wire_helpers import framed, negotiate_request, session_setup_request

pytestmark = pytest.mark.timeout(180)

STATUS_LOGON_FAILURE = 0xC000006D


def log_events(log: Path, event: str) -> List[dict]:
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [entry for entry in entries if entry.get("event") == event]


def connect_from(source: str, port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))


def read_frame(sock: socket.socket) -> bytes:
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed by the server")
            data += chunk
        return data

    return exactly(struct.unpack(">I", exactly(4))[0])


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_frame_dripped_a_byte_at_a_time_is_cut_off_at_frame_timeout(pysmbd_server, smb_sessions):
    server = pysmbd_server(server="frame_timeout = 2\nlogin_timeout = 600")
    (port,) = server.ports
    with connect_from("127.0.0.1", port) as drip:
        drip.sendall(b"\x00\x00\x01\x00")  # a 256-byte frame: at a byte a second it would take four minutes
        drip.settimeout(1.0)
        cut = False
        for _second in range(60):
            try:
                drip.send(b"\xfe")
            except OSError:
                cut = True
                break
            try:
                if drip.recv(1) == b"":
                    cut = True
                    break
            except socket.timeout:
                continue
            except ConnectionResetError:
                cut = True
                break
        assert cut, "a connection dripping one byte a second was still open after 60 s"
    assert log_events(server.log, "connection_frame_timeout")
    assert smb_sessions(port).write_and_read("after.txt", b"ok") == b"ok"


def test_a_connection_without_a_session_is_closed_at_login_timeout_and_a_session_stays(pysmbd_server, smb_sessions):
    server = pysmbd_server(server="login_timeout = 1")
    (port,) = server.ports
    user = smb_sessions(port)
    with connect_from("127.0.0.1", port) as idle:
        idle.settimeout(30)
        assert closed_by_server(idle)
    assert user.write_and_read("still.txt", b"here") == b"here"  # logged in before the deadline: kept
    (line,) = log_events(server.log, "connection_login_timeout")
    assert "login_timeout (1 s)" in line["reason"]


def test_a_session_outlives_login_timeout_and_is_then_closed_when_idle(pysmbd_server, smb_sessions):
    # One timer per connection carries both deadlines: the login one must end with the session, the idle one not.
    server = pysmbd_server(server="login_timeout = 1\nidle_timeout = 3")
    (port,) = server.ports
    user = smb_sessions(port)
    time.sleep(2)  # past login_timeout, short of idle_timeout
    assert user.write_and_read("kept.txt", b"kept") == b"kept"
    deadline = time.monotonic() + 30
    while not log_events(server.log, "connection_idle_closed") and time.monotonic() < deadline:
        time.sleep(0.5)
    (closed,) = log_events(server.log, "connection_idle_closed")
    assert closed["idle_seconds"] >= 3
    assert not log_events(server.log, "connection_login_timeout")


_FLOOD = """
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
port, count, addresses = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
flood = [
    socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(f"127.0.1.{1 + n % addresses}", 0))
    for n in range(count)
]
print("connected", flush=True)
sys.stdin.read()  # hold them until the test closes our stdin
"""


def test_two_thousand_connections_from_many_addresses_leave_room_for_a_user(pysmbd_server, smb_sessions):
    """Issue 14's acceptance with the per-address cap and the deadlines on: 2,000 connections that never log in,
    from 40 addresses (50 each, under the cap of 64), then a user with credentials logs in and works."""
    server = pysmbd_server(server="max_connections = 1000\nmax_connections_per_address = 64")  # default deadlines
    (port,) = server.ports
    flood = subprocess.Popen(
        [sys.executable, "-c", _FLOOD, str(port), "2000", "40"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert flood.stdout is not None and flood.stdout.readline().strip() == "connected"
        late = smb_sessions(port)
        assert late.write_and_read("late.txt", b"in") == b"in"
        assert server.status()["connections"] <= 1000
    finally:
        flood.communicate("", timeout=60)
    # 1,001 evictions (1,000 flood connections past the limit, one for the user), but one line per address at once
    evicted = log_events(server.log, "connection_evicted")
    assert 1 <= len(evicted) <= 40


def test_one_address_at_its_cap_cannot_take_another_addresses_slot(pysmbd_server, smb_sessions):
    server = pysmbd_server(server="max_connections_per_address = 5\nlogin_timeout = 600")
    (port,) = server.ports
    user = smb_sessions(port)  # from 127.0.0.1
    hogs = [connect_from("127.0.0.9", port) for _hog in range(30)]
    try:
        for hog in hogs:
            hog.setblocking(False)
        closed: set = set()
        for _wait in range(200):  # until the server has accepted them all (and evicted the oldest)
            closed |= {index for index, hog in enumerate(hogs) if index not in closed and _closed_now(hog)}
            if len(closed) >= 25:
                break
            time.sleep(0.05)
        assert closed == set(range(25))  # the 25 oldest made room; the newest five are kept
        assert user.write_and_read("mine.txt", b"kept") == b"kept"
    finally:
        for hog in hogs:
            hog.close()


def _closed_now(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def _guess(port: int, source: str, attempts: int, answered: list) -> None:
    """Wrong passwords through real NTLM exchanges from ``source``; records each LOGON_FAILURE as it comes."""
    with connect_from(source, port) as sock:
        sock.sendall(framed(negotiate_request()))
        read_frame(sock)
        message_id = 1
        for _attempt in range(attempts):
            client = spnego.client("alice", "not-the-password", protocol="ntlm")
            sock.sendall(framed(session_setup_request(message_id, 0, client.step())))
            challenge = read_frame(sock)
            session_id = struct.unpack_from("<Q", challenge, 40)[0]
            offset, length = struct.unpack_from("<HH", challenge, 64 + 4)
            token = client.step(challenge[offset : offset + length])
            sock.sendall(framed(session_setup_request(message_id + 1, session_id, token)))
            status = struct.unpack_from("<I", read_frame(sock), 8)[0]
            answered.append(("guess", status))
            message_id += 2


def test_password_guessing_slows_down_while_a_user_elsewhere_logs_in_at_once(pysmbd_server, smb_sessions):
    server = pysmbd_server(server="login_failure_limit = 2\nlogin_delay_max = 4\nlogin_timeout = 600")
    (port,) = server.ports
    order: list = []
    guesser = threading.Thread(target=_guess, args=(port, "127.0.0.2", 5, order))
    guesser.start()
    try:
        for _wait in range(300):  # the first two failures are answered at once; then the delays start
            if len(order) >= 2:
                break
            time.sleep(0.05)
        assert len(order) >= 2
        user = smb_sessions(port)  # from 127.0.0.1, with the right password
        assert user.write_and_read("work.txt", b"done") == b"done"
        order.append(("user", 0))
    finally:
        guesser.join(timeout=60)
    # the guesses still waiting (1 + 2 + 4 s of delays) finish after the user, whose login was not delayed
    assert order.index(("user", 0)) < 5
    assert [entry for entry in order if entry[0] == "guess"] == [("guess", STATUS_LOGON_FAILURE)] * 5
    assert len(log_events(server.log, "login_failed")) == 5
    delayed = log_events(server.log, "login_delayed")
    assert delayed and delayed[0]["peer"].startswith("127.0.0.2:") and delayed[0]["seconds"] == 1


def test_refused_connections_write_one_line_and_a_summary_not_one_line_each(pysmbd_server, smb_sessions):
    server = pysmbd_server(server="max_connections_per_address = 1\nrefused_log_interval = 2\nlogin_timeout = 600")
    (port,) = server.ports
    holder = smb_sessions(port)  # 127.0.0.1's only slot, held by a session: newcomers from there are refused
    for _attempt in range(50):
        with connect_from("127.0.0.1", port) as refused:
            refused.settimeout(10)
            assert closed_by_server(refused)
    for _wait in range(200):  # the interval ends: the summary is written by itself, with no new refusal
        if log_events(server.log, "connection_refused_summary"):
            break
        time.sleep(0.05)
    assert holder.write_and_read("h.txt", b"h") == b"h"
    assert len(log_events(server.log, "connection_refused")) == 1
    (summary,) = log_events(server.log, "connection_refused_summary")
    assert summary["count"] == 49 and "max_connections_per_address (1)" in summary["reason"]
