# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe one SMB over QUIC endpoint: QUIC + TLS 1.3 handshake with ALPN ``smb``, then an SMB2 NEGOTIATE.

This is a private module_utils file: its API may change without notice.

SMB over QUIC (MS-SMB2 2.1) carries the Direct TCP framing unchanged on one client-initiated bidirectional
stream, so the NEGOTIATE request and the parser are the ones the TCP probe uses. What QUIC adds is TLS:

- ``validate_certs`` with a ``cafile`` checks the chain and the name against that CA file; without a
  ``cafile`` against the system's CA bundle;
- ``fingerprint_sha256`` pins the leaf certificate (checked after the handshake); alone, it replaces the
  chain check, which is what self-signed lab servers need;
- ``validate_certs=False`` accepts any certificate, and the outcome says validation was off.

Statuses: ``smb``, ``not_smb``, ``refused``, ``timeout``, ``unreachable``, plus ``tls_failed`` (untrusted
certificate, name or fingerprint mismatch, other handshake failure) and ``alpn_mismatch`` (the server
speaks QUIC but not ALPN ``smb``: it closes with the TLS alert no_application_protocol, error 0x178).
A closed UDP port shows as ``refused`` only where the ICMP port unreachable comes back (the socket is
connected so the kernel reports it); filtered ports show as ``timeout``.

