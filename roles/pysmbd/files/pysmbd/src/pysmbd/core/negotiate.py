"""NEGOTIATE (MS-SMB2 2.2.3, 2.2.4, 3.3.5.3, 3.3.5.4): dialect choice, capabilities and negotiate contexts."""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass, field

from . import crypto
from .status import STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED, STATUS_SUCCESS, SMBError
from .wire import (
    DIALECT_202,
    DIALECT_210,
    DIALECT_300,
    DIALECT_302,
    DIALECT_311,
    DIALECT_WILDCARD,
    HEADER_SIZE,
    pad8,
)

CAP_DFS = 0x01
CAP_LEASING = 0x02
CAP_LARGE_MTU = 0x04
CAP_MULTI_CHANNEL = 0x08
CAP_ENCRYPTION = 0x40
SECURITY_SIGNING_ENABLED = 0x01
SECURITY_SIGNING_REQUIRED = 0x02

CTX_PREAUTH_INTEGRITY = 0x0001
CTX_ENCRYPTION = 0x0002
CTX_TRANSPORT_CAPABILITIES = 0x0006
CTX_SIGNING = 0x0008
HASH_SHA512 = 0x0001

SUPPORTED_DIALECTS = (DIALECT_202, DIALECT_210, DIALECT_300, DIALECT_302, DIALECT_311)
SMALL_MTU = 65536
SIGNING_PREFERENCE = (crypto.SIGN_AES_GMAC, crypto.SIGN_AES_CMAC, crypto.SIGN_HMAC_SHA256)

REQUEST = struct.Struct("<HHHHI16sIHH")  # StructureSize .. NegotiateContextCount, Reserved2
RESPONSE = struct.Struct("<HHHH16sIIIIQQHHI")
CONTEXT_HEADER = struct.Struct("<HHI")
EPOCH_AS_FILETIME = 116444736000000000


def filetime(unix_seconds: float) -> int:
    """Seconds since 1970 as a Windows FILETIME (100 ns ticks since 1601)."""
    return int(unix_seconds * 10_000_000) + EPOCH_AS_FILETIME if unix_seconds > 0 else 0


@dataclass
class NegotiateResult:
    """What a NEGOTIATE settled for the connection."""

    dialect: int
    client_guid: bytes
    client_capabilities: int
    client_security_mode: int
    server_capabilities: int
    server_security_mode: int
    client_dialects: tuple[int, ...]
    cipher_id: int = 0
    signing_algorithm: int = crypto.SIGN_HMAC_SHA256
    response_contexts: list[tuple[int, bytes]] = field(default_factory=list)


def choose_dialect(client_dialects: tuple[int, ...], allow_202: bool = True) -> int:
    """The highest dialect both sides speak; 0 when there is none."""
    offered = [d for d in SUPPORTED_DIALECTS if d in client_dialects and (allow_202 or d != DIALECT_202)]
    return max(offered) if offered else 0


def _parse_contexts(message: memoryview, offset: int, count: int) -> dict[int, bytes]:
    contexts: dict[int, bytes] = {}
    for _index in range(count):
        offset += pad8(offset)
        if offset + CONTEXT_HEADER.size > len(message):
            raise SMBError(STATUS_INVALID_PARAMETER, "negotiate context outside the message")
        ctx_type, length, _reserved = CONTEXT_HEADER.unpack_from(message, offset)
        start = offset + CONTEXT_HEADER.size
        if start + length > len(message):
            raise SMBError(STATUS_INVALID_PARAMETER, "negotiate context longer than the message")
        contexts.setdefault(ctx_type, bytes(message[start : start + length]))
        offset = start + length
    return contexts


def _id_list(data: bytes, first: int = 2) -> list[int]:
    """A count (first 2 bytes) of 16-bit ids starting at ``first``."""
    if len(data) < 2:
        raise SMBError(STATUS_INVALID_PARAMETER, "short negotiate context")
    (count,) = struct.unpack_from("<H", data)
    if len(data) < first + 2 * count:
        raise SMBError(STATUS_INVALID_PARAMETER, "short negotiate context list")
    return list(struct.unpack_from(f"<{count}H", data, first))


