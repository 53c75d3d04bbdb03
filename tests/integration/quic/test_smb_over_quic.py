"""SMB over QUIC end to end: smbprotocol's real client (NTLM, signing, tree connect, create/write/read) through a
QUIC transport against pysmbd's QUIC listener; the 3.1.1-only rule; a reload that moves the QUIC port.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import select
import socket
import struct
import threading
import time
import uuid

import pytest
from smbprotocol.connection import Connection
from smbprotocol.session import Session

from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_quic import probe_quic
from ansible_collections.smb.alternative_ports.plugins.module_utils._smb2_negotiate import (
    build_negotiate_request,
    parse_negotiate_response,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._smb_over_quic import (
    SmbQuicTransport,
    connect_smb_over_quic,
)
from tests.support.accounts import QUIC_PASSWORD as PASSWORD
from tests.support.accounts import QUIC_USER as USER
from tests.support.net import free_port
from tests.support.polling import wait_until
from tests.support.pysmbd_server import start_quic_pysmbd
from tests.support.quic_probe import probe_loopback_quic
from tests.support.smb_session import SmbSession

pytestmark = pytest.mark.timeout(120)

STATUS_NOT_SUPPORTED = 0xC00000BB
CONTEXT_TRANSPORT_CAPABILITIES = 0x0006
# Multi-credit (64 credits) yet below what a fresh smbprotocol session holds (it starts from 1 and asks for more).
IO_CHUNK = 4 * 1024 * 1024
DATAGRAM_SLACK = 32


class QuicSession(SmbSession):
    """An smbprotocol session on share "data", carried over QUIC, that moves files in multi-credit chunks."""

    def __init__(self, port: int, cafile: str, **quic) -> None:
        # Signed, not SMB-encrypted: QUIC already encrypts (TLS 1.3), and signing still proves the keys.
        super().__init__(
            port,
            USER,
            PASSWORD,
            connect=lambda connection: connect_smb_over_quic(connection, 10, cafile=cafile, **quic),
        )

    def put(self, name: str, data: bytes) -> None:
        handle = self.open_file(name)
        try:
            step = min(self.connection.max_write_size, IO_CHUNK)
            for offset in range(0, len(data), step):
                handle.write(data[offset : offset + step], offset)
        finally:
            handle.close()

    def get(self, name: str) -> bytes:
        handle = self.open_file(name, write=False)
        try:
            size = handle.end_of_file
            step = min(self.connection.max_read_size, IO_CHUNK)
            return b"".join(handle.read(offset, min(step, size - offset)) for offset in range(0, size, step))
        finally:
            handle.close()


@pytest.fixture
def quic_session(quic_pysmbd):
    session = QuicSession(quic_pysmbd.quic_port, str(quic_pysmbd.certificate.certificate))
    yield session
    session.close()


def test_put_and_get_over_quic_are_byte_identical(quic_pysmbd, quic_session) -> None:
    assert quic_session.connection.dialect == 0x0311
    # Several multi-credit READ/WRITE frames plus a tail: more than the QUIC flow-control window in flight overall.
    data = os.urandom(9 * 1024 * 1024 + 12345)
    quic_session.put("over-quic.bin", data)
    assert hashlib.sha256((quic_pysmbd.share / "over-quic.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
    fetched = quic_session.get("over-quic.bin")
    assert len(fetched) == len(data)
    assert fetched == data


def test_a_file_put_over_tcp_reads_back_identical_over_quic(quic_pysmbd, quic_session) -> None:
    # The same share through both transports of one server.
    data = os.urandom(300_000)
    (quic_pysmbd.share / "from-disk.bin").write_bytes(data)
    assert quic_session.get("from-disk.bin") == data


class DatagramRelay:
    """A UDP relay between one client and the server that remembers the largest datagram in each direction, and
    how many datagrams of each size the server sent."""

    def __init__(self, server_port: int) -> None:
        self.server = ("127.0.0.1", server_port)
        self.outside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.outside.bind(("127.0.0.1", 0))
        self.inside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.inside.connect(self.server)
        self.port = self.outside.getsockname()[1]
        self.largest = {"to_server": 0, "to_client": 0}
        self.sizes_to_client: collections.Counter = collections.Counter()
        self._client = None
        self.drop_to_server = 0
        """How many of the client's next datagrams are lost on the way (what a lossy path does)."""
        self._running = True
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        while self._running:
            for sock in select.select([self.outside, self.inside], [], [], 0.1)[0]:
                data, sender = sock.recvfrom(65535)
                if sock is self.outside:
                    self._client = sender
                    if self.drop_to_server:
                        self.drop_to_server -= 1
                        continue
                    self.largest["to_server"] = max(self.largest["to_server"], len(data))
                    self.inside.send(data)
                elif self._client is not None:
                    self.largest["to_client"] = max(self.largest["to_client"], len(data))
                    self.sizes_to_client[len(data)] += 1
                    self.outside.sendto(data, self._client)

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=5)
        self.outside.close()
        self.inside.close()


