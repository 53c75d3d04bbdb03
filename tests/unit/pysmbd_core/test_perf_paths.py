"""The fast paths of the core: zero-copy framing, decryption in place, file IO off the connection's thread,
and the small frame limit before authentication.

``QueuedExecutor`` stands for the runtime's IO thread pool: it runs nothing until the test says so, which is
what a slow disk looks like to the core.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import socket
import struct
import subprocess
from typing import Any, Callable, Optional

import pytest
import spnego
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM

from pysmbd.core import files
from pysmbd.core.connection import PREAUTH_MAX_FRAME_SIZE, SMBServerConnection
from pysmbd.core.events import ConnectionShouldClose
from tests.support.accounts import CORE_PASSWORD as PASSWORD
from tests.support.accounts import CORE_USER as USER
from tests.support.net import free_port
from tests.support.peers import require_tool
from tests.support.pysmbd_server import prepare_pysmbd

from .wire_helpers import (
    charge,
    close_request,
    create_request,
    events,
    file_id_of,
    framed,
    header,
    negotiate_request,
    open_tree,
    read_request,
    responses,
    session_setup_request,
    tree_connect_request,
    write_request,
)

STATUS_DISK_FULL = 0xC000007F
LARGE = 512 * 1024  # above the 256 KiB from which READ and WRITE leave the connection's thread
ECHO, READ, WRITE, CLOSE = 0x0D, 0x08, 0x09, 0x06


class QueuedExecutor:
    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[[], Any], Callable[[Any, Optional[BaseException]], None]]] = []

    def __call__(self, work: Callable[[], Any], done: Callable[[Any, Optional[BaseException]], None]) -> None:
        self.jobs.append((work, done))

    def run_next(self, error: Optional[BaseException] = None) -> None:
        work, done = self.jobs.pop(0)
        result = work()
        done(None if error is not None else result, error)


def echo_request(message_id: int, session_id: int) -> bytes:
    return header(ECHO, message_id, session_id=session_id) + b"\x04\x00\x00\x00"


def read_payload(answer) -> bytes:
    offset, length = struct.unpack_from("<BxI", answer.body, 2)
    return answer.raw[offset : offset + length]


@pytest.fixture
def tree(context):
    context.require_signing = False  # the requests are built by hand, unsigned
    conn = SMBServerConnection(context)
    session_id, tree_id = open_tree(conn, USER, PASSWORD)
    return conn, session_id, tree_id, context.shares["share"].path


def create(conn, sid: int, tid: int, name: str, disposition: int = 5) -> bytes:
    """Open ``name`` (by default FILE_OVERWRITE_IF: created empty); returns its FileId."""
    conn.receive_data(framed(create_request(60, sid, tid, name, disposition=disposition)), now=2.0)
    (created,) = responses(conn)
    assert created.status == 0
    return file_id_of(created)


def test_large_write_is_answered_when_its_io_is_done_and_later_requests_wait_in_order(tree):
    conn, sid, tid, root = tree
    file_id = create(conn, sid, tid, "big.bin")
    executor = QueuedExecutor()
    conn.io_executor = executor
    data = os.urandom(LARGE)

    after = 61 + charge(LARGE)  # the WRITE uses one MessageId per 64 KiB
    conn.receive_data(framed(write_request(61, sid, tid, file_id, data)), now=3.0)
    conn.receive_data(
        framed(echo_request(after, sid)) + framed(read_request(after + 1, sid, tid, file_id, 16)), now=3.0
    )
    assert responses(conn) == []
    assert (root / "big.bin").stat().st_size == 0  # the write waits for the executor
    assert len(executor.jobs) == 1 and conn.held_bytes > 0

    executor.run_next()
    answers = responses(conn)
    expected = [(61, WRITE, 0), (after, ECHO, 0), (after + 1, READ, 0)]
    assert [(a.message_id, a.command, a.status) for a in answers] == expected
    assert struct.unpack_from("<I", answers[0].body, 4)[0] == LARGE  # WRITE response Count
    assert read_payload(answers[2]) == data[:16]  # the READ ran after the write, not before it
    assert conn.held_bytes == 0
    assert (root / "big.bin").read_bytes() == data


def test_large_read_of_cached_data_is_answered_at_once(tree):
    conn, sid, tid, root = tree
    data = os.urandom(LARGE + 3)
    (root / "cached.bin").write_bytes(data)  # just written: in the page cache
    file_id = create(conn, sid, tid, "cached.bin", disposition=1)  # FILE_OPEN
    executor = QueuedExecutor()
    conn.io_executor = executor
    conn.receive_data(framed(read_request(61, sid, tid, file_id, LARGE, offset=3)), now=3.0)
    (answer,) = responses(conn)
    assert (answer.message_id, answer.status) == (61, 0)
    assert read_payload(answer) == data[3:]
    assert executor.jobs == []


def test_large_read_that_needs_the_disk_runs_on_the_executor(tree, monkeypatch):
    monkeypatch.setattr(files, "RWF_NOWAIT", 0)  # as on a kernel without it: nothing counts as cached
    conn, sid, tid, root = tree
    data = os.urandom(LARGE + 3)
    (root / "source.bin").write_bytes(data)
    file_id = create(conn, sid, tid, "source.bin", disposition=1)
    executor = QueuedExecutor()
    conn.io_executor = executor

    conn.receive_data(framed(read_request(61, sid, tid, file_id, LARGE, offset=3)), now=3.0)
    conn.receive_data(framed(echo_request(61 + charge(LARGE), sid)), now=3.0)
    assert responses(conn) == []
    executor.run_next()
    answers = responses(conn)
    assert [(a.message_id, a.status) for a in answers] == [(61, 0), (61 + charge(LARGE), 0)]
    assert read_payload(answers[0]) == data[3:]


def test_a_disk_error_in_a_deferred_write_becomes_its_status(tree):
    conn, sid, tid, _root = tree
    file_id = create(conn, sid, tid, "full.bin")
    executor = QueuedExecutor()
    conn.io_executor = executor
    conn.receive_data(framed(write_request(61, sid, tid, file_id, bytes(LARGE))), now=3.0)
    executor.run_next(error=OSError(errno.ENOSPC, "No space left on device"))
    (answer,) = responses(conn)
    assert (answer.message_id, answer.status) == (61, STATUS_DISK_FULL)
    conn.receive_data(framed(echo_request(61 + charge(LARGE), sid)), now=3.0)  # the connection goes on
    assert [a.status for a in responses(conn)] == [0]


def test_a_write_still_queued_when_the_connection_drops_lands_in_its_own_file(tree):
    conn, sid, tid, root = tree
    file_id = create(conn, sid, tid, "late.bin")
    executor = QueuedExecutor()
    conn.io_executor = executor
    data = os.urandom(LARGE)
    conn.receive_data(framed(write_request(61, sid, tid, file_id, data)), now=3.0)
    conn.close()  # closes the open's descriptor; its number is free for the next open
    other = root / "other.bin"
    descriptor = os.open(other, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        executor.run_next()
    finally:
        os.close(descriptor)
    assert other.read_bytes() == b""
    assert (root / "late.bin").read_bytes() == data
    assert conn.data_to_send() == []


def test_compounded_large_write_is_handled_inline(tree):
    """A compound is answered in one piece, so its requests never wait for the executor."""
    conn, sid, tid, root = tree
    file_id = create(conn, sid, tid, "chain.bin")
    executor = QueuedExecutor()
    conn.io_executor = executor
    data = os.urandom(LARGE)
    write = write_request(61, sid, tid, file_id, data)
    echo = echo_request(61 + charge(LARGE), sid)
    chained = write[:20] + struct.pack("<I", len(write)) + write[24:] + echo
    assert len(write) % 8 == 0
    conn.receive_data(framed(chained), now=3.0)
    assert [(a.command, a.status) for a in responses(conn)] == [(WRITE, 0), (ECHO, 0)]
    assert executor.jobs == []
    assert (root / "chain.bin").read_bytes() == data


# ---------------------------------------------------------------------------------------------- encryption


def kdf(key: bytes, label: bytes, context: bytes) -> bytes:
    data = struct.pack(">I", 1) + label + b"\x00" + context + struct.pack(">I", 128)
    return hmac.new(key, data, hashlib.sha256).digest()[:16]


def sha512(previous: bytes, message: bytes) -> bytes:
    return hashlib.sha512(previous + message).digest()


class EncryptedClient:
    """A 3.1.1 client session with the given cipher (1 AES-128-CCM, 2 AES-128-GCM), built independently."""

    def __init__(self, conn: SMBServerConnection, cipher: int) -> None:
        self.conn = conn
        self.cipher = cipher
        negotiate = negotiate_request(dialects=(0x0311,), ciphers=(cipher,))
        conn.receive_data(framed(negotiate), now=1.0)
        (answer,) = responses(conn)
        preauth = sha512(sha512(bytes(64), negotiate), answer.raw)
        client = spnego.client(USER, PASSWORD, protocol="negotiate")
        token, session_id, message_id = client.step(), 0, 1
        while True:
            request = session_setup_request(message_id, session_id, token)
            preauth = sha512(preauth, request)
            conn.receive_data(framed(request), now=1.0)
            (answer,) = responses(conn)
            session_id, message_id = answer.session_id, message_id + 1
            offset, length = struct.unpack_from("<HH", answer.body, 4)
            if answer.status == 0:
                client.step(answer.raw[offset : offset + length])
                break
            preauth = sha512(preauth, answer.raw)
            token = client.step(answer.raw[offset : offset + length])
        self.session_id = session_id
        key = client.session_key
        self._to_server = kdf(key, b"SMBC2SCipherKey\x00", preauth)
        self._to_client = kdf(key, b"SMBS2CCipherKey\x00", preauth)

    def _aead(self, key: bytes):
        return AESGCM(key) if self.cipher == 2 else AESCCM(key, tag_length=16)

    def seal(self, message: bytes) -> bytes:
        nonce = os.urandom(12 if self.cipher == 2 else 11)
        aad = nonce.ljust(16, b"\x00") + struct.pack("<IHHQ", len(message), 0, 1, self.session_id)
        sealed = self._aead(self._to_server).encrypt(nonce, message, aad)
        return framed(b"\xfdSMB" + sealed[-16:] + aad + sealed[:-16])

    def unseal_all(self) -> list[bytes]:
        stream = b"".join(bytes(chunk) for chunk in self.conn.data_to_send())
        out = []
        while stream:
            length = struct.unpack(">I", stream[:4])[0]
            transform, stream = stream[4 : 4 + length], stream[4 + length :]
            nonce = transform[20 : 32 if self.cipher == 2 else 31]
            out.append(self._aead(self._to_client).decrypt(nonce, transform[52:] + transform[4:20], transform[20:52]))
        return out

    def send_in_pieces(self, data: bytes, piece: int) -> None:
        """Feed bytes the way the TCP adapter does: read into the core's own buffer, a piece at a time."""
        view = memoryview(data)
        while len(view):
            target = self.conn.get_buffer()
            count = min(len(target), len(view), piece)
            target[:count] = view[:count]
            view = view[count:]
            self.conn.buffer_updated(count, now=2.0)


