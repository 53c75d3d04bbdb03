"""Direct TCP framing and the first exchange: whole, byte by byte, with trailing bytes, and hostile frames."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.events import ConnectionShouldClose

from .wire_helpers import events, framed, header, negotiate_request, responses, smb1_negotiate


def dialect_of(response) -> int:
    return struct.unpack_from("<H", response.body, 4)[0]


def test_negotiate_fed_whole(context):
    conn = SMBServerConnection(context)
    conn.receive_data(framed(negotiate_request()), now=1.0)
    (answer,) = responses(conn)
    assert answer.status == 0
    assert dialect_of(answer) == 0x0311
    max_read = struct.unpack_from("<I", answer.body, 28)[0]
    assert max_read == 8 * 1024 * 1024
    assert events(conn) == []


def test_negotiate_fed_byte_by_byte(context):
    conn = SMBServerConnection(context)
    data = framed(negotiate_request())
    for index in range(len(data) - 1):
        conn.receive_data(data[index : index + 1], now=1.0)
        assert responses(conn) == []
    conn.receive_data(data[-1:], now=1.0)
    (answer,) = responses(conn)
    assert dialect_of(answer) == 0x0311


def test_two_frames_and_trailing_bytes_in_one_read(context):
    conn = SMBServerConnection(context)
    echo = framed(header(0x0D, 1) + b"\x04\x00\x00\x00")
    second = framed(header(0x0D, 2) + b"\x04\x00\x00\x00")
    conn.receive_data(framed(negotiate_request()) + echo + second[:5], now=1.0)
    first = responses(conn)
    assert [r.command for r in first] == [0x00, 0x0D]
    conn.receive_data(second[5:], now=1.0)
    assert [r.command for r in responses(conn)] == [0x0D]


def test_oversized_frame_closes_the_connection(context):
    conn = SMBServerConnection(context)
    conn.receive_data(struct.pack(">I", context.max_frame_size + 1) + b"\xfeSMB", now=1.0)
    assert responses(conn) == []
    (event,) = events(conn)
    assert isinstance(event, ConnectionShouldClose)
    assert "max_frame_size" in event.reason


def test_bad_framing_byte_closes_the_connection(context):
    conn = SMBServerConnection(context)
    conn.receive_data(b"GET / HTTP/1.1\r\n\r\n", now=1.0)
    assert isinstance(events(conn)[0], ConnectionShouldClose)
    assert responses(conn) == []


def test_smb1_negotiate_offering_smb2_gets_the_wildcard_dialect(context):
    conn = SMBServerConnection(context)
    conn.receive_data(framed(smb1_negotiate(b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???")), now=1.0)
    (answer,) = responses(conn)
    assert answer.command == 0 and answer.status == 0
    assert dialect_of(answer) == 0x02FF
    assert answer.credits == 1  # the SMB1 NEGOTIATE used MessageId 0 (MS-SMB2 3.3.5.2.3): the next is 1
    conn.receive_data(framed(negotiate_request(message_id=1)), now=1.0)
    assert dialect_of(responses(conn)[0]) == 0x0311


def test_smb1_only_client_is_refused_cleanly(context):
    conn = SMBServerConnection(context)
    conn.receive_data(framed(smb1_negotiate(b"NT LM 0.12")), now=1.0)
    assert responses(conn) == []
    (event,) = events(conn)
    assert isinstance(event, ConnectionShouldClose) and "SMB1" in event.reason


def test_request_before_negotiate_is_an_error_not_a_crash(context):
    conn = SMBServerConnection(context)
    conn.receive_data(framed(header(0x05, 0) + bytes(56)), now=1.0)
    (answer,) = responses(conn)
    assert answer.status == 0xC000000D


def test_truncated_body_is_invalid_parameter(context):
    conn = SMBServerConnection(context)
    conn.receive_data(framed(negotiate_request()), now=1.0)
    responses(conn)
    conn.receive_data(framed(header(0x01, 1) + b"\x19\x00"), now=1.0)
    (answer,) = responses(conn)
    assert answer.status == 0xC000000D
    assert events(conn) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=0, max_size=400))
def test_random_frames_never_raise_and_the_connection_survives(context, payload):
    """The context is only read here, so sharing it between examples is fine."""
    conn = SMBServerConnection(context)
    conn.receive_data(framed(negotiate_request()), now=1.0)
    responses(conn)
    conn.receive_data(framed(b"\xfeSMB" + payload), now=1.0)
    responses(conn)
    if any(isinstance(e, ConnectionShouldClose) for e in events(conn)):
        return  # a broken frame may end the connection, cleanly
    conn.receive_data(framed(header(0x0D, 99) + b"\x04\x00\x00\x00"), now=1.0)
    assert [r.command for r in responses(conn)][-1:] == [0x0D]