A whole SMB session over QUIC (smbprotocol's client, for level ``session``) is ``_smb_over_quic``'s; it shares this
module's TLS checks.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from typing import Optional

try:
    from qh3.asyncio.protocol import QuicConnectionProtocol
    from qh3.quic.configuration import QuicConfiguration
    from qh3.quic.connection import QuicConnection, QuicConnectionError

    HAS_QH3 = True
    QH3_IMPORT_ERROR = None
except ImportError as import_error:  # the module reports it with missing_required_lib
    QuicConnectionProtocol = object  # so the class below can still be defined
    QuicConnectionError = RuntimeError
    HAS_QH3 = False
    QH3_IMPORT_ERROR = import_error

from ansible_collections.smb.alternative_ports.plugins.module_utils._quic_trust import load_anchors, untrusted_reason
from ansible_collections.smb.alternative_ports.plugins.module_utils._quic_udp import (
    open_datagram_endpoint,
    receive_gro_burst,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._smb2_negotiate import (
    NegotiateAnswer,
    NotSmb2Error,
    describe_foreign_answer,
    parse_frame_length,
    parse_negotiate_response,
)

# qh3 logs a peer's CONNECTION_CLOSE as a warning; the outcome carries it, so keep it off a module's stderr.
logging.getLogger("quic").addHandler(logging.NullHandler())

ALPN = "smb"
# CONNECTION_CLOSE error codes (RFC 9001 4.8): CRYPTO_ERROR 0x100 + the TLS alert number.
CRYPTO_ERROR_BASE = 0x100
CRYPTO_ERROR_LAST = 0x1FF
TLS_ALERT_NO_APPLICATION_PROTOCOL = 120  # 0x178 on the wire
TLS_ALERT_BAD_CERTIFICATE = 42
TLS_ALERT_HANDSHAKE_FAILURE = 40
_MAX_NEGOTIATE_FRAME = 1 << 20
_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
_UNREACHABLE_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.EADDRNOTAVAIL}
_TLS_ALERT_NAMES = {
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    45: "certificate_expired",
    46: "certificate_unknown",
    48: "unknown_ca",
    51: "decrypt_error",
    70: "protocol_version",
    80: "internal_error",
    109: "missing_extension",
    120: "no_application_protocol",
}


@dataclass
class QuicProbeOutcome:
    """What one QUIC probe found."""

    status: str
    """``smb``, ``not_smb``, ``refused``, ``timeout``, ``unreachable``, ``tls_failed`` or ``alpn_mismatch``."""
    error: Optional[str] = None
    answer: Optional[NegotiateAnswer] = None
    """The parsed NEGOTIATE response when the status is ``smb``."""
    tls_validation: str = "on"
    """``on`` when the certificate was checked (CA file, system CAs or pinned fingerprint), ``off`` otherwise."""
    certificate_sha256: Optional[str] = None
    """SHA-256 fingerprint (``aa:bb:..``) of the certificate the server presented, when the handshake got that far."""
    alpn: Optional[str] = None


def normalize_fingerprint(value: str) -> str:
    """Accept ``AA:BB..``, ``aabb..`` or ``sha256:...``; return 64 lower-case hex digits or raise ValueError."""
    text = value.strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:") :]
    digits = text.replace(":", "").replace(" ", "")
    if len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError("fingerprint_sha256 must be 64 hex digits (optionally separated by ':'), got %r" % value)
    return digits


def _colon_hex(digest: bytes) -> str:
    return ":".join("%02x" % byte for byte in digest)


def _system_cafile() -> Optional[str]:
    """The OpenSSL default CA bundle, so 'validate against the system' means the host's CAs, not certifi's."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


class _ProbeProtocol(QuicConnectionProtocol):
    """Records how the connection ended and collects the bytes of our one stream."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.terminated = None  # the ConnectionTerminated event, once there is one
        self.icmp_error: Optional[OSError] = None
        self.stream_id: Optional[int] = None
        self.received = bytearray()
        self.stream_ended = False
        self.handshake_done = False
        self.alpn: Optional[str] = None
        self.changed = asyncio.Event()

    def quic_event_received(self, event) -> None:
        name = type(event).__name__
        if name == "StreamDataReceived" and event.stream_id == self.stream_id:
            self.received += event.data
            self.stream_ended = self.stream_ended or event.end_stream
            self.changed.set()
        elif name == "HandshakeCompleted":
            self.handshake_done = True
            self.alpn = event.alpn_protocol
            self.changed.set()
        elif name == "ConnectionTerminated":
            self.terminated = event
            self.changed.set()

    def gro_bursts_received(self, bursts: list) -> None:
        """Datagrams as the kernel coalesced them (see _quic_udp): qh3 takes each burst whole, then acts once."""
        quic = self._quic
        now = self._loop.time()
        for data, segment_size, address in bursts:
            receive_gro_burst(quic, data, segment_size, address, now)
        self._process_events()
        self.transmit()

    def error_received(self, exc: OSError) -> None:
        # With a connected UDP socket the kernel reports ICMP port/host unreachable here.
        self.icmp_error = exc
        self.changed.set()

    def close_reason(self):
        """How the connection ended, as early as qh3 knows it (it reports the event after the drain period)."""
        if self.terminated is not None:
            return self.terminated
        return getattr(self._quic, "_close_event", None)


@dataclass(frozen=True)
class _CertificatePolicy:
    """What the client checks of the server certificate once the handshake has proved the server holds its key."""

    server_name: str
    """The name sent in SNI and checked against the certificate."""
    pin: Optional[str] = None
    """64 lower-case hex digits: the leaf's SHA-256 must be this."""
    cafile: Optional[str] = None
    """The CA file the chain must lead to; None when the chain is not checked (validation off, or a pin alone)."""


def _certificate_policy(
    validate_certs: bool, cafile: Optional[str], fingerprint_sha256: Optional[str], server_name: str
) -> _CertificatePolicy:
    pin = normalize_fingerprint(fingerprint_sha256) if fingerprint_sha256 else None
    if not validate_certs or (pin and not cafile):
        return _CertificatePolicy(server_name, pin)  # a pin alone replaces the chain check (self-signed servers)
    return _CertificatePolicy(server_name, pin, cafile or _system_cafile() or "")


def _client_configuration(server_name: str, max_datagram_size: int = 1200) -> QuicConfiguration:
    # No path-MTU probing: max_datagram_size is the exact size on the wire, as the user (or the default that
    # crosses any path) set it; qh3 would otherwise send probes up to its own ceiling.
    configuration = QuicConfiguration(
        is_client=True,
        alpn_protocols=[ALPN],
        server_name=server_name,
        max_datagram_size=max_datagram_size,
        probe_datagram_size=False,
    )
    # Flow-control windows that hold a whole 8 MiB READ response, as pysmbd's own: a smaller one makes the server
    # wait for a window update in the middle of every large read (measured: +6-11 % on a 256 MiB read).
    configuration.max_data = configuration.max_stream_data = 24 * 1024 * 1024
    # The handshake still checks the server's CertificateVerify (its key); _certificate_problem checks the rest
    # after the handshake and before any SMB byte is sent (see _quic_trust for why not inside qh3).
    configuration.verify_mode = ssl.CERT_NONE
    return configuration


def _certificate_problem(protocol, policy: _CertificatePolicy, leaf: bytes) -> Optional[str]:
    """None when the certificate passes ``policy``'s chain and name check (or there is none); else why not."""
    if policy.cafile is None:
        return None
    if not policy.cafile:
        return "no system CA bundle was found to check the certificate; give ca_path or fingerprint_sha256"
    try:
        anchors = load_anchors(policy.cafile)
    except (OSError, ValueError) as exc:
        return "cannot read the CA file: %s" % exc
    chain = [certificate.public_bytes() for certificate in protocol._quic.get_issuercerts()]
    return untrusted_reason(leaf, chain, anchors, policy.server_name, policy.cafile)


def _describe_close(event, where: str) -> tuple:
    """Map a CONNECTION_CLOSE (ours or the server's) to (status, message)."""
    code = event.error_code
    reason = event.reason_phrase or ""
    if CRYPTO_ERROR_BASE <= code <= CRYPTO_ERROR_LAST:
        alert = code - CRYPTO_ERROR_BASE
        alert_name = _TLS_ALERT_NAMES.get(alert, "alert %d" % alert)
        # RFC 9001 8.1 says no_application_protocol; qh3-based servers send handshake_failure and say "ALPN".
        if alert == TLS_ALERT_NO_APPLICATION_PROTOCOL or (
            alert == TLS_ALERT_HANDSHAKE_FAILURE and "alpn" in reason.lower()
        ):
            return "alpn_mismatch", (
                "%s speaks QUIC but does not offer ALPN 'smb' (TLS alert %s, error 0x%x%s): "
                "it is not an SMB over QUIC server" % (where, alert_name, code, ": " + reason if reason else "")
            )
        return "tls_failed", "%s: TLS handshake failed (%s, error 0x%x): %s" % (where, alert_name, code, reason)
    return "not_smb", "%s closed the QUIC connection during the handshake (error 0x%x%s)" % (
        where,
        code,
        ": " + reason if reason else "",
    )


async def _wait_for(protocol: _ProbeProtocol, condition, deadline: float) -> bool:
    """Wait until ``condition()`` or the connection ends; False on timeout."""
    loop = asyncio.get_running_loop()
    while not condition():
        if protocol.close_reason() is not None or protocol.icmp_error is not None:
            return True
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        protocol.changed.clear()
        try:
            await asyncio.wait_for(protocol.changed.wait(), min(remaining, 0.05))
        except asyncio.TimeoutError:
            pass  # re-check: qh3 records a close before it reports the event
    return True


def _icmp_outcome(exc: OSError, where: str) -> QuicProbeOutcome:
    if isinstance(exc, ConnectionRefusedError):
        return QuicProbeOutcome("refused", "%s: UDP port unreachable (nothing listens there)" % where)
    if exc.errno in _UNREACHABLE_ERRNOS:
        return QuicProbeOutcome("unreachable", "%s is unreachable: %s" % (where, exc.strerror or exc))
    return QuicProbeOutcome("unreachable", "%s: %s" % (where, exc))


def _frame_answer(data: bytes, where: str) -> Optional[bytes]:
    """The first complete Direct TCP frame in ``data``; None while incomplete; raise NotSmb2Error otherwise."""
    if len(data) < 4:
        return None
    length = parse_frame_length(data[:4])
    if length > _MAX_NEGOTIATE_FRAME or length < 4:
        raise NotSmb2Error(describe_foreign_answer(data))
    if len(data) < 4 + length:
        return None
    return data[4 : 4 + length]


def _connected_udp_socket(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        # A bulk READ arrives faster than a busy host schedules us: a datagram the kernel drops for a full buffer
        # is a loss to QUIC, which halves its window. The kernel caps this at net.core.rmem_max.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER_BYTES)
        sock.connect((address, port))  # connected, so ICMP errors come back to us
    except OSError:
        sock.close()
        raise
    return sock


async def probe_quic(
    host: str,
    address: str,
    port: int,
    *,
    timeout: float,
    level: str,
    cafile: Optional[str] = None,
    fingerprint_sha256: Optional[str] = None,
    validate_certs: bool = True,
    server_name: Optional[str] = None,
    negotiate_request: bytes,
) -> QuicProbeOutcome:
    """Handshake with ALPN ``smb``, send ``negotiate_request`` (framed) on one stream, classify the answer.

    ``timeout`` bounds each step (handshake, NEGOTIATE). At level ``tcp`` the handshake alone proves the
    port open. Never raises for network or TLS trouble; raises ValueError for a malformed fingerprint.
    """
    validation = "on" if validate_certs or fingerprint_sha256 else "off"
    where = "%s port %d/quic" % (host, port)
    if not HAS_QH3:
        return QuicProbeOutcome(
            "unsupported_transport",
            "%s: cannot probe QUIC: the Python library qh3 is not installed where verify runs (pip install qh3)"
            % where,
            tls_validation=validation,
        )
    policy = _certificate_policy(validate_certs, cafile, fingerprint_sha256, server_name or host)
    configuration = _client_configuration(policy.server_name)
    try:
        sock = _connected_udp_socket(address, port)
    except OSError as exc:
        outcome = _icmp_outcome(exc, where)
        outcome.tls_validation = validation
        return outcome
    transport, protocol = await open_datagram_endpoint(
        lambda: _ProbeProtocol(QuicConnection(configuration=configuration)), sock
    )
    try:
        outcome = await _run(protocol, sock.getpeername(), where, timeout, level, policy, negotiate_request)
    finally:
        protocol.close()
        transport.close()
    outcome.tls_validation = validation
    return outcome


async def _handshake(protocol: _ProbeProtocol, peer, where: str, timeout: float, policy: _CertificatePolicy):
    """Connect and check the certificate; return (ok, outcome). A failed outcome carries its status."""
    loop = asyncio.get_running_loop()
    protocol.connect(peer)
    await _wait_for(protocol, lambda: protocol.handshake_done, loop.time() + timeout)
    return _handshake_outcome(protocol, where, timeout, policy)


def _handshake_outcome(protocol, where: str, timeout: float, policy: _CertificatePolicy):
    """(ok, outcome) once the handshake has ended one way or the other (or timed out); refuses a certificate that
    ``policy`` rejects. ``protocol``: a ``_ProbeProtocol`` or a ``_QuicSocketDriver``."""
    if protocol.icmp_error is not None:
        return False, _icmp_outcome(protocol.icmp_error, where)
    if not protocol.handshake_done:
        reason = protocol.close_reason()
        if reason is not None:
            status, message = _describe_close(reason, where)
            return False, QuicProbeOutcome(status, message)
        return False, QuicProbeOutcome("timeout", "%s: no answer to the QUIC handshake within %gs" % (where, timeout))
    outcome = QuicProbeOutcome("smb", alpn=protocol.alpn)
    certificate = protocol._quic.get_peercert()  # the leaf the server proved it holds the key of
    if certificate is None:
        if policy.pin is None and policy.cafile is None:
            return True, outcome
        return False, _refuse_certificate(protocol, outcome, "%s: the server sent no certificate to check" % where)
    leaf = certificate.public_bytes()  # DER
    digest = hashlib.sha256(leaf).digest()
    outcome.certificate_sha256 = _colon_hex(digest)
    if policy.pin is not None and digest.hex() != policy.pin:
        return False, _refuse_certificate(
            protocol,
            outcome,
            "%s presented a certificate with SHA-256 fingerprint %s, not the pinned %s"
            % (where, outcome.certificate_sha256, _colon_hex(bytes.fromhex(policy.pin))),
        )
    problem = _certificate_problem(protocol, policy, leaf)
    if problem is not None:
        return False, _refuse_certificate(
            protocol, outcome, "%s: TLS handshake failed (bad_certificate): %s" % (where, problem)
        )
    return True, outcome


def _refuse_certificate(protocol, handshake: QuicProbeOutcome, message: str) -> QuicProbeOutcome:
    """Close as a TLS client that rejects the certificate would (CRYPTO_ERROR bad_certificate), and say why."""
    protocol._quic.close(error_code=CRYPTO_ERROR_BASE + TLS_ALERT_BAD_CERTIFICATE, reason_phrase="bad certificate")
    protocol.transmit()
    return QuicProbeOutcome("tls_failed", message, certificate_sha256=handshake.certificate_sha256)


async def _run(
    protocol: _ProbeProtocol,
    peer,
    where: str,
    timeout: float,
    level: str,
    policy: _CertificatePolicy,
    request: bytes,
) -> QuicProbeOutcome:
    loop = asyncio.get_running_loop()
    handshake_ok, outcome = await _handshake(protocol, peer, where, timeout, policy)
    if not handshake_ok:
        return outcome
    if level == "tcp":
        outcome.status = "open"
        return outcome
    protocol.stream_id = protocol._quic.get_next_available_stream_id()
    _send_on_stream(protocol, request)
    try:
        await _wait_for(
            protocol,
            lambda: protocol.stream_ended or _frame_answer(bytes(protocol.received), where) is not None,
            loop.time() + timeout,
        )
        message = _frame_answer(bytes(protocol.received), where)
    except NotSmb2Error as exc:
        return _keep_cert(QuicProbeOutcome("not_smb", "%s %s" % (where, exc)), outcome)
    if message is None:
        if protocol.received:
            detail = "sent %d bytes that are not a whole SMB2 frame" % len(protocol.received)
        elif protocol.close_reason() is not None:
            closed = protocol.close_reason()
            detail = "closed the connection without answering the NEGOTIATE (error 0x%x%s)" % (
                closed.error_code,
                ": " + closed.reason_phrase if closed.reason_phrase else "",
            )
        elif protocol.stream_ended:
            detail = "closed the stream without answering the NEGOTIATE"
        else:
            detail = "sent no answer to the NEGOTIATE within %gs" % timeout
        return _keep_cert(QuicProbeOutcome("not_smb", "%s completed the handshake but %s" % (where, detail)), outcome)
    try:
        outcome.answer = parse_negotiate_response(message)
    except NotSmb2Error as exc:
        return _keep_cert(QuicProbeOutcome("not_smb", "%s %s" % (where, exc)), outcome)
    if outcome.answer.status:
        outcome.error = "%s answered SMB2 but refused the NEGOTIATE with NTSTATUS 0x%08x" % (
            where,
            outcome.answer.status,
        )
    return outcome


def _send_on_stream(protocol: _ProbeProtocol, data: bytes) -> None:
    """Queue ``data`` on the SMB stream and send it. A server may close the connection in the same flight that
    completes the handshake (a refusal): qh3 then refuses the data, and the close, once read, says why."""
    try:
        protocol._quic.send_stream_data(protocol.stream_id, data)
    except QuicConnectionError:
        return
    protocol.transmit()


def _keep_cert(new: QuicProbeOutcome, handshake: QuicProbeOutcome) -> QuicProbeOutcome:
    new.certificate_sha256 = handshake.certificate_sha256
    new.alpn = handshake.alpn
    return new
