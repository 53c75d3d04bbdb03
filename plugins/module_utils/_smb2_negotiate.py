# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build an SMB2 NEGOTIATE request and read the server's answer, with ``struct`` only.

This is a private module_utils file: its API may change without notice.

The prober needs exactly one round trip per endpoint, so this file does no IO: ``build_negotiate_request``
returns the bytes to send (Direct TCP framing included) and ``parse_negotiate_response`` turns the bytes of one
answer frame into a ``NegotiateAnswer`` or raises ``NotSmb2Error`` saying what the peer sent instead.

Layouts follow MS-SMB2: 2.1 (Direct TCP transport header), 2.2.1.2 (SYNC header), 2.2.3 (NEGOTIATE request),
2.2.3.1.1/2.2.3.1.2 (preauth integrity and encryption contexts) and 2.2.4 (NEGOTIATE response).
"""

from __future__ import annotations

import os
import struct
import uuid
from dataclasses import dataclass, field

SMB2_MAGIC = b"\xfeSMB"
SMB1_MAGIC = b"\xffSMB"
SMB2_TRANSFORM_MAGIC = b"\xfdSMB"
SMB2_HEADER_SIZE = 64

DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
DIALECT_NAMES = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1", 0x02FF: "2.???"}

CAPABILITY_NAMES = (
    (0x01, "dfs"),
    (0x02, "leasing"),
    (0x04, "large_mtu"),
    (0x08, "multi_channel"),
    (0x10, "persistent_handles"),
    (0x20, "directory_leasing"),
    (0x40, "encryption"),
    (0x80, "notifications"),
)
CIPHER_NAMES = {0x0001: "AES-128-CCM", 0x0002: "AES-128-GCM", 0x0003: "AES-256-CCM", 0x0004: "AES-256-GCM"}
HASH_SHA512 = 0x0001

_SIGNING_ENABLED = 0x0001
_SIGNING_REQUIRED = 0x0002
_CLIENT_CAPABILITIES = 0x7F  # every capability bit a 3.x client may set; only read by the server
_CONTEXT_PREAUTH = 0x0001
_CONTEXT_ENCRYPTION = 0x0002
_STATUS_SUCCESS = 0

# MS-SMB2 2.2.1.2: ProtocolId, StructureSize, CreditCharge, Status, Command, CreditRequest, Flags,
# NextCommand, MessageId, Reserved (ProcessId), TreeId, SessionId, Signature.
_HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")
# MS-SMB2 2.2.3: StructureSize, DialectCount, SecurityMode, Reserved, Capabilities, ClientGuid,
# NegotiateContextOffset, NegotiateContextCount, Reserved2 (dialects follow).
_NEGOTIATE_REQUEST = struct.Struct("<HHHHI16sIHH")
# MS-SMB2 2.2.4: StructureSize, SecurityMode, DialectRevision, NegotiateContextCount, ServerGuid, Capabilities,
# MaxTransactSize, MaxReadSize, MaxWriteSize, SystemTime, ServerStartTime, SecurityBufferOffset,
# SecurityBufferLength, NegotiateContextOffset.
_NEGOTIATE_RESPONSE = struct.Struct("<HHHH16sIIIIQQHHI")
_CONTEXT_HEADER = struct.Struct("<HHI")


class NotSmb2Error(Exception):
    """The peer answered, but not with an SMB2 NEGOTIATE response; the message says what it sent."""


@dataclass
class NegotiateAnswer:
    """What an SMB2 server told us in its NEGOTIATE response."""

    status: int
    """NTSTATUS of the response; 0 when the server accepted the negotiation."""
    dialect: str | None = None
    """Dialect the server chose, as ``"3.1.1"``; None when the status is an error."""
    signing_required: bool | None = None
    """True when the server requires signed messages."""
    server_guid: str | None = None
    """The server's GUID in the usual textual form."""
    capabilities: list[str] = field(default_factory=list)
    """Names of the SMB2_GLOBAL_CAP_* flags the server set."""
    max_transact_size: int | None = None
    max_read_size: int | None = None
    max_write_size: int | None = None
    cipher: str | None = None
    """Cipher chosen in the encryption context (3.1.1 only), or None."""


