"""Unit tests of the QUIC probe's pure parts, and of the qh3 behaviour its classification relies on.

The ALPN test wires a real qh3 client and server to each other in memory (no sockets, time moved by hand),
so the close code ``probe_quic`` maps to ``alpn_mismatch`` is checked against qh3 itself, not assumed.
"""

from __future__ import annotations

import asyncio
import struct
import sys

import pytest
from qh3.quic.configuration import QuicConfiguration
from qh3.quic.connection import QuicConnection
from qh3.quic.events import ConnectionTerminated
from qh3.tls import AlertDescription

from ansible_collections.smb.alternative_ports.plugins.module_utils import _probe_quic, _smb_over_quic
from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_quic import (
    TLS_ALERT_NO_APPLICATION_PROTOCOL,
    _describe_close,
    _frame_answer,
    normalize_fingerprint,
    probe_quic,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._smb2_negotiate import NotSmb2Error

PIN = "a9:1d:50:34:4c:b4:fd:ce:db:5c:08:e9:7a:0d:d1:db:19:5e:7f:c2:a9:8c:7d:9f:cc:c6:a7:1d:1b:20:55:8e"


@pytest.mark.parametrize(
    "text",
    [PIN, PIN.upper(), PIN.replace(":", ""), "sha256:" + PIN, "  " + PIN.replace(":", " ") + " "],
)
def test_fingerprint_forms_normalize_to_hex(text: str) -> None:
    assert normalize_fingerprint(text) == PIN.replace(":", "")


@pytest.mark.parametrize("text", ["", "ab" * 31, "ab" * 33, "zz" * 32, PIN[:-1]])
def test_bad_fingerprint_is_rejected_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        normalize_fingerprint(text)


def _certificate_files(tmp_path):
    from pysmbd.server.certs import generate_self_signed

    return generate_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem", ["localhost"])


def _exchange(client: QuicConnection, server: QuicConnection, now: float) -> None:
    """Carry every pending datagram both ways until both sides are quiet."""
    for _round in range(20):
        moved = False
        for sender, receiver, address in ((client, server, ("1.2.3.4", 1234)), (server, client, ("2.3.4.5", 4433))):
            for data, _addr in sender.datagrams_to_send(now=now):
                receiver.receive_datagram(data, address, now=now)
                moved = True
        if not moved:
            return


def _terminations(connection: QuicConnection) -> list:
    found = []
    while True:
        event = connection.next_event()
        if event is None:
            return found
        if isinstance(event, ConnectionTerminated):
            found.append(event)


def test_a_qh3_server_without_alpn_smb_closes_in_a_way_that_maps_to_alpn_mismatch(tmp_path) -> None:
    pair = _certificate_files(tmp_path)
    server_config = QuicConfiguration(is_client=False, alpn_protocols=["h3"])
    server_config.load_cert_chain(str(pair.certificate), str(pair.private_key))
    client_config = QuicConfiguration(is_client=True, alpn_protocols=["smb"], server_name="localhost")
    client_config.load_verify_locations(cafile=str(pair.certificate))
    client = QuicConnection(configuration=client_config)
    now = 1.0
    client.connect(("2.3.4.5", 4433), now=now)
    first = client.datagrams_to_send(now=now)
    server = QuicConnection(
        configuration=server_config, original_destination_connection_id=client.original_destination_connection_id
    )
    for data, _addr in first:
        server.receive_datagram(data, ("1.2.3.4", 1234), now=now)
    _exchange(client, server, now)
    # The client learns the reason at once (draining); qh3 reports the event when the drain period ends.
    client.handle_timer(now=now + 10)
    closed = _terminations(client)
    assert closed, "qh3 did not close a connection whose ALPN did not match"
    # RFC 9001 8.1 asks for no_application_protocol (0x178; aioquic sends it, see the HTTP/3 test in
    # tests/integration/quic); qh3 sends handshake_failure (0x128) with a reason that names ALPN.
    assert AlertDescription.no_application_protocol == TLS_ALERT_NO_APPLICATION_PROTOCOL
    assert closed[0].error_code == 0x100 + AlertDescription.handshake_failure
    assert "ALPN" in closed[0].reason_phrase
    status, message = _describe_close(closed[0], "files port 8443/quic")
    assert status == "alpn_mismatch"
    assert "files port 8443/quic" in message and "0x128" in message and "ALPN 'smb'" in message


def test_no_application_protocol_maps_to_alpn_mismatch() -> None:
    event = ConnectionTerminated(error_code=0x178, frame_type=None, reason_phrase="")
    status, message = _describe_close(event, "files port 8443/quic")
    assert status == "alpn_mismatch"
    assert "no_application_protocol" in message and "0x178" in message


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        (0x100 + 42, "tls_failed", "bad_certificate"),
        (0x100 + 48, "tls_failed", "unknown_ca"),
        (0x100 + 40, "tls_failed", "handshake_failure"),  # "why" does not name ALPN
        (0x0A, "not_smb", "closed the QUIC connection during the handshake (error 0xa"),
        (0x2, "not_smb", "error 0x2"),
    ],
)
def test_close_codes_map_to_statuses(code: int, status: str, words: str) -> None:
    event = ConnectionTerminated(error_code=code, frame_type=None, reason_phrase="why")
    got_status, message = _describe_close(event, "h port 1/quic")
    assert got_status == status
    assert words in message


