"""SMB2 wire basics: the 64-byte header, Direct TCP framing, command codes and flags (MS-SMB2 2.1, 2.2.1).

The header is hand-written with a precompiled ``struct.Struct``: it sits on the hot path of every READ
and WRITE.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .status import STATUS_OBJECT_NAME_INVALID, SMBError

SMB2_MAGIC = b"\xfeSMB"
SMB1_MAGIC = b"\xffSMB"
TRANSFORM_MAGIC = b"\xfdSMB"
COMPRESSION_MAGIC = b"\xfcSMB"
HEADER_SIZE = 64

# ProtocolId, StructureSize, CreditCharge, Status, Command, Credits, Flags, NextCommand, MessageId,
# Reserved|AsyncId-low, TreeId|AsyncId-high, SessionId, Signature
HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")
NETBIOS_LENGTH = struct.Struct(">I")

NEGOTIATE = 0x00
SESSION_SETUP = 0x01
LOGOFF = 0x02
TREE_CONNECT = 0x03
TREE_DISCONNECT = 0x04
CREATE = 0x05
CLOSE = 0x06
FLUSH = 0x07
READ = 0x08
WRITE = 0x09
LOCK = 0x0A
IOCTL = 0x0B
CANCEL = 0x0C
ECHO = 0x0D
QUERY_DIRECTORY = 0x0E
CHANGE_NOTIFY = 0x0F
QUERY_INFO = 0x10
SET_INFO = 0x11
OPLOCK_BREAK = 0x12

FLAG_SERVER_TO_REDIR = 0x00000001
FLAG_ASYNC = 0x00000002
FLAG_RELATED = 0x00000004
FLAG_SIGNED = 0x00000008
FLAG_PRIORITY_MASK = 0x00000070
FLAG_DFS = 0x10000000
FLAG_REPLAY = 0x20000000

DIALECT_202 = 0x0202
DIALECT_210 = 0x0210
DIALECT_300 = 0x0300
DIALECT_302 = 0x0302
DIALECT_311 = 0x0311
DIALECT_WILDCARD = 0x02FF

ZERO_SIGNATURE = bytes(16)
ANY_FILE_ID = b"\xff" * 16


@dataclass
class Header:
    """A parsed SMB2 request header (sync or async form)."""

    credit_charge: int
    status: int  # ChannelSequence/Reserved in requests
    command: int
    credits: int
    flags: int
    next_command: int
    message_id: int
    tree_id: int
    async_id: int
    session_id: int
    signature: bytes

    @property
    def is_related(self) -> bool:
        return bool(self.flags & FLAG_RELATED)

    @property
    def is_signed(self) -> bool:
        return bool(self.flags & FLAG_SIGNED)


def parse_header(data: memoryview) -> Header:
    """Parse a request header; the caller has checked that at least 64 bytes starting with 0xFE 'SMB' are present."""
    (
        _protocol_id,
        _structure_size,
        charge,
        status,
        command,
        credits,
        flags,
        next_command,
        message_id,
        word1,
        word2,
        session_id,
        sig,
    ) = HEADER.unpack_from(data)
    if flags & FLAG_ASYNC:
        tree_id, async_id = 0, word1 | (word2 << 32)
    else:
        tree_id, async_id = word2, 0
    return Header(charge, status, command, credits, flags, next_command, message_id, tree_id, async_id, session_id, sig)


def pack_response_header(
    request: Header,
    status: int,
    credits: int,
    *,
    flags: int = 0,
    next_command: int = 0,
    session_id: int | None = None,
    tree_id: int | None = None,
    async_id: int | None = None,
) -> bytearray:
    """The header of a response to ``request``; the signature is zero and filled in later when signing."""
    out_flags = FLAG_SERVER_TO_REDIR | (request.flags & (FLAG_RELATED | FLAG_PRIORITY_MASK)) | flags
    sid = request.session_id if session_id is None else session_id
    if async_id is not None:
        out_flags |= FLAG_ASYNC
        word1, word2 = async_id & 0xFFFFFFFF, async_id >> 32
    else:
        word1, word2 = 0, request.tree_id if tree_id is None else tree_id
    buf = bytearray(HEADER_SIZE)
    HEADER.pack_into(
        buf,
        0,
        SMB2_MAGIC,
        64,
        request.credit_charge,
        status,
        request.command,
        credits,
        out_flags,
        next_command,
        request.message_id,
        word1,
        word2,
        sid,
        ZERO_SIGNATURE,
    )
    return buf


def frame(payload_length: int) -> bytes:
    """The 4-byte Direct TCP transport header (0x00 + 24-bit big-endian length)."""
    return NETBIOS_LENGTH.pack(payload_length)


def utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def from_utf16(data: bytes | memoryview) -> str:
    """A client's UTF-16LE name; an odd length or an unpaired surrogate (no file can have it) is refused."""
    try:
        return bytes(data).decode("utf-16-le")
    except UnicodeDecodeError:
        raise SMBError(STATUS_OBJECT_NAME_INVALID, "name is not well-formed UTF-16") from None


def pad8(length: int) -> int:
    """Bytes needed to bring ``length`` to the next multiple of 8."""
    return (8 - (length & 7)) & 7