@pytest.mark.parametrize("cipher", [1, 2], ids=["AES-128-CCM", "AES-128-GCM"])
@pytest.mark.parametrize("deferred", [False, True], ids=["inline", "executor"])
def test_encrypted_large_write_read_into_frame_buffers_is_byte_identical(context, cipher, deferred):
    conn = SMBServerConnection(context)
    client = EncryptedClient(conn, cipher)
    sid = client.session_id
    executor = QueuedExecutor()
    if deferred:
        conn.io_executor = executor
    client.send_in_pieces(client.seal(tree_connect_request(10, sid, "\\\\srv\\share")), 7)
    (tree_answer,) = client.unseal_all()
    tid = struct.unpack_from("<I", tree_answer, 36)[0]
    client.send_in_pieces(client.seal(create_request(11, sid, tid, "sealed.bin", disposition=5)), 1000)
    (created,) = client.unseal_all()
    file_id = created[64 + 64 : 64 + 80]
    data = os.urandom(2 * LARGE + 123)
    # Two writes back to back, cut at odd places: each frame is assembled in its own (recycled) buffer.
    second = 12 + charge(LARGE)  # each request uses one MessageId per 64 KiB it moves
    reading = second + charge(len(data) - LARGE)
    closing = reading + charge(len(data))
    stream = client.seal(write_request(12, sid, tid, file_id, data[:LARGE])) + client.seal(
        write_request(second, sid, tid, file_id, data[LARGE:], offset=LARGE)
    )
    client.send_in_pieces(stream, 65_537)
    if deferred:
        executor.run_next()  # the first write; the second one waited behind it
        executor.run_next()
    client.send_in_pieces(client.seal(read_request(reading, sid, tid, file_id, len(data))), 64)
    while executor.jobs:  # a READ of cached data is answered at once
        executor.run_next()
    client.send_in_pieces(client.seal(close_request(closing, sid, tid, file_id)), 64)
    replies = client.unseal_all()
    assert [struct.unpack_from("<IH", reply, 8) for reply in replies] == [(0, WRITE), (0, WRITE), (0, READ), (0, CLOSE)]
    offset, length = struct.unpack_from("<BxI", replies[2], 66)
    assert replies[2][offset : offset + length] == data
    assert (context.shares["share"].path / "sealed.bin").read_bytes() == data
    assert not any(isinstance(event, ConnectionShouldClose) for event in events(conn))


