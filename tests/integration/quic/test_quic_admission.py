"""Admission over SMB over QUIC, as over TCP: the login and frame deadlines and the per-address cap."""

from __future__ import annotations

import json
import time
import uuid

from tests.support.pysmbd_server import start_quic_pysmbd
from tests.support.quic_probe import probe_loopback_quic

from .test_smb_over_quic import QuicSession


def log_events(server, event: str) -> list:
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def assert_a_session_still_works(server, name: str) -> None:
    """A client that logs in and sends whole frames is served, after the server closed a misbehaving one."""
    session = QuicSession(server.quic_port, str(server.certificate.certificate))
    try:
        session.put(name, b"kept\n")
        assert session.get(name) == b"kept\n"
    finally:
        session.close()


def test_a_quic_connection_that_never_logs_in_is_closed_at_login_timeout(tmp_path) -> None:
    from smbprotocol.connection import Connection

    from plugins.module_utils._smb_over_quic import connect_smb_over_quic

    server = start_quic_pysmbd(tmp_path / "pysmbd", server_settings="login_timeout = 3")
    try:
        idle = Connection(uuid.uuid4(), "127.0.0.1", server.quic_port, require_signing=True)
        connect_smb_over_quic(idle, 10, cafile=str(server.certificate.certificate))  # NEGOTIATE, then nothing
        try:
            for _wait in range(300):
                if log_events(server, "connection_login_timeout"):
                    break
                time.sleep(0.05)
            (closed,) = log_events(server, "connection_login_timeout")
            assert "login_timeout (3 s)" in closed["reason"]
        finally:
            idle.disconnect()
        assert_a_session_still_works(server, "in-time.txt")
    finally:
        server.stop()


def test_a_quic_client_over_the_per_address_cap_is_told_why(tmp_path) -> None:
    server = start_quic_pysmbd(tmp_path / "pysmbd", server_settings="max_connections_per_address = 1")
    try:
        first = QuicSession(server.quic_port, str(server.certificate.certificate))
        try:
            refused = probe_loopback_quic(server.quic_port, timeout=3.0, validate_certs=False)
            assert refused.status == "not_smb"
            assert "max_connections_per_address (1) reached for 127.0.0.1" in refused.error
            first.put("mine.txt", b"still mine\n")
            assert first.get("mine.txt") == b"still mine\n"
        finally:
            first.close()
    finally:
        server.stop()


def test_a_quic_client_that_leaves_a_frame_unfinished_is_closed_at_frame_timeout(tmp_path) -> None:
    from plugins.module_utils._smb_over_quic import SmbQuicTransport

    server = start_quic_pysmbd(tmp_path / "pysmbd", server_settings="frame_timeout = 2\nlogin_timeout = 60")
    try:
        dripping = SmbQuicTransport("127.0.0.1", server.quic_port, cafile=str(server.certificate.certificate))
        dripping.connect()
        try:
            started = time.monotonic()
            dripping._driver.send_stream(b"\x00\x00\x01\x00\xfe")  # 1 byte of a 256-byte frame, then nothing
            assert dripping.recv(30) == b"", "the server answered a frame it never received whole"
            assert time.monotonic() - started < 10, "closed, but not at frame_timeout (2 s; checked every 0.5 s)"
            (closed,) = log_events(server, "connection_frame_timeout")
            assert "frame_timeout (2 s)" in closed["reason"]
        finally:
            dripping.close()
        assert_a_session_still_works(server, "whole.txt")
    finally:
        server.stop()