@pytest.mark.parametrize("datagram", [1200, 1452])
def test_the_configured_datagram_size_is_what_the_server_sends(tmp_path, datagram) -> None:
    server = start_quic_pysmbd(tmp_path / "pysmbd", quic_settings=f"max_datagram_size = {datagram}")
    relay = DatagramRelay(server.quic_port)
    try:
        session = QuicSession(relay.port, str(server.certificate.certificate), max_datagram_size=datagram)
        try:
            data = os.urandom(2 * 1024 * 1024)
            session.put("sized.bin", data)
            assert session.get("sized.bin") == data
        finally:
            session.close()
    finally:
        relay.close()
        server.stop()
    # The server never sends more than the configured size, and a bulk read fills its datagrams up to it: qh3
    # keeps a STREAM packet up to 29 bytes short (room for the largest frame header), so "full" means within
    # DATAGRAM_SLACK. The client (verify's, also qh3) fills its largest datagrams the same way: at 1452 that is still
    # far above the 1200 default, which proves the setting reached the wire on both ends.
    full_sized = collections.Counter({size: n for size, n in relay.sizes_to_client.items() if size > datagram // 2})
    bulk_size = full_sized.most_common(1)[0][0]  # the size of most data-carrying datagrams (not ACKs)
    assert relay.largest["to_client"] <= datagram
    assert datagram - DATAGRAM_SLACK <= bulk_size <= datagram, relay.sizes_to_client.most_common(4)
    assert datagram - DATAGRAM_SLACK <= relay.largest["to_server"] <= datagram


def test_a_request_lost_on_the_way_is_resent_while_the_reader_waits(quic_pysmbd) -> None:
    # smbprotocol's receiver thread is already waiting in recv() when the caller sends; the transport has no thread
    # of its own, so the waiting reader must learn of the new request's loss timer, or the lost request would sit
    # until the reader's timeout and the session would stall.
    relay = DatagramRelay(quic_pysmbd.quic_port)
    transport = SmbQuicTransport("127.0.0.1", relay.port, 10, cafile=str(quic_pysmbd.certificate.certificate))
    try:
        transport.connect()
        answers: list = []
        reader = threading.Thread(target=lambda: answers.append(transport.recv(20)), daemon=True)
        reader.start()
        # the reader is in poll() with nothing due for seconds (qh3's handshake timers have run out)
        assert wait_until(lambda: (transport._driver._wait_ends or 0) > time.monotonic() + 5), (
            "the reader never settled"
        )
        relay.drop_to_server = 1
        transport.send(build_negotiate_request()[4:])
        reader.join(30)
        assert answers, "recv() raised instead of returning the answer"
        assert parse_negotiate_response(answers[0]).dialect == "3.1.1"
    finally:
        transport.close()
        relay.close()


def test_wrong_password_over_quic_fails_the_session(quic_pysmbd) -> None:
    from smbprotocol.exceptions import LogonFailure

    connection = Connection(uuid.uuid4(), "127.0.0.1", quic_pysmbd.quic_port, require_signing=True)
    connect_smb_over_quic(connection, 10, cafile=str(quic_pysmbd.certificate.certificate))
    try:
        with pytest.raises(LogonFailure):
            Session(connection, USER, "not-the-password", require_encryption=False).connect()
    finally:
        connection.disconnect()


# --------------------------------------------------------------------------------- SMB over QUIC is 3.1.1 only


def negotiate_request(dialects: tuple, contexts: list) -> bytes:
    """A framed NEGOTIATE request (MS-SMB2 2.2.3) with exactly these dialects and (type, data) contexts."""
    header = struct.pack("<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, bytes(16))
    dialect_bytes = struct.pack("<%dH" % len(dialects), *dialects)
    fixed = 64 + 36 + len(dialect_bytes)
    context_offset = fixed + (-fixed % 8) if contexts else 0
    body = struct.pack(
        "<HHHHI16sIHH", 36, len(dialects), 1, 0, 0x7F, uuid.uuid4().bytes_le, context_offset, len(contexts), 0
    )
    message = header + body + dialect_bytes
    for ctx_type, data in contexts:
        message += bytes(-len(message) % 8)  # every context starts 8-byte aligned
        message += struct.pack("<HHI", ctx_type, len(data), 0) + data
    return struct.pack(">I", len(message)) + message


def preauth_context() -> tuple:
    salt = os.urandom(32)
    return (0x0001, struct.pack("<HHH", 1, len(salt), 0x0001) + salt)


def response_contexts(message: bytes) -> dict:
    """The negotiate contexts of a 3.1.1 NEGOTIATE response, by type."""
    count = struct.unpack_from("<H", message, 64 + 6)[0]
    offset = struct.unpack_from("<I", message, 64 + 60)[0]
    found = {}
    for _context in range(count):
        offset += -offset % 8
        ctx_type, length = struct.unpack_from("<HH", message, offset)
        found[ctx_type] = message[offset + 8 : offset + 8 + length]
        offset += 8 + length
    return found


def quic_negotiate(server, request: bytes):
    outcome = asyncio.run(
        probe_quic(
            "localhost",
            "127.0.0.1",
            server.quic_port,
            timeout=5.0,
            level="negotiate",
            cafile=str(server.certificate.certificate),
            negotiate_request=request,
        )
    )
    assert outcome.status == "smb", outcome.error
    return outcome


def tcp_negotiate(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the TCP connection without answering"
            data += chunk
        return data[4:]


OLD_DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302)


def test_old_dialects_stay_available_over_tcp(quic_pysmbd) -> None:
    # The control for the next test: the same request over TCP negotiates 3.0.2.
    answer = parse_negotiate_response(tcp_negotiate(quic_pysmbd.tcp_port, negotiate_request(OLD_DIALECTS, [])))
    assert (answer.status, answer.dialect) == (0, "3.0.2")


def test_negotiate_without_311_is_refused_over_quic(quic_pysmbd) -> None:
    outcome = quic_negotiate(quic_pysmbd, negotiate_request(OLD_DIALECTS, []))
    assert outcome.answer.status == STATUS_NOT_SUPPORTED
    assert "refused the NEGOTIATE with NTSTATUS 0xc00000bb" in outcome.error


def test_smb1_negotiate_over_quic_gets_no_smb2_answer(quic_pysmbd) -> None:
    smb1 = b"\xffSMB\x72" + bytes(27) + b"\x00" + struct.pack("<H", 22) + b"\x02NT LM 0.12\x00\x02SMB 2.???\x00"
    outcome = asyncio.run(
        probe_quic(
            "localhost",
            "127.0.0.1",
            quic_pysmbd.quic_port,
            timeout=3.0,
            level="negotiate",
            validate_certs=False,
            negotiate_request=struct.pack(">I", len(smb1)) + smb1,
        )
    )
    assert outcome.status == "not_smb", (outcome.status, outcome.answer)


def test_negotiate_offering_every_dialect_gets_311_over_quic(quic_pysmbd) -> None:
    outcome = quic_negotiate(quic_pysmbd, build_negotiate_request())
    assert (outcome.answer.status, outcome.answer.dialect) == (0, "3.1.1")


def test_quic_negotiate_answers_the_transport_capabilities_context(quic_pysmbd) -> None:
    transport_caps = (CONTEXT_TRANSPORT_CAPABILITIES, struct.pack("<I", 1))  # SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY
    request = negotiate_request((0x0311,), [preauth_context(), transport_caps])
    outcome = quic_negotiate(quic_pysmbd, request)
    assert outcome.answer.status == 0 and outcome.answer.dialect == "3.1.1"
    # Re-run the same exchange to read the raw contexts (probe_quic keeps only the parsed answer).
    raw = _raw_quic_answer(quic_pysmbd, request)
    contexts = response_contexts(raw)
    assert CONTEXT_TRANSPORT_CAPABILITIES in contexts
    # We keep SMB-level encryption available (Flags 0): the server does not promise to skip it.
    assert struct.unpack("<I", contexts[CONTEXT_TRANSPORT_CAPABILITIES][:4])[0] == 0


def _raw_quic_answer(server, request: bytes) -> bytes:
    transport = SmbQuicTransport("127.0.0.1", server.quic_port, 10, cafile=str(server.certificate.certificate))
    transport.connect()
    try:
        transport.send(request[4:])
        return transport.recv(10)
    finally:
        transport.close()


def test_tcp_negotiate_gets_no_transport_capabilities_context(quic_pysmbd) -> None:
    transport_caps = (CONTEXT_TRANSPORT_CAPABILITIES, struct.pack("<I", 1))
    raw = tcp_negotiate(quic_pysmbd.tcp_port, negotiate_request((0x0311,), [preauth_context(), transport_caps]))
    assert parse_negotiate_response(raw).dialect == "3.1.1"
    assert CONTEXT_TRANSPORT_CAPABILITIES not in response_contexts(raw)


# --------------------------------------------------------------------------------- reload


def test_reload_moves_the_quic_port_and_keeps_the_open_session(quic_pysmbd, quic_session) -> None:
    old_port = quic_pysmbd.quic_port
    quic_session.put("before.txt", b"written before the reload\n")
    new_port = free_port(socket.SOCK_DGRAM)
    quic_pysmbd.write_config(quic_port=new_port)
    assert quic_pysmbd.reload() == "RELOADED ok", quic_pysmbd.log_tail()

    def probe(port: int, timeout: float = 3.0):
        return probe_loopback_quic(port, timeout=timeout, validate_certs=False)

    new = probe(new_port)
    assert (new.status, new.answer.dialect) == ("smb", "3.1.1"), new.error
    # The removed port takes no new client while the old session is still on it ...
    assert probe(old_port, timeout=1.0).status == "timeout"
    # ... and that session keeps working.
    quic_session.put("after.txt", b"written after the reload\n")
    assert quic_session.get("before.txt") == b"written before the reload\n"
    assert (quic_pysmbd.share / "after.txt").read_bytes() == b"written after the reload\n"
    # Once its last connection ends, the removed port's socket closes: the port is refused like any closed one.
    quic_session.close()
    assert wait_until(lambda: probe(old_port, timeout=1.0).status == "refused", timeout=15)


def test_a_reload_that_changes_a_share_closes_its_quic_connections_as_it_does_tcp_ones(
    quic_pysmbd, quic_session
) -> None:
    """Trees keep the share settings they connected with, so a changed share must cut its users on every transport."""
    from smbprotocol.exceptions import SMBConnectionClosed, SMBResponseException

    over_tcp = SmbSession(quic_pysmbd.tcp_port, USER, PASSWORD)
    try:
        assert quic_session.write_and_read("before.txt", b"writable before") == b"writable before"
        assert over_tcp.write_and_read("tcp.txt", b"writable before") == b"writable before"
        quic_pysmbd.share_settings = "read_only = true"
        quic_pysmbd.write_config()
        assert quic_pysmbd.reload() == "RELOADED ok", quic_pysmbd.log_tail()
        # Both connections were closed by the server: neither keeps writing through its old, writable tree.
        with pytest.raises(SMBConnectionClosed):
            quic_session.write_and_read("after.txt", b"still writable?")
        with pytest.raises(SMBConnectionClosed):
            over_tcp.write_and_read("after.txt", b"still writable?")
    finally:
        over_tcp.close()
    assert not (quic_pysmbd.share / "after.txt").exists()
    # A client that reconnects over QUIC gets the share as it is now: readable, not writable.
    again = QuicSession(quic_pysmbd.quic_port, str(quic_pysmbd.certificate.certificate))
    try:
        assert again.get("before.txt") == b"writable before"
        with pytest.raises(SMBResponseException):
            again.put("after.txt", b"refused")
    finally:
        again.close()