def test_tampered_large_encrypted_frame_closes_the_connection(context):
    conn = SMBServerConnection(context)
    client = EncryptedClient(conn, 2)
    sealed = bytearray(client.seal(echo_request(10, client.session_id) + bytes(LARGE)))
    sealed[-1] ^= 1
    client.send_in_pieces(bytes(sealed), 100_000)
    assert conn.data_to_send() == []
    assert any(isinstance(event, ConnectionShouldClose) for event in events(conn))


# ---------------------------------------------------------------------------------------------- limits


def test_frame_above_the_preauth_limit_closes_a_connection_without_a_session(context):
    conn = SMBServerConnection(context)
    conn.receive_data(framed(negotiate_request()), now=1.0)
    responses(conn)
    conn.receive_data(struct.pack(">I", PREAUTH_MAX_FRAME_SIZE + 1) + b"\xfeSMB", now=1.0)
    (event,) = events(conn)
    assert isinstance(event, ConnectionShouldClose)
    assert "before a session is established" in event.reason
    assert conn.buffered_bytes < 64 * 1024  # nothing of the announced frame was allocated or kept


def test_frame_at_the_preauth_limit_is_still_handled(context):
    conn = SMBServerConnection(context)
    conn.receive_data(framed(negotiate_request()), now=1.0)
    responses(conn)
    padded_echo = echo_request(5, 0) + bytes(PREAUTH_MAX_FRAME_SIZE - 68)
    conn.receive_data(framed(padded_echo), now=1.0)
    (answer,) = responses(conn)
    assert (answer.message_id, answer.status) == (5, 0)
    assert events(conn) == []


