"""Just enough SMB2 to drive the core in-process: headers, a few client requests, and splitting responses.

Written for the fuzz tests (independent of the core's own helpers) so a change to the core cannot quietly
change what the fuzzer sends.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Iterator, List

HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")
HEADER_SIZE = 64
SMB2_MAGIC = b"\xfeSMB"
TRANSFORM_MAGIC = b"\xfdSMB"
SMB1_MAGIC = b"\xffSMB"
FLAG_SERVER_TO_REDIR = 0x1
FLAG_ASYNC = 0x2
FLAG_RELATED = 0x4
FLAG_SIGNED = 0x8

NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT = 0, 1, 2, 3, 4
CREATE, CLOSE, FLUSH, READ, WRITE, LOCK, IOCTL, CANCEL, ECHO = 5, 6, 7, 8, 9, 10, 11, 12, 13
QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO, SET_INFO, OPLOCK_BREAK = 14, 15, 16, 17, 18

STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_INTERNAL_ERROR = 0xC00000E5


def header(command: int, message_id: int, *, session_id: int = 0, tree_id: int = 0, flags: int = 0) -> bytes:
    return HEADER.pack(SMB2_MAGIC, 64, 1, 0, command, 64, flags, 0, message_id, 0, tree_id, session_id, bytes(16))


def framed(message: bytes) -> bytes:
    return struct.pack(">I", len(message)) + message


def negotiate_request(dialects=(0x0202, 0x0210, 0x0300, 0x0302, 0x0311)) -> bytes:
    """NEGOTIATE offering signing (not requiring it) and, with 3.1.1, the preauth and encryption contexts."""
    dialect_bytes = struct.pack(f"<{len(dialects)}H", *dialects)
    fixed_end = HEADER_SIZE + 36 + len(dialect_bytes)
    contexts = b""
    context_offset = 0
    if 0x0311 in dialects:
        context_offset = fixed_end + (8 - fixed_end % 8) % 8
        preauth = struct.pack("<HHH", 1, 32, 1) + bytes(32)
        encryption = struct.pack("<HHH", 2, 2, 1)
        contexts = struct.pack("<HHI", 1, len(preauth), 0) + preauth
        contexts += bytes((8 - len(contexts) % 8) % 8)
        contexts += struct.pack("<HHI", 2, len(encryption), 0) + encryption
    body = struct.pack(
        "<HHHHI16sIHH", 36, len(dialects), 1, 0, 0x44, uuid.uuid4().bytes, context_offset, 2 if contexts else 0, 0
    )
    body += dialect_bytes
    if contexts:
        body += bytes(context_offset - fixed_end) + contexts
    return header(NEGOTIATE, 0) + body


def session_setup_request(message_id: int, session_id: int, token: bytes) -> bytes:
    fixed = struct.pack("<HBBIIHHQ", 25, 0, 1, 0, 0, HEADER_SIZE + 24, len(token), 0)
    return header(SESSION_SETUP, message_id, session_id=session_id) + fixed + token


def tree_connect_request(message_id: int, session_id: int, path: str) -> bytes:
    encoded = path.encode("utf-16-le")
    fixed = struct.pack("<HHHH", 9, 0, HEADER_SIZE + 8, len(encoded))
    return header(TREE_CONNECT, message_id, session_id=session_id) + fixed + encoded


def create_request(
    message_id: int,
    session_id: int,
    tree_id: int,
    name: str,
    *,
    access: int = 0x0012019F,
    disposition: int = 3,
    options: int = 0x40,
) -> bytes:
    """CREATE; by default FILE_OPEN_IF of a file (FILE_NON_DIRECTORY_FILE) for read and write."""
    encoded = name.encode("utf-16-le")
    fixed = struct.pack(
        "<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, access, 0x80, 7, disposition, options, 120, len(encoded), 0, 0
    )
    return header(CREATE, message_id, session_id=session_id, tree_id=tree_id) + fixed + (encoded or b"\x00")


def query_directory_request(message_id: int, session_id: int, tree_id: int, file_id: bytes, pattern: str) -> bytes:
    """QUERY_DIRECTORY, FileIdBothDirectoryInformation, restarting the scan each time."""
    encoded = pattern.encode("utf-16-le")
    fixed = struct.pack("<HBBI16sHHI", 33, 0x25, 0x01, 0, file_id, HEADER_SIZE + 32, len(encoded), 65536)
    return header(QUERY_DIRECTORY, message_id, session_id=session_id, tree_id=tree_id) + fixed + encoded


def read_request(message_id: int, session_id: int, tree_id: int, file_id: bytes, length: int, offset: int = 0) -> bytes:
    fixed = struct.pack("<HBBIQ16sIIIHH", 49, 0, 0, length, offset, file_id, 0, 0, 0, 0, 0) + b"\x00"
    return header(READ, message_id, session_id=session_id, tree_id=tree_id) + fixed


def write_request(
    message_id: int, session_id: int, tree_id: int, file_id: bytes, data: bytes, offset: int = 0
) -> bytes:
    fixed = struct.pack("<HHIQ16sIIHHI", 49, HEADER_SIZE + 48, len(data), offset, file_id, 0, 0, 0, 0, 0)
    return header(WRITE, message_id, session_id=session_id, tree_id=tree_id) + fixed + data


def compound(*messages: bytes) -> bytes:
    """Chain messages with NextCommand, each but the last padded to 8 bytes."""
    out = b""
    for index, message in enumerate(messages):
        if index + 1 < len(messages):
            padded = message + bytes((8 - len(message) % 8) % 8)
            out += padded[:20] + struct.pack("<I", len(padded)) + padded[24:]
        else:
            out += message
    return out


@dataclass
class Reply:
    """One SMB2 response message (a member of a compound is its own Reply)."""

    raw: bytes
    status: int
    command: int
    flags: int
    message_id: int
    tree_id: int
    session_id: int

    @property
    def body(self) -> bytes:
        return self.raw[HEADER_SIZE:]


def split_frames(stream: bytes) -> Iterator[bytes]:
    """Cut a server byte stream on Direct TCP framing; a malformed or cut frame raises AssertionError."""
    while stream:
        assert len(stream) >= 4, f"server sent {len(stream)} stray bytes"
        assert stream[0] == 0, f"server sent a Direct TCP header with first byte {stream[0]:#x}"
        length = int.from_bytes(stream[1:4], "big")
        assert len(stream) >= 4 + length, f"server frame claims {length} bytes, only {len(stream) - 4} sent"
        yield stream[4 : 4 + length]
        stream = stream[4 + length :]


def split_replies(payload: bytes) -> List[Reply]:
    """The SMB2 responses of one unencrypted frame; a malformed response raises AssertionError."""
    replies = []
    while True:
        assert len(payload) >= HEADER_SIZE and payload[:4] == SMB2_MAGIC, f"malformed response {payload[:8].hex()}"
        fields = HEADER.unpack_from(payload)
        next_command = fields[7]
        assert fields[6] & FLAG_SERVER_TO_REDIR, "response without SMB2_FLAGS_SERVER_TO_REDIR"
        raw = payload[:next_command] if next_command else payload
        replies.append(Reply(raw, fields[3], fields[4], fields[6], fields[8], fields[10], fields[11]))
        if not next_command:
            return replies
        assert next_command <= len(payload), "response NextCommand points past the frame"
        payload = payload[next_command:]


def request_commands(payload: bytes) -> List[int]:
    """The commands of a well-chained request frame, as the core would walk it ([] when not SMB2)."""
    commands = []
    offset = 0
    while len(payload) - offset >= HEADER_SIZE and payload[offset : offset + 4] == SMB2_MAGIC:
        fields = HEADER.unpack_from(payload, offset)
        commands.append(fields[4])
        next_command = fields[7]
        if not next_command or next_command % 8 or next_command < HEADER_SIZE or offset + next_command > len(payload):
            break
        offset += next_command
    return commands
