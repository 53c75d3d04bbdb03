"""The SMB2 NEGOTIATE request we send and the answers we accept or reject (MS-SMB2 2.2.3, 2.2.4)."""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smbprotocol.connection import SMB2NegotiateRequest
from smbprotocol.header import SMB2HeaderRequest

from ansible_collections.smb.alternative_ports.plugins.module_utils._smb2_negotiate import (
    NotSmb2Error,
    build_negotiate_request,
    parse_frame_length,
    parse_negotiate_response,
)

GUID = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")


def test_request_is_framed_and_parsed_by_smbprotocol_as_a_negotiate_offering_every_dialect():
    data = build_negotiate_request(GUID.bytes_le)
    assert data[0] == 0 and struct.unpack(">I", data[:4])[0] == len(data) - 4
    header = SMB2HeaderRequest()
    header.unpack(data[4:])
    assert header["protocol_id"].get_value() == b"\xfeSMB"
    assert header["command"].get_value() == 0  # NEGOTIATE
    assert header["message_id"].get_value() == 0
    request = SMB2NegotiateRequest()
    request.unpack(header["data"].get_value())
    assert request["structure_size"].get_value() == 36
    assert [int(d) for d in request["dialects"].get_value()] == [0x0202, 0x0210, 0x0300, 0x0302, 0x0311]
    assert data[4 + 64 + 12 : 4 + 64 + 28] == GUID.bytes_le  # MS-DTYP GUID: little-endian fields on the wire


def _contexts(message: bytes) -> dict:
    """Walk the request's negotiate contexts by their offsets, as a server would."""
    offset, count = struct.unpack_from("<IH", message, 64 + 28)
    assert offset % 8 == 0, "the first negotiate context must be 8-byte aligned"
    found = {}
    end = offset
    for _index in range(count):
        offset = end + (-end % 8)
        context_type, length = struct.unpack_from("<HH", message, offset)
        found[context_type] = message[offset + 8 : offset + 8 + length]
        end = offset + 8 + length
    assert end == len(message), "the last context ends the message"
    return found


def test_request_carries_the_preauth_integrity_and_encryption_contexts():
    message = build_negotiate_request()[4:]
    contexts = _contexts(message)
    hash_count, salt_length, hash_algorithm = struct.unpack_from("<HHH", contexts[1])
    assert (hash_count, salt_length, hash_algorithm) == (1, 32, 0x0001)  # SHA-512 with a 32-byte salt
    cipher_count = struct.unpack_from("<H", contexts[2])[0]
    ciphers = struct.unpack_from("<%dH" % cipher_count, contexts[2], 2)
    assert set(ciphers) == {1, 2, 3, 4}
    assert len(contexts[2]) == 2 + 2 * cipher_count


def test_each_request_has_a_fresh_client_guid_and_salt():
    assert build_negotiate_request()[4 + 64 + 12 : 4 + 64 + 28] != build_negotiate_request()[4 + 64 + 12 : 4 + 64 + 28]


