"""WinRM message encryption framing (MS-WSMV 2.2.9.1.1, "HTTP-SPNEGO-session-encrypted").

A body is two MIME-like parts between ``--Encrypted Boundary`` lines: a header part with the
original length, then ``application/octet-stream`` followed by a little-endian uint32 signature
length, the signature and the sealed SOAP message. Replies use the same framing byte for byte, since
pywinrm's parser splits on the exact boundary and header strings.
"""

from __future__ import annotations

import re
import struct

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
_BOUNDARY = b"--Encrypted Boundary"
_OCTET_HEADER = b"\tContent-Type: application/octet-stream\r\n"
_LENGTH = re.compile(rb"Length=(\d+)")


class EncryptionError(ValueError):
    """The body is not a well-formed encrypted WinRM message."""


def is_encrypted(content_type: str) -> bool:
    """True for an HTTP-SPNEGO-session-encrypted body."""
    return "multipart/encrypted" in content_type.lower() and PROTOCOL.lower() in content_type.lower()


def split_encrypted(body: bytes) -> tuple[int, bytes, bytes]:
    """(original length, signature, sealed data) of a single-part encrypted body."""
    end = body.rfind(_BOUNDARY + b"--")
    first = body.find(_BOUNDARY + b"\r\n")
    octet = body.find(_OCTET_HEADER)
    if first != 0 or octet == -1 or end == -1 or end < octet:
        raise EncryptionError("missing Encrypted Boundary parts")
    length = _LENGTH.search(body[:octet])
    if length is None:
        raise EncryptionError("missing OriginalContent Length")
    payload = body[octet + len(_OCTET_HEADER) : end]
    if len(payload) < 4:
        raise EncryptionError("encrypted part too short")
    (signature_length,) = struct.unpack("<I", payload[:4])
    if signature_length > len(payload) - 4:
        raise EncryptionError("signature length beyond the body")
    return int(length.group(1)), payload[4 : 4 + signature_length], payload[4 + signature_length :]


def build_encrypted(original_length: int, signature: bytes, sealed: bytes) -> bytes:
    """The framed body of an encrypted reply."""
    return (
        _BOUNDARY
        + b"\r\n\tContent-Type: "
        + PROTOCOL.encode()
        + b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(original_length).encode()
        + b"\r\n"
        + _BOUNDARY
        + b"\r\n"
        + _OCTET_HEADER
        + struct.pack("<I", len(signature))
        + signature
        + sealed
        + _BOUNDARY
        + b"--\r\n"
    )