def frame(message: bytes) -> bytes:
    """Prefix one SMB2 message with the Direct TCP transport header (0x00 and a 24-bit length)."""
    return struct.pack(">I", len(message)) + message


def _pad8(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 8)


def _negotiate_contexts() -> list[bytes]:
    salt = os.urandom(32)
    preauth = struct.pack("<HHH", 1, len(salt), HASH_SHA512) + salt
    ciphers = (0x0002, 0x0001, 0x0004, 0x0003)  # AES-128-GCM first, as Windows does
    encryption = struct.pack("<H", len(ciphers)) + struct.pack("<%dH" % len(ciphers), *ciphers)
    return [
        _CONTEXT_HEADER.pack(_CONTEXT_PREAUTH, len(preauth), 0) + preauth,
        _CONTEXT_HEADER.pack(_CONTEXT_ENCRYPTION, len(encryption), 0) + encryption,
    ]


def build_negotiate_request(client_guid: bytes | None = None) -> bytes:
    """Return a framed SMB2 NEGOTIATE request offering 2.0.2 to 3.1.1, with the 3.1.1 contexts."""
    guid = client_guid if client_guid is not None else uuid.uuid4().bytes_le
    header = _HEADER.pack(SMB2_MAGIC, SMB2_HEADER_SIZE, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, b"\x00" * 16)
    dialects = struct.pack("<%dH" % len(DIALECTS), *DIALECTS)
    contexts = _negotiate_contexts()
    fixed_len = SMB2_HEADER_SIZE + _NEGOTIATE_REQUEST.size + len(dialects)
    context_offset = fixed_len + (-fixed_len % 8)  # the first context is 8-byte aligned from the header start
    body = _NEGOTIATE_REQUEST.pack(
        36, len(DIALECTS), _SIGNING_ENABLED, 0, _CLIENT_CAPABILITIES, guid, context_offset, len(contexts), 0
    )
    message = _pad8(header + body + dialects)
    # Every context but the last is padded to 8 bytes (MS-SMB2 2.2.3.1).
    message += b"".join(_pad8(ctx) for ctx in contexts[:-1]) + contexts[-1]
    return frame(message)