def negotiate_response(
    dialect: int = 0x0311, security_mode: int = 0x03, status: int = 0, capabilities: int = 0x07, cipher: int = 2
) -> bytes:
    """An SMB2 NEGOTIATE response laid out by hand from MS-SMB2 2.2.4."""
    header = struct.pack("<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 1, status, 0, 1, 0x1, 0, 0, 0xFEFF, 0, 0, bytes(16))
    if status:
        return header + struct.pack("<HBBI", 9, 0, 0, 0) + b"\x00"
    guid = uuid.UUID("11223344-5566-7788-99aa-bbccddeeff00").bytes_le
    preauth = struct.pack("<HHH", 1, 32, 1) + bytes(32)
    encryption = struct.pack("<HH", 1, cipher)
    contexts = struct.pack("<HHI", 1, len(preauth), 0) + preauth
    contexts += b"\x00" * (-len(contexts) % 8)
    contexts += struct.pack("<HHI", 2, len(encryption), 0) + encryption
    security_blob = b"\x60\x28" + bytes(40)
    fixed = 64 + 64
    context_offset = fixed + len(security_blob)
    context_offset += -context_offset % 8
    body = struct.pack(
        "<HHHH16sIIIIQQHHI",
        65,
        security_mode,
        dialect,
        2 if dialect == 0x0311 else 0,
        guid,
        capabilities,
        1 << 20,
        1 << 23,
        1 << 22,
        0,
        0,
        fixed,
        len(security_blob),
        context_offset if dialect == 0x0311 else 0,
    )
    message = header + body + security_blob
    if dialect == 0x0311:
        message += b"\x00" * (context_offset - len(message)) + contexts
    return message


def test_parses_dialect_signing_guid_capabilities_sizes_and_cipher():
    answer = parse_negotiate_response(negotiate_response())
    assert answer.dialect == "3.1.1"
    assert answer.signing_required is True
    assert answer.server_guid == "11223344-5566-7788-99aa-bbccddeeff00"
    assert answer.capabilities == ["dfs", "leasing", "large_mtu"]
    assert (answer.max_transact_size, answer.max_read_size, answer.max_write_size) == (1 << 20, 1 << 23, 1 << 22)
    assert answer.cipher == "AES-128-GCM"


@pytest.mark.parametrize(("dialect", "name"), [(0x0202, "2.0.2"), (0x0210, "2.1"), (0x0300, "3.0"), (0x0302, "3.0.2")])
def test_older_dialects_have_no_contexts_and_signing_may_be_optional(dialect, name):
    answer = parse_negotiate_response(negotiate_response(dialect=dialect, security_mode=0x01))
    assert answer.dialect == name
    assert answer.signing_required is False
    assert answer.cipher is None


def test_an_error_status_is_still_an_smb2_answer_without_details():
    answer = parse_negotiate_response(negotiate_response(status=0xC00000BB))
    assert answer.status == 0xC00000BB and answer.dialect is None


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xffSMBr" + bytes(40), "SMB1"),
        (b"HTTP/1.0 400 Bad request\r\n\r\n", "HTTP/1.0 400 Bad request"),
        (b"<!DOCTYPE HTML>\n<html><body>Error 400</body></html>", "HTML page"),
        (b"\x16\x03\x01\x00\x2a" + bytes(42), "TLS"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "SSH"),
        (b"\xfeSMB" + bytes(10), "not SMB2"),
        (b"garbage!", "not SMB2"),
    ],
)
def test_foreign_answers_are_named(data, words):
    with pytest.raises(NotSmb2Error, match=words):
        parse_negotiate_response(data)


def test_an_smb2_message_that_is_not_a_negotiate_response_is_rejected():
    request_echo = build_negotiate_request()[4:]  # a server that echoes our request back: flags lack RESPONSE
    with pytest.raises(NotSmb2Error, match="not a NEGOTIATE response"):
        parse_negotiate_response(request_echo)


def test_a_truncated_response_is_rejected_not_misread():
    with pytest.raises(NotSmb2Error, match="truncated"):
        parse_negotiate_response(negotiate_response()[:100])


def test_frame_length_refuses_a_non_zero_first_byte():
    assert parse_frame_length(b"\x00\x00\x01\x00") == 256
    with pytest.raises(NotSmb2Error, match="HTTP"):
        parse_frame_length(b"HTTP")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_either_parse_or_raise_not_smb2(data):
    try:
        parse_negotiate_response(data)
    except NotSmb2Error:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=64, max_value=300))
def test_every_truncation_of_a_real_answer_raises_not_smb2(cut):
    full = negotiate_response()
    if cut >= 128:  # the fixed part is whole: the answer parses, contexts are read only where present
        parse_negotiate_response(full[:cut])
        return
    with pytest.raises(NotSmb2Error):
        parse_negotiate_response(full[:cut])
