"""``probe_quic`` against real QUIC peers: pysmbd's QUIC listener, an HTTP/3 server, a QUIC server that is not SMB.

Each classification a user would see in verify's table over QUIC, from a real handshake on loopback.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Optional

import pytest
from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic import events as quic_events
from aioquic.quic.configuration import QuicConfiguration

from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_quic import probe_quic
from ansible_collections.smb.alternative_ports.plugins.module_utils._smb2_negotiate import build_negotiate_request
from tests.support.net import free_port
from tests.support.quic_probe import probe_loopback_quic

pytestmark = pytest.mark.timeout(60)


def probe(port: int, **options):
    return probe_loopback_quic(port, **options)


def test_pysmbd_quic_port_answers_smb_311_with_its_ca(quic_pysmbd) -> None:
    outcome = probe(quic_pysmbd.quic_port, cafile=str(quic_pysmbd.certificate.certificate))
    assert outcome.status == "smb", outcome.error
    assert outcome.error is None
    assert outcome.answer.dialect == "3.1.1"
    assert outcome.answer.signing_required is True
    assert outcome.alpn == "smb"
    assert outcome.tls_validation == "on"
    assert outcome.certificate_sha256 == quic_pysmbd.certificate.fingerprint_sha256


def test_pinned_fingerprint_alone_validates_a_self_signed_server(quic_pysmbd) -> None:
    pin = quic_pysmbd.certificate.fingerprint_sha256.upper()  # how Windows and openssl print it
    outcome = probe(quic_pysmbd.quic_port, fingerprint_sha256=pin)
    assert (outcome.status, outcome.tls_validation) == ("smb", "on"), outcome.error
    assert outcome.answer.dialect == "3.1.1"


def test_wrong_pinned_fingerprint_is_tls_failed(quic_pysmbd) -> None:
    outcome = probe(quic_pysmbd.quic_port, fingerprint_sha256="ab" * 32)
    assert outcome.status == "tls_failed"
    assert "not the pinned ab:ab" in outcome.error
    assert quic_pysmbd.certificate.fingerprint_sha256 in outcome.error


def test_wrong_ca_is_tls_failed(quic_pysmbd, other_ca) -> None:
    outcome = probe(quic_pysmbd.quic_port, cafile=str(other_ca.certificate))
    assert outcome.status == "tls_failed"
    assert "TLS handshake failed" in outcome.error and "port %d/quic" % quic_pysmbd.quic_port in outcome.error


def test_self_signed_server_is_not_trusted_by_the_system_cas(quic_pysmbd) -> None:
    outcome = probe(quic_pysmbd.quic_port)
    assert outcome.status == "tls_failed"
    assert outcome.tls_validation == "on"


def test_name_that_the_certificate_does_not_carry_is_tls_failed(quic_pysmbd) -> None:
    outcome = probe(quic_pysmbd.quic_port, cafile=str(quic_pysmbd.certificate.certificate), server_name="files.example")
    assert outcome.status == "tls_failed"
    assert "files.example" in outcome.error


def test_validation_off_is_reported(quic_pysmbd) -> None:
    outcome = probe(quic_pysmbd.quic_port, validate_certs=False)
    assert (outcome.status, outcome.tls_validation) == ("smb", "off"), outcome.error
    assert outcome.answer.dialect == "3.1.1"


def test_level_tcp_stops_after_the_handshake(quic_pysmbd) -> None:
    outcome = probe(quic_pysmbd.quic_port, level="tcp", cafile=str(quic_pysmbd.certificate.certificate))
    assert outcome.status == "open"
    assert outcome.answer is None


def test_closed_udp_port_is_refused() -> None:
    outcome = probe(free_port(socket.SOCK_DGRAM), validate_certs=False)
    assert outcome.status == "refused"
    assert "nothing listens" in outcome.error


def test_udp_port_that_never_answers_is_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        outcome = probe(silent.getsockname()[1], validate_certs=False, timeout=1.0)
    assert outcome.status == "timeout"
    assert "no answer to the QUIC handshake within 1s" in outcome.error


def test_tcp_only_pysmbd_port_probed_over_quic_is_refused(quic_pysmbd) -> None:
    # The TCP port of the same server: nothing listens on that number over UDP.
    outcome = probe(quic_pysmbd.tcp_port, validate_certs=False)
    assert outcome.status == "refused"


# --------------------------------------------------------------------------------- QUIC servers that are not SMB


class _Http3Server(QuicConnectionProtocol):
    """A real (small) HTTP/3 server: answers every request with 200 and a short body."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._http: Optional[H3Connection] = None

    def quic_event_received(self, event: quic_events.QuicEvent) -> None:
        if isinstance(event, quic_events.ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._http = H3Connection(self._quic)
        if self._http is None:
            return
        for http_event in self._http.handle_event(event):
            if isinstance(http_event, HeadersReceived):
                self._http.send_headers(http_event.stream_id, [(b":status", b"200")])
                self._http.send_data(http_event.stream_id, b"hello over HTTP/3\n", end_stream=True)
        self.transmit()


class _EchoServer(QuicConnectionProtocol):
    """Accepts ALPN smb, then answers every stream with a line of text: QUIC, but not SMB."""

    def quic_event_received(self, event: quic_events.QuicEvent) -> None:
        if isinstance(event, quic_events.StreamDataReceived) and event.data:
            self._quic.send_stream_data(event.stream_id, b"220 not an SMB server\r\n", end_stream=True)
            self.transmit()


async def _probe_against(server_protocol, alpn: list, certificate, port: int):
    configuration = QuicConfiguration(is_client=False, alpn_protocols=alpn)
    configuration.load_cert_chain(str(certificate.certificate), str(certificate.private_key))
    server = await serve("127.0.0.1", port, configuration=configuration, create_protocol=server_protocol)
    try:
        return await probe_quic(
            "localhost",
            "127.0.0.1",
            port,
            timeout=3.0,
            level="negotiate",
            cafile=str(certificate.certificate),
            negotiate_request=build_negotiate_request(),
        )
    finally:
        server.close()


def test_http3_server_is_alpn_mismatch(other_ca) -> None:
    outcome = asyncio.run(_probe_against(_Http3Server, H3_ALPN, other_ca, free_port(socket.SOCK_DGRAM)))
    assert outcome.status == "alpn_mismatch"
    assert "does not offer ALPN 'smb'" in outcome.error and "0x178" in outcome.error


def test_quic_server_with_smb_alpn_that_speaks_something_else_is_not_smb(other_ca) -> None:
    outcome = asyncio.run(_probe_against(_EchoServer, ["smb"], other_ca, free_port(socket.SOCK_DGRAM)))
    assert outcome.status == "not_smb"
    assert "not SMB2" in outcome.error
    assert outcome.certificate_sha256 == other_ca.fingerprint_sha256
