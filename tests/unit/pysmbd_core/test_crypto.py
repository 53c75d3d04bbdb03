"""Keys, signatures and encryption, checked against an independent client-side computation in this file.

The test recomputes the 3.1.1 preauth hash from the raw bytes on the wire, derives the keys with its own
SP800-108 KDF, verifies the server's AES-CMAC signature and speaks AES-128-GCM to the core.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

import pytest
import spnego
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.events import ConnectionShouldClose
from tests.support.accounts import CORE_PASSWORD as PASSWORD
from tests.support.accounts import CORE_USER as USER

from .wire_helpers import events, framed, header, negotiate_request, responses, session_setup_request


def kdf(key: bytes, label: bytes, context: bytes) -> bytes:
    data = struct.pack(">I", 1) + label + b"\x00" + context + struct.pack(">I", 128)
    return hmac.new(key, data, hashlib.sha256).digest()[:16]


def sha512(previous: bytes, message: bytes) -> bytes:
    return hashlib.sha512(previous + message).digest()


def establish(conn: SMBServerConnection):
    """NEGOTIATE 3.1.1 and log in; returns (session_id, preauth hash, session key, final response)."""
    negotiate = negotiate_request(dialects=(0x0311,), ciphers=(2,))
    conn.receive_data(framed(negotiate), now=1.0)
    (neg_answer,) = responses(conn)
    assert struct.unpack_from("<H", neg_answer.body, 4)[0] == 0x0311
    preauth = sha512(sha512(bytes(64), negotiate), neg_answer.raw)
    client = spnego.client(USER, PASSWORD, protocol="negotiate")
    token, session_id, message_id = client.step(), 0, 1
    while True:
        request = session_setup_request(message_id, session_id, token)
        preauth = sha512(preauth, request)
        conn.receive_data(framed(request), now=1.0)
        (answer,) = responses(conn)
        session_id, message_id = answer.session_id, message_id + 1
        offset, length = struct.unpack_from("<HH", answer.body, 4)
        server_token = answer.raw[offset : offset + length]
        if answer.status == 0:
            client.step(server_token)
            return session_id, preauth, client.session_key, answer
        assert answer.status == 0xC0000016
        preauth = sha512(preauth, answer.raw)
        token = client.step(server_token)


def test_final_session_setup_is_signed_with_the_preauth_derived_key(context):
    conn = SMBServerConnection(context)
    _sid, preauth, session_key, final = establish(conn)
    signing_key = kdf(session_key, b"SMBSigningKey\x00", preauth)
    unsigned = final.raw[:48] + bytes(16) + final.raw[64:]
    mac = cmac.CMAC(algorithms.AES(signing_key))
    mac.update(unsigned)
    assert final.signature == mac.finalize()


def seal(key: bytes, session_id: int, message: bytes) -> bytes:
    nonce = os.urandom(12)
    aad = nonce + bytes(4) + struct.pack("<IHHQ", len(message), 0, 1, session_id)
    sealed = AESGCM(key).encrypt(nonce, message, aad)
    return b"\xfdSMB" + sealed[-16:] + aad + sealed[:-16]


def unseal(key: bytes, transform: bytes) -> bytes:
    return AESGCM(key).decrypt(transform[20:32], transform[52:] + transform[4:20], transform[20:52])


def test_encrypted_echo_round_trip_and_tampering_closes(context):
    conn = SMBServerConnection(context)
    session_id, preauth, session_key, _events = establish(conn)
    events(conn)
    to_server = kdf(session_key, b"SMBC2SCipherKey\x00", preauth)
    to_client = kdf(session_key, b"SMBS2CCipherKey\x00", preauth)
    echo = header(0x0D, 10, session_id=session_id) + b"\x04\x00\x00\x00"
    conn.receive_data(framed(seal(to_server, session_id, echo)), now=2.0)
    stream = b"".join(bytes(c) for c in conn.data_to_send())
    reply = unseal(to_client, stream[4:])
    assert reply[:4] == b"\xfeSMB" and struct.unpack_from("<IH", reply, 8) == (0, 0x0D)

    tampered = bytearray(seal(to_server, session_id, echo))
    tampered[-1] ^= 1
    conn.receive_data(framed(bytes(tampered)), now=3.0)
    assert conn.data_to_send() == []
    assert any(isinstance(e, ConnectionShouldClose) for e in events(conn))


@pytest.mark.parametrize("size", [100, 64 * 1024, 8 * 1024 * 1024])
def test_a_gmac_signature_is_the_same_whether_the_message_comes_whole_or_in_parts(size):
    """A signed READ response is signed as header + data without joining them (MS-SMB2 3.1.4.1: AES-GMAC over the
    whole message); the signature must not depend on how the message is split."""
    from pysmbd.core.crypto import SIGN_AES_GMAC, Signer

    signer = Signer(SIGN_AES_GMAC, bytes(range(16)))
    header, data = bytes(64), os.urandom(size)
    whole = signer.signature([header + data], message_id=7, is_response=True)
    assert signer.signature([header, data], message_id=7, is_response=True) == whole
    assert signer.signature([header, memoryview(data), b"\0" * 4], message_id=7, is_response=True) != whole


@pytest.mark.parametrize("key_size", [16, 64, 65, 100])
@pytest.mark.parametrize("size", [0, 100, 64 * 1024 + 3])
def test_an_hmac_sha256_signature_is_rfc_2104_hmac_over_the_whole_message(key_size, size):
    """SMB 2.x signing (MS-SMB2 3.1.4.1: the first 16 bytes of HMAC-SHA256 of the message under the signing key),
    checked against Python's hmac, whole or in parts, for keys shorter than, equal to and longer than a block."""
    from pysmbd.core.crypto import SIGN_HMAC_SHA256, Signer

    key, header, data = os.urandom(key_size), bytes(64), os.urandom(size)
    signer = Signer(SIGN_HMAC_SHA256, key)
    expected = hmac.new(key, header + data, hashlib.sha256).digest()[:16]
    assert signer.signature([header + data], message_id=1, is_response=True) == expected
    assert signer.signature([header, memoryview(data)], message_id=2, is_response=False) == expected
    assert signer.signature([header, data[:-1] if data else b"x"], message_id=3, is_response=True) != expected
