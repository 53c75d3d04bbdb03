"""The QUIC listener's TLS identity: the key formats an administrator brings, and a clear error for a bad file.

Each case completes a real TLS 1.3 handshake between a qh3 client and the listener's configuration, carried
by hand between two sans-IO ``QuicConnection`` objects (no sockets), and checks the ALPN and the certificate
the client saw.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from qh3._hazmat import pull_quic_header
from qh3.quic import events as quic_events
from qh3.quic.configuration import QuicConfiguration
from qh3.quic.connection import QuicConnection

from pysmbd.config import QuicSettings
from pysmbd.server.certs import build_self_signed
from pysmbd.server.quic import ALPN, server_configuration

CLIENT_ADDR = ("127.0.0.1", 50000)
SERVER_ADDR = ("127.0.0.1", 8443)


def handshake(server_config: QuicConfiguration) -> tuple:
    """Run a handshake to completion; return (client's ALPN, DER of the certificate the client received)."""
    client = QuicConnection(
        configuration=QuicConfiguration(is_client=True, alpn_protocols=[ALPN], verify_mode=ssl.CERT_NONE)
    )
    client.connect(SERVER_ADDR, now=0.0)
    server = None
    now = 0.0
    for _turn in range(20):
        now += 0.01
        for data, _addr in client.datagrams_to_send(now=now):
            if server is None:
                destination_cid = pull_quic_header(data, 0, 8)[3]
                server = QuicConnection(configuration=server_config, original_destination_connection_id=destination_cid)
            server.receive_datagram(data, CLIENT_ADDR, now=now)
        assert server is not None
        for data, _addr in server.datagrams_to_send(now=now):
            client.receive_datagram(data, SERVER_ADDR, now=now)
        while (event := client.next_event()) is not None:
            if isinstance(event, quic_events.HandshakeCompleted):
                return event.alpn_protocol, client.get_peercert().public_bytes()
            assert not isinstance(event, quic_events.ConnectionTerminated), event
    pytest.fail("no handshake after 20 turns")


def _pair(key, path: Path) -> tuple:
    """A self-signed certificate for ``key``; returns (certificate file, DER)."""
    certificate, _key = build_self_signed(["files.lab"], key=key)
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path, certificate.public_bytes(serialization.Encoding.DER)


KEYS: dict[str, Callable[[], tuple]] = {
    "ECDSA P-256, PKCS#8 (pysmbd gen-cert)": lambda: (
        ec.generate_private_key(ec.SECP256R1()),
        serialization.PrivateFormat.PKCS8,
    ),
    "ECDSA P-384, SEC1 (openssl ecparam -genkey)": lambda: (
        ec.generate_private_key(ec.SECP384R1()),
        serialization.PrivateFormat.TraditionalOpenSSL,
    ),
    "RSA 2048, PKCS#1 (openssl genrsa)": lambda: (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        serialization.PrivateFormat.TraditionalOpenSSL,
    ),
    "RSA 2048, PKCS#8": lambda: (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        serialization.PrivateFormat.PKCS8,
    ),
}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_the_listener_serves_tls13_with_alpn_smb_for_each_common_key_format(tmp_path: Path, kind: str) -> None:
    key, key_format = KEYS[kind]()
    certificate, der = _pair(key, tmp_path / "cert.pem")
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, key_format, serialization.NoEncryption()))
    configuration = server_configuration(QuicSettings(certificate, key_file, max_datagram_size=1200), 30.0)
    assert handshake(configuration) == (ALPN, der)


@pytest.mark.parametrize(
    "key_text, error",
    [
        ("not a PEM key\n", ValueError),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", ValueError),
    ],
)
def test_a_key_that_does_not_parse_raises_an_error_the_listener_reports(tmp_path: Path, key_text, error) -> None:
    # qh3 alone panics on the first (a BaseException that would end the server) and raises its own CryptoError on
    # the second; the listener expects ValueError, TypeError or OSError, which it reports naming the files.
    key = ec.generate_private_key(ec.SECP256R1())
    certificate, _der = _pair(key, tmp_path / "cert.pem")
    key_file = tmp_path / "key.pem"
    key_file.write_text(key_text)
    with pytest.raises(error):
        server_configuration(QuicSettings(certificate, key_file, max_datagram_size=1200), 30.0)


def test_an_encrypted_key_is_refused_with_a_type_error(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate, _der = _pair(key, tmp_path / "cert.pem")
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(TypeError):
        server_configuration(QuicSettings(certificate, key_file, max_datagram_size=1200), 30.0)