def _frame(message: bytes) -> bytes:
    return struct.pack(">I", len(message)) + message


def test_frame_answer_waits_for_a_whole_frame() -> None:
    message = b"\xfeSMB" + bytes(60)
    framed = _frame(message)
    assert _frame_answer(framed[:3], "w") is None
    assert _frame_answer(framed[:-1], "w") is None
    assert _frame_answer(framed + b"extra", "w") == message


@pytest.mark.parametrize(
    ("answer", "words"),
    [(b"HTTP/1.1 400 Bad Request\r\n\r\n", "HTTP"), (b"\x16\x03\x01\x02\x00", "TLS"), (_frame(b"ab"), "not SMB2")],
)
def test_frame_answer_names_foreign_protocols(answer: bytes, words: str) -> None:
    with pytest.raises(NotSmb2Error, match=words):
        _frame_answer(answer, "w")


def test_without_qh3_the_probe_says_it_cannot_check_quic(monkeypatch) -> None:
    monkeypatch.setattr(_probe_quic, "HAS_QH3", False)
    outcome = asyncio.run(
        probe_quic(
            "files", "127.0.0.1", 8443, timeout=1, level="negotiate", validate_certs=False, negotiate_request=b""
        )
    )
    assert outcome.status == "unsupported_transport"
    assert "qh3 is not installed" in outcome.error
    assert outcome.tls_validation == "off"


def test_malformed_pin_is_an_error_before_any_network_traffic() -> None:
    with pytest.raises(ValueError, match="fingerprint_sha256"):
        asyncio.run(
            probe_quic(
                "files", "127.0.0.1", 9, timeout=1, level="negotiate", fingerprint_sha256="xyz", negotiate_request=b""
            )
        )


@pytest.mark.parametrize(
    ("validate_certs", "cafile", "pin", "checks_chain_against"),
    [
        (True, "/etc/smb/ca.pem", None, "/etc/smb/ca.pem"),
        (True, None, None, "system"),
        (True, None, PIN, None),  # a pin alone replaces the chain check (self-signed lab servers)
        (True, "/etc/smb/ca.pem", PIN, "/etc/smb/ca.pem"),  # both are checked
        (False, "/etc/smb/ca.pem", None, None),
    ],
)
def test_which_checks_a_certificate_gets(validate_certs, cafile, pin, checks_chain_against) -> None:
    policy = _probe_quic._certificate_policy(validate_certs, cafile, pin, "files.example")
    assert policy.server_name == "files.example"
    assert policy.pin == (PIN.replace(":", "") if pin else None)
    if checks_chain_against == "system":
        assert policy.cafile == (_probe_quic._system_cafile() or "")
    else:
        assert policy.cafile == checks_chain_against


def _another_copy_of_the_session_module(name: str, monkeypatch):
    """``_smb_over_quic`` loaded again under another name, as when the collection is imported from two paths in one
    process (the verify action on the controller beside a test run's own import)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, _smb_over_quic.__file__)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_two_copies_of_the_session_module_leave_plain_tcp_sessions_on_smbprotocols_transport(monkeypatch):
    from smbprotocol import connection as smb_connection

    def smbprotocol_tcp(server, port, timeout=None):
        return ("tcp", server, port)

    monkeypatch.setattr(smb_connection, "Tcp", smbprotocol_tcp)

    class NoConnect:
        def connect(self, timeout):
            """connect_smb_over_quic only needs its stand-in installed here."""

    copies = [_another_copy_of_the_session_module(name, monkeypatch) for name in ("session_copy_a", "session_copy_b")]
    for copy in copies + copies:  # each installs its stand-in over the other's, twice
        copy.connect_smb_over_quic(NoConnect(), 1.0)
    assert smb_connection.Tcp("fs1", 4445, 5) == ("tcp", "fs1", 4445)