def test_after_login_frames_up_to_max_frame_size_are_accepted(tree):
    conn, sid, tid, root = tree
    file_id = create(conn, sid, tid, "after-login.bin")
    data = os.urandom(PREAUTH_MAX_FRAME_SIZE * 4)
    conn.receive_data(framed(write_request(61, sid, tid, file_id, data)), now=3.0)
    assert [(a.command, a.status) for a in responses(conn)] == [(WRITE, 0)]
    assert (root / "after-login.bin").read_bytes() == data


# ---------------------------------------------------------------------------------------------- the real server


@pytest.fixture
def served_share(tmp_path):
    """``pysmbd serve`` (the TCP adapter with its IO thread pool) on a free loopback port; yields (port, share)."""
    server = prepare_pysmbd(tmp_path, USER, PASSWORD, [free_port()])
    server.start()
    try:
        yield server.tcp_port, server.share
    finally:
        server.stop()
    log = server.log
    assert "core_failed" not in log.read_text()


@pytest.mark.parametrize("protection", ["sign", "encrypt"])
def test_smbclient_moves_many_large_frames_byte_identical(served_share, tmp_path, protection):
    """20 MiB is several 8 MiB WRITEs and READs in flight: frames wait behind the IO threads and reuse buffers."""

    smbclient = require_tool("smbclient", "smbclient")
    port, share = served_share
    data = os.urandom(20 * 1024 * 1024 + 4097)
    (tmp_path / "up.bin").write_bytes(data)
    command = [smbclient, "//127.0.0.1/data", "-p", str(port), "-U", f"{USER}%{PASSWORD}", "-m", "SMB3"]
    command += [f"--client-protection={protection}", "-c", "put up.bin big.bin; get big.bin down.bin"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (share / "big.bin").read_bytes() == data
    assert (tmp_path / "down.bin").read_bytes() == data


def test_real_server_closes_an_unauthenticated_connection_that_sends_a_large_frame(served_share):
    port, _share = served_share
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(struct.pack(">I", 1024 * 1024) + b"\xfeSMB" + bytes(PREAUTH_MAX_FRAME_SIZE))
        client.settimeout(10)
        try:
            assert client.recv(4096) == b""  # closed without an answer
        except ConnectionResetError:
            pass  # closed while our bytes were still unread: just as closed
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:  # the server still serves
        client.sendall(framed(negotiate_request()))
        client.settimeout(10)
        assert client.recv(4)[0] == 0