def build_smb1_negotiate_request() -> bytes:
    """A framed SMB1 NEGOTIATE (MS-CIFS 2.2.4.52.1) offering NT LM 0.12 and SMB 2.x.

    Sent only to a peer that closed the connection on our SMB2 NEGOTIATE, to tell an SMB1-only server apart
    from something that is not SMB at all.
    """
    # Protocol, Command (0x72), Status, Flags, Flags2, PIDHigh, SecurityFeatures, Reserved, TID, PIDLow, UID, MID.
    header = struct.pack("<4sBIBHH8sHHHHH", SMB1_MAGIC, 0x72, 0, 0x18, 0xC853, 0, bytes(8), 0, 0xFFFF, 0, 0, 0)
    dialects = b"".join(b"\x02" + name + b"\x00" for name in (b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???"))
    return frame(header + struct.pack("<BH", 0, len(dialects)) + dialects)


def describe_foreign_answer(data: bytes) -> str:
    """Say in a few words what a non-SMB2 answer looks like (for the error column of the report)."""
    if data.startswith(SMB1_MAGIC) or data[4:8] == SMB1_MAGIC:
        return "answered with SMB1 only (no SMB2 support)"
    if data[:1] == b"\x16" or data[:2] == b"\x15\x03":
        return "answered with TLS, not SMB"
    if data[:4] == b"HTTP":
        first_line = data.split(b"\r\n", 1)[0][:60].decode("ascii", "replace")
        return "answered with HTTP (%s), not SMB" % first_line
    if data[:1] == b"<":  # an HTTP server answering our bytes as an HTTP/0.9 request sends a bare HTML page
        return "answered with an HTML page (an HTTP server), not SMB"
    if data[:4] == b"SSH-":
        return "answered with SSH, not SMB"
    return "answered with %d bytes that are not SMB2 (starting %s)" % (len(data), data[:8].hex())


def parse_frame_length(prefix: bytes) -> int:
    """Read the Direct TCP transport header; raise NotSmb2Error when it cannot be one."""
    if len(prefix) < 4 or prefix[0] != 0:
        raise NotSmb2Error(describe_foreign_answer(prefix))
    return struct.unpack(">I", prefix[:4])[0]


def _guid_text(raw: bytes) -> str:
    return str(uuid.UUID(bytes_le=raw))


def _capability_names(flags: int) -> list[str]:
    return [name for bit, name in CAPABILITY_NAMES if flags & bit]


def _chosen_cipher(message: bytes, offset: int, count: int) -> str | None:
    """Walk the response's negotiate contexts (3.1.1) and return the cipher the server chose."""
    for _index in range(count):
        if offset + _CONTEXT_HEADER.size > len(message):
            return None
        context_type, length, _reserved = _CONTEXT_HEADER.unpack_from(message, offset)
        data = message[offset + _CONTEXT_HEADER.size : offset + _CONTEXT_HEADER.size + length]
        if context_type == _CONTEXT_ENCRYPTION and len(data) >= 4:
            cipher_id = struct.unpack_from("<H", data, 2)[0]
            return CIPHER_NAMES.get(cipher_id, "none" if cipher_id == 0 else "0x%04x" % cipher_id)
        offset += _CONTEXT_HEADER.size + length
        offset += -offset % 8
    return None


def parse_negotiate_response(message: bytes) -> NegotiateAnswer:
    """Parse one SMB2 message (without the transport header) that should answer our NEGOTIATE."""
    if message[:4] == SMB1_MAGIC:
        raise NotSmb2Error(describe_foreign_answer(message))
    if len(message) < SMB2_HEADER_SIZE or message[:4] != SMB2_MAGIC:
        raise NotSmb2Error(describe_foreign_answer(message))
    (_magic, header_size, _charge, status, command, _credits, flags, _next, _mid, _pid, _tid, _sid, _sig) = (
        _HEADER.unpack_from(message)
    )
    if header_size != SMB2_HEADER_SIZE or command != 0 or not flags & 0x1:
        raise NotSmb2Error(
            "answered with an SMB2 message that is not a NEGOTIATE response (command %d, flags 0x%x)" % (command, flags)
        )
    if status != _STATUS_SUCCESS:
        return NegotiateAnswer(status=status)
    if len(message) < SMB2_HEADER_SIZE + _NEGOTIATE_RESPONSE.size:
        raise NotSmb2Error("answered with a truncated SMB2 NEGOTIATE response (%d bytes)" % len(message))
    (
        structure_size,
        security_mode,
        dialect,
        context_count,
        server_guid,
        capabilities,
        max_transact,
        max_read,
        max_write,
        _system_time,
        _start_time,
        _sec_offset,
        _sec_length,
        context_offset,
    ) = _NEGOTIATE_RESPONSE.unpack_from(message, SMB2_HEADER_SIZE)
    if structure_size != 65:
        raise NotSmb2Error("answered with a malformed SMB2 NEGOTIATE response (StructureSize %d)" % structure_size)
    cipher = _chosen_cipher(message, context_offset, context_count) if dialect == 0x0311 else None
    return NegotiateAnswer(
        status=status,
        dialect=DIALECT_NAMES.get(dialect, "0x%04x" % dialect),
        signing_required=bool(security_mode & _SIGNING_REQUIRED),
        server_guid=_guid_text(server_guid),
        capabilities=_capability_names(capabilities),
        max_transact_size=max_transact,
        max_read_size=max_read,
        max_write_size=max_write,
        cipher=cipher,
    )