def negotiate(
    message: memoryview,
    *,
    require_signing: bool,
    ciphers: tuple[int, ...],
    allow_202: bool = True,
    transport: str = "tcp",
) -> NegotiateResult:
    """Parse a NEGOTIATE request and decide the dialect and contexts.

    Over QUIC only 3.1.1 exists (MS-SMB2 2.1): a client that offers nothing newer gets STATUS_NOT_SUPPORTED.
    """
    if len(message) < HEADER_SIZE + REQUEST.size:
        raise SMBError(STATUS_INVALID_PARAMETER, "NEGOTIATE request too short")
    size, count, security_mode, _r, capabilities, client_guid, ctx_offset, ctx_count, _r2 = REQUEST.unpack_from(
        message, HEADER_SIZE
    )
    dialects_at = HEADER_SIZE + REQUEST.size
    if size != 36 or count == 0 or dialects_at + 2 * count > len(message):
        raise SMBError(STATUS_INVALID_PARAMETER, "bad NEGOTIATE request")
    client_dialects = struct.unpack_from(f"<{count}H", message, dialects_at)
    if transport == "quic":
        if DIALECT_311 not in client_dialects:
            raise SMBError(
                STATUS_NOT_SUPPORTED, "SMB over QUIC needs dialect 3.1.1; the client offered only older ones"
            )
        dialect = DIALECT_311
    else:
        dialect = choose_dialect(client_dialects, allow_202)
    if not dialect:
        raise SMBError(STATUS_NOT_SUPPORTED, "no common dialect")
    server_security = SECURITY_SIGNING_ENABLED | (SECURITY_SIGNING_REQUIRED if require_signing else 0)
    server_caps = CAP_LARGE_MTU if dialect >= DIALECT_210 else 0
    result = NegotiateResult(
        dialect, bytes(client_guid), capabilities, security_mode, server_caps, server_security, tuple(client_dialects)
    )
    if dialect in (DIALECT_300, DIALECT_302) and capabilities & CAP_ENCRYPTION and crypto.CIPHER_AES_128_CCM in ciphers:
        result.server_capabilities |= CAP_ENCRYPTION
        result.cipher_id = crypto.CIPHER_AES_128_CCM
    if dialect >= DIALECT_300:
        result.signing_algorithm = crypto.SIGN_AES_CMAC
    if dialect == DIALECT_311:
        _negotiate_311_contexts(result, _parse_contexts(message, ctx_offset, ctx_count), ciphers, transport)
    return result


def _negotiate_311_contexts(
    result: NegotiateResult, contexts: dict[int, bytes], ciphers: tuple[int, ...], transport: str = "tcp"
) -> None:
    preauth = contexts.get(CTX_PREAUTH_INTEGRITY)
    if preauth is None or HASH_SHA512 not in _id_list(preauth, first=4):
        raise SMBError(STATUS_INVALID_PARAMETER, "3.1.1 NEGOTIATE without SHA-512 preauth integrity")
    result.response_contexts.append((CTX_PREAUTH_INTEGRITY, struct.pack("<HHH", 1, 32, HASH_SHA512) + os.urandom(32)))
    if CTX_ENCRYPTION in contexts:
        offered = _id_list(contexts[CTX_ENCRYPTION])
        chosen = next((c for c in ciphers if c in offered), 0)
        result.cipher_id = chosen
        result.response_contexts.append((CTX_ENCRYPTION, struct.pack("<HH", 1, chosen)))
    if CTX_SIGNING in contexts:
        offered = _id_list(contexts[CTX_SIGNING])
        chosen = next((a for a in SIGNING_PREFERENCE if a in offered), crypto.SIGN_AES_CMAC)
        result.signing_algorithm = chosen
        result.response_contexts.append((CTX_SIGNING, struct.pack("<HH", 1, chosen)))
    if transport == "quic" and CTX_TRANSPORT_CAPABILITIES in contexts:
        # MS-SMB2 2.2.3.1.5, answered over QUIC only. Flags 0: SMB3 encryption is never skipped because QUIC
        # encrypts, so a share that requires encryption is still encrypted by SMB3 inside TLS.
        result.response_contexts.append((CTX_TRANSPORT_CAPABILITIES, struct.pack("<I", 0)))


def build_response_body(
    result: NegotiateResult, server_guid: bytes, max_io: int, now: float, security_blob: bytes = b""
) -> bytes:
    """The NEGOTIATE response body (everything after the header)."""
    io_size = max_io if result.dialect >= DIALECT_210 and result.dialect != DIALECT_WILDCARD else SMALL_MTU
    blob_offset = HEADER_SIZE + RESPONSE.size
    body = bytearray()
    contexts_offset = 0
    tail = bytearray(security_blob)
    if result.response_contexts:
        tail += bytes(pad8(blob_offset + len(tail)))
        contexts_offset = blob_offset + len(tail)
        for index, (ctx_type, data) in enumerate(result.response_contexts):
            tail += CONTEXT_HEADER.pack(ctx_type, len(data), 0) + data
            if index + 1 < len(result.response_contexts):
                tail += bytes(pad8(len(tail)))
    body += RESPONSE.pack(
        65,
        result.server_security_mode,
        result.dialect,
        len(result.response_contexts),
        server_guid,
        result.server_capabilities,
        io_size,
        io_size,
        io_size,
        filetime(now or time.time()),
        0,
        blob_offset,
        len(security_blob),
        contexts_offset,
    )
    body += tail
    return bytes(body)


def smb1_negotiate_dialect(frame: bytes) -> int:
    """The SMB2 dialect to answer an SMB1 NEGOTIATE with (MS-SMB2 3.3.5.3.1); 0 means refuse."""
    # SMB1 header (32 bytes), WordCount (1), ByteCount (2), then "\x02name\x00" dialect strings.
    if len(frame) < 35 or frame[4] != 0x72:
        return 0
    names = frame[35:].split(b"\x00")
    names = {n.lstrip(b"\x02") for n in names}
    if b"SMB 2.???" in names:
        return DIALECT_WILDCARD
    if b"SMB 2.002" in names:
        return DIALECT_202
    return 0


__all__ = ["STATUS_SUCCESS", "NegotiateResult", "build_response_body", "negotiate", "smb1_negotiate_dialect"]
