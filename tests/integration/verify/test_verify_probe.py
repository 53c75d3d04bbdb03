"""The prober against real peers: Samba's smbd, Python's HTTP server, closed ports and a blackholed namespace."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._probe import (
    Endpoint,
    ProbeSettings,
    probe_all,
    run_probes,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_session import SessionCredentials
from tests.support.accounts import SAMBA_PASSWORD, SAMBA_USER
from tests.support.net import free_tcp_ports, free_udp_port
from tests.support.peers import require_tool
from tests.support.samba import start_samba

pytestmark = [pytest.mark.peer]


def probe(host: str, endpoints: list, **settings) -> list:
    return run_probes(host, endpoints, ProbeSettings(**settings))


def test_samba_on_two_alternative_ports_answers_smb_with_its_dialect(samba):
    rows = probe("127.0.0.1", [Endpoint("tcp", port) for port in samba.ports])
    assert [(row.port, row.status, row.ok) for row in rows] == [(port, "smb", True) for port in samba.ports]
    for row in rows:
        assert row.dialect == "3.1.1"  # Samba 4.17's highest dialect, chosen from our offer
        assert row.signing_required is False  # Samba's default for a standalone server
        assert row.server_guid and row.server_guid == rows[0].server_guid  # one server behind both ports
        assert "large_mtu" in row.capabilities
        assert row.max_read_size >= 65536 and row.max_write_size >= 65536
        assert row.cipher == "AES-128-GCM"
        assert row.latency_ms > 0


def test_a_host_name_is_resolved_once_and_each_of_its_addresses_tried(samba):
    rows = probe("localhost", [Endpoint("tcp", samba.ports[0])])
    assert [(row.host, row.address, row.status) for row in rows] == [("localhost", "127.0.0.1", "smb")]


def test_the_dialect_and_signing_reported_are_the_ones_samba_was_told_to_use(tmp_path):
    port = free_tcp_ports(1)[0]
    server = start_samba(
        tmp_path, [port], {}, extra_globals={"server max protocol": "SMB3_00", "server signing": "mandatory"}
    )
    try:
        (row,) = probe("127.0.0.1", [Endpoint("tcp", port)])
    finally:
        server.stop()
    assert (row.status, row.dialect, row.signing_required, row.cipher) == ("smb", "3.0", True, None)


def test_an_smb1_only_samba_is_not_smb(tmp_path):
    port = free_tcp_ports(1)[0]
    server = start_samba(
        tmp_path, [port], {}, extra_globals={"server min protocol": "NT1", "server max protocol": "NT1"}
    )
    try:
        (row,) = probe("127.0.0.1", [Endpoint("tcp", port)])
    finally:
        server.stop()
    assert (row.status, row.ok) == ("not_smb", False)
    assert "speaks only SMB1" in row.error


def test_an_http_server_is_not_smb(http_server):
    (row,) = probe("127.0.0.1", [Endpoint("tcp", http_server)])
    assert (row.status, row.ok) == ("not_smb", False)
    assert "HTTP" in row.error and str(http_server) in row.error


def test_a_silent_listener_is_not_smb_and_not_mistaken_for_closed():
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        port = listener.getsockname()[1]
        (row,) = probe("127.0.0.1", [Endpoint("tcp", port, "closed")], timeout=0.5)
    finally:
        listener.close()
    assert (row.status, row.ok) == ("not_smb", False)
    assert "no answer to NEGOTIATE" in row.error


def test_an_smb2_server_that_refuses_every_dialect_is_smb_but_not_ok():
    """A peer that answers our NEGOTIATE with STATUS_NOT_SUPPORTED speaks SMB2, yet no client can use it."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_once() -> None:
        conn, _peer = listener.accept()
        with conn:
            conn.recv(4096)
            header = struct.pack(
                "<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 0, 0xC00000BB, 0, 1, 0x1, 0, 0, 0, 0, 0, bytes(16)
            )
            error_body = struct.pack("<HBBI", 9, 0, 0, 0) + b"\x00"
            conn.sendall(struct.pack(">I", len(header + error_body)) + header + error_body)

    server = threading.Thread(target=answer_once, daemon=True)
    server.start()
    try:
        (row,) = probe("127.0.0.1", [Endpoint("tcp", port)])
    finally:
        server.join(timeout=5)
        listener.close()
    assert (row.status, row.ok, row.dialect) == ("smb", False, None)
    assert "0xc00000bb" in row.error


def test_a_closed_port_is_refused_and_ok_when_expected_closed():
    port = free_tcp_ports(1)[0]
    rows = probe("127.0.0.1", [Endpoint("tcp", port, "closed")])
    assert [(row.status, row.ok) for row in rows] == [("refused", True)]
    open_rows = probe("127.0.0.1", [Endpoint("tcp", port, "open")])
    assert [(row.status, row.ok) for row in open_rows] == [("refused", False)]


def test_level_tcp_only_connects(http_server):
    port = free_tcp_ports(1)[0]
    rows = probe("127.0.0.1", [Endpoint("tcp", http_server), Endpoint("tcp", port)], level="tcp")
    assert [(row.status, row.ok) for row in rows] == [("open", True), ("refused", False)]
    assert rows[0].dialect is None


@pytest.mark.netns
def test_a_blackholed_address_times_out_within_the_timeout(blackhole):
    started = time.monotonic()
    rows = probe(blackhole.address, [Endpoint("tcp", 4445, "closed"), Endpoint("tcp", 4447, "open")], timeout=1.0)
    elapsed = time.monotonic() - started
    assert [(row.status, row.ok) for row in rows] == [("timeout", True), ("timeout", False)]
    assert elapsed < 1.0 + 0.5, "both endpoints run concurrently, each bounded by the 1 s timeout"
    assert all(row.latency_ms < 1500 for row in rows)


@pytest.mark.netns
def test_an_icmp_host_unreachable_answer_is_unreachable(blackhole):
    (row,) = probe(blackhole.address, [Endpoint("tcp", blackhole.reject_port, "closed")], timeout=2.0)
    assert (row.status, row.ok) == ("unreachable", True)


def test_a_name_that_does_not_resolve_is_unreachable():
    (row,) = probe("no-such-host.invalid", [Endpoint("tcp", 4445)])
    assert (row.status, row.ok, row.address) == ("unreachable", False, None)
    assert "does not resolve" in row.error


def test_rdma_is_reported_unsupported_and_never_ok():
    rows = probe("127.0.0.1", [Endpoint("rdma", 5445, "open"), Endpoint("rdma", 15445, "closed")])
    assert [(row.status, row.ok) for row in rows] == [("unsupported_transport", False)] * 2


def test_a_closed_quic_port_is_closed_and_the_row_says_whether_tls_was_validated():
    port = free_udp_port()
    checked, unchecked = (
        probe("127.0.0.1", [Endpoint("quic", port, "closed")], validate_certs=flag)[0] for flag in (True, False)
    )
    assert (checked.status, checked.ok, checked.tls_validation) == ("refused", True, "on")
    assert (unchecked.status, unchecked.ok, unchecked.tls_validation) == ("refused", True, "off")


def session(samba, password=SAMBA_PASSWORD, share="data", port=None):
    credentials = SessionCredentials(SAMBA_USER, password)
    endpoint = Endpoint("tcp", port or samba.ports[0])
    (row,) = probe("127.0.0.1", [endpoint], level="session", credentials=credentials, share=share)
    return row


def test_session_with_the_right_password_and_share_is_smb(samba):
    row = session(samba, port=samba.ports[1])
    assert (row.status, row.ok, row.error) == ("smb", True, None)
    assert row.dialect == "3.1.1"


def test_session_with_a_wrong_password_is_auth_failed_and_leaks_no_password(samba):
    row = session(samba, password="Wrong-Password-42")
    assert (row.status, row.ok) == ("auth_failed", False)
    assert "STATUS_LOGON_FAILURE" in row.error and SAMBA_USER in row.error
    assert "Wrong-Password-42" not in repr(row.as_dict())


def test_session_to_an_unknown_share_is_share_denied(samba):
    row = session(samba, share="no_such_share")
    assert (row.status, row.ok) == ("share_denied", False)
    assert "STATUS_BAD_NETWORK_NAME" in row.error and "no_such_share" in row.error


def test_session_logs_off_cleanly(samba):
    """After many session checks, smbd holds no session from us: each check logged off and disconnected."""
    for _attempt in range(3):
        assert session(samba).status == "smb"
    status = _smbstatus_sessions(samba)
    assert SAMBA_USER not in status


def _smbstatus_sessions(samba) -> str:
    import subprocess

    smbstatus = require_tool("smbstatus", "samba")
    deadline = time.monotonic() + 5
    while True:
        out = subprocess.run(
            [smbstatus, "-s", str(samba.conf), "-b"],
            env=samba.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
        if SAMBA_USER not in out or time.monotonic() > deadline:
            return out
        time.sleep(0.1)


class ConcurrencyMeter:
    """Accepts connections, answers each with an HTTP error after 50 ms, and records the peak in flight."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _peer = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.05)
        with self.lock:
            self.active -= 1
        try:
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        finally:
            conn.close()


def test_concurrency_bounds_the_endpoints_in_flight():
    import asyncio

    meter = ConcurrencyMeter()
    try:
        endpoints = [Endpoint("tcp", meter.port)] * 24
        rows = asyncio.run(probe_all("127.0.0.1", endpoints, ProbeSettings(concurrency=4, timeout=3)))
    finally:
        meter.listener.close()
    assert [row.status for row in rows] == ["not_smb"] * 24
    assert 1 < meter.peak <= 4  # bounded by the semaphore, yet really concurrent


class SilentAfterNegotiate:
    """Answers every NEGOTIATE with a plain SMB 2.1 response, then never answers anything else (a hung server)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def negotiate_response() -> bytes:
        header = struct.pack("<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 0, 0, 0, 1, 0x1, 0, 0, 0, 0, 0, bytes(16))
        body = struct.pack(
            "<HHHH16sIIIIQQHHI", 65, 0x01, 0x0210, 0, bytes(range(16)), 0x4, 1 << 16, 1 << 16, 1 << 16, 0, 0, 128, 0, 0
        )
        return header + body + b"\x00"

    def _accept(self) -> None:
        while True:
            try:
                conn, _peer = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                if data[4:8] == b"\xfeSMB" and struct.unpack_from("<H", data, 4 + 12)[0] == 0:
                    answer = self.negotiate_response()
                    conn.sendall(struct.pack(">I", len(answer)) + answer)
        except OSError:
            return

    def close(self) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()


def test_a_session_that_hangs_ends_as_timeout_and_frees_its_thread():
    server = SilentAfterNegotiate()
    threads_before = threading.active_count()
    try:
        (row,) = probe(
            "127.0.0.1",
            [Endpoint("tcp", server.port)],
            level="session",
            timeout=0.5,
            credentials=SessionCredentials("someone", "pw"),
            share="data",
        )
    finally:
        server.close()
    assert (row.status, row.ok) == ("timeout", False)
    assert "did not finish" in row.error
    deadline = time.monotonic() + 10
    while threading.active_count() > threads_before + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert threading.active_count() <= threads_before + 1, "the aborted session check left threads behind"


def _serve_once(listener: socket.socket, handle) -> threading.Thread:
    def run() -> None:
        try:
            conn, _peer = listener.accept()
        except OSError:
            return
        with conn:
            handle(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_peer_that_answers_garbage_is_not_smb():
    listener = socket.create_server(("127.0.0.1", 0))

    def garbage(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"\x00\x00\x00\x10" + b"\xde\xad\xbe\xef" * 4)  # a valid frame header around random bytes

    thread = _serve_once(listener, garbage)
    try:
        (row,) = probe("127.0.0.1", [Endpoint("tcp", listener.getsockname()[1])])
    finally:
        thread.join(timeout=5)
        listener.close()
    assert (row.status, row.ok) == ("not_smb", False)
    assert "not SMB2" in row.error


def test_a_tls_server_is_not_smb(tmp_path):
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))

    def tls(conn: socket.socket) -> None:
        try:
            context.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass  # our SMB2 bytes are no ClientHello: the handshake fails, as it should

    thread = _serve_once(listener, tls)
    try:
        (row,) = probe("127.0.0.1", [Endpoint("tcp", listener.getsockname()[1])], timeout=2)
    finally:
        thread.join(timeout=5)
        listener.close()
    assert (row.status, row.ok) == ("not_smb", False)
