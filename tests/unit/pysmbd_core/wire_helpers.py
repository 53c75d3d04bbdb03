"""Hand-built SMB2 client messages and a response splitter, to drive the core with no sockets."""

from __future__ import annotations

import struct
import uuid

import spnego

from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.events import Event

HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")
SMB2_DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)


def header(
    command: int,
    message_id: int,
    *,
    session_id: int = 0,
    tree_id: int = 0,
    credits: int = 32,
    flags: int = 0,
    next_command: int = 0,
    credit_charge: int = 1,
) -> bytes:
    return HEADER.pack(
        b"\xfeSMB",
        64,
        credit_charge,
        0,
        command,
        credits,
        flags,
        next_command,
        message_id,
        0,
        tree_id,
        session_id,
        bytes(16),
    )


def framed(message: bytes) -> bytes:
    return struct.pack(">I", len(message)) + message


def negotiate_request(
    dialects=SMB2_DIALECTS, *, signing_required: bool = False, ciphers=(2, 1), message_id: int = 0
) -> bytes:
    """A NEGOTIATE with the 3.1.1 preauth and encryption contexts when 3.1.1 is offered."""
    dialect_bytes = struct.pack(f"<{len(dialects)}H", *dialects)
    fixed_end = 64 + 36 + len(dialect_bytes)
    contexts = b""
    context_offset = 0
    if 0x0311 in dialects:
        context_offset = fixed_end + (8 - fixed_end % 8) % 8
        preauth = struct.pack("<HHH", 1, 32, 1) + bytes(32)
        encryption = struct.pack(f"<H{len(ciphers)}H", len(ciphers), *ciphers)
        contexts = struct.pack("<HHI", 1, len(preauth), 0) + preauth
        contexts += bytes((8 - len(contexts) % 8) % 8)
        contexts += struct.pack("<HHI", 2, len(encryption), 0) + encryption
    body = (
        struct.pack(
            "<HHHHI16sIHH",
            36,
            len(dialects),
            0x2 if signing_required else 0x1,
            0,
            0x44,
            uuid.uuid4().bytes,
            context_offset,
            2 if contexts else 0,
            0,
        )
        + dialect_bytes
    )
    if contexts:
        body += bytes(context_offset - fixed_end) + contexts
    return header(0, message_id) + body


def session_setup_request(message_id: int, session_id: int, token: bytes, previous_session_id: int = 0) -> bytes:
    return (
        header(1, message_id, session_id=session_id)
        + struct.pack("<HBBIIHHQ", 25, 0, 1, 0, 0, 88, len(token), previous_session_id)
        + token
    )


def tree_connect_request(message_id: int, session_id: int, path: str) -> bytes:
    encoded = path.encode("utf-16-le")
    return header(3, message_id, session_id=session_id) + struct.pack("<HHHH", 9, 0, 72, len(encoded)) + encoded


def smb1_negotiate(*dialects: bytes) -> bytes:
    names = b"".join(b"\x02" + d + b"\x00" for d in dialects)
    smb1_header = b"\xffSMB\x72" + bytes(27)
    return smb1_header + b"\x00" + struct.pack("<H", len(names)) + names


class Response:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        fields = HEADER.unpack_from(raw)
        self.status = fields[3]
        self.command = fields[4]
        self.credits = fields[5]
        self.flags = fields[6]
        self.next_command = fields[7]
        self.message_id = fields[8]
        self.tree_id = fields[10]
        self.session_id = fields[11]
        self.signature = fields[12]
        self.body = raw[64:]


def responses(conn: SMBServerConnection) -> list[Response]:
    """Split what the core wants to send into SMB2 messages (compounds split on NextCommand)."""
    stream = b"".join(bytes(chunk) for chunk in conn.data_to_send())
    out = []
    while stream:
        length = struct.unpack(">I", stream[:4])[0]
        payload, stream = stream[4 : 4 + length], stream[4 + length :]
        assert len(payload) == length, "the core sent a truncated frame"
        while payload:
            response = Response(payload)
            out.append(response)
            payload = payload[response.next_command :] if response.next_command else b""
    return out


def events(conn: SMBServerConnection) -> list[Event]:
    found = []
    while (event := conn.next_event()) is not None:
        found.append(event)
    return found


def login(
    conn: SMBServerConnection, user: str, password: str, previous_session_id: int = 0
) -> tuple[list[Response], int]:
    """NEGOTIATE then an NTLM SESSION_SETUP exchange (naming ``previous_session_id``); returns the setup responses
    and the SessionId."""
    conn.receive_data(framed(negotiate_request()), now=1.0)
    responses(conn)
    client = spnego.client(user, password, protocol="negotiate")
    token = client.step()
    message_id, session_id, seen = 1, 0, []
    while token:
        conn.receive_data(framed(session_setup_request(message_id, session_id, token, previous_session_id)), now=1.0)
        (answer,) = responses(conn)
        seen.append(answer)
        session_id = answer.session_id
        message_id += 1
        if answer.status not in (0, 0xC0000016):
            break
        offset, length = struct.unpack_from("<HH", answer.body, 4)
        in_token = answer.raw[offset : offset + length]
        token = client.step(in_token) if in_token and not client.complete else None
    return seen, session_id


ANY_FILE_ID = b"\xff" * 16
FLAG_RELATED = 0x4


def create_request(
    message_id: int,
    session_id: int,
    tree_id: int,
    name: str,
    *,
    disposition: int = 3,
    options: int = 0,
    access: int = 0x0012019F,
    flags: int = 0,
    share: int = 7,
) -> bytes:
    encoded = name.encode("utf-16-le")
    body = struct.pack(
        "<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, access, 0x80, share, disposition, options, 120, len(encoded), 0, 0
    )
    return header(5, message_id, session_id=session_id, tree_id=tree_id, flags=flags) + body + (encoded or b"\x00")


def write_request(
    message_id: int,
    session_id: int,
    tree_id: int,
    file_id: bytes,
    data: bytes,
    offset: int = 0,
    flags: int = 0,
) -> bytes:
    """A WRITE charged as a client charges it: one credit per 64 KiB (MS-SMB2 3.3.5.2.5), so one of more than
    64 KiB uses that many MessageIds from ``message_id`` on."""
    body = struct.pack("<HHIQ16sIIHHI", 49, 112, len(data), offset, file_id, 0, 0, 0, 0, 0)
    head = header(9, message_id, session_id=session_id, tree_id=tree_id, flags=flags, credit_charge=charge(len(data)))
    return head + body + data


def charge(size: int) -> int:
    """The CreditCharge of a request moving ``size`` bytes."""
    return max(1, (size + 65535) // 65536)


def read_request(
    message_id: int, session_id: int, tree_id: int, file_id: bytes, length: int, offset: int = 0, flags: int = 0
) -> bytes:
    """A READ, charged one credit per 64 KiB like ``write_request``."""
    body = struct.pack("<HBBIQ16sIIIHH", 49, 0, 0, length, offset, file_id, 0, 0, 0, 0, 0) + b"\x00"
    return (
        header(8, message_id, session_id=session_id, tree_id=tree_id, flags=flags, credit_charge=charge(length)) + body
    )


def close_request(message_id: int, session_id: int, tree_id: int, file_id: bytes, flags: int = 0) -> bytes:
    return header(6, message_id, session_id=session_id, tree_id=tree_id, flags=flags) + struct.pack(
        "<HHI16s", 24, 1, 0, file_id
    )


def lock_request(
    message_id: int, session_id: int, tree_id: int, file_id: bytes, *elements: tuple[int, int, int]
) -> bytes:
    """A LOCK with (offset, length, flags) elements."""
    body = struct.pack("<HHI16s", 48, len(elements), 0, file_id)
    body += b"".join(struct.pack("<QQII", offset, length, flags, 0) for offset, length, flags in elements)
    return header(10, message_id, session_id=session_id, tree_id=tree_id) + body


def compound(*messages: bytes) -> bytes:
    """Chain messages with NextCommand, each padded to 8 bytes (the last one unpadded)."""
    out = b""
    for index, message in enumerate(messages):
        if index + 1 < len(messages):
            padded = message + bytes((8 - len(message) % 8) % 8)
            out += padded[:20] + struct.pack("<I", len(padded)) + padded[24:]
        else:
            out += message
    return out


def file_id_of(create_response: Response) -> bytes:
    return create_response.body[64:80]


def open_tree(conn: SMBServerConnection, user: str, password: str, share: str = "share") -> tuple[int, int]:
    """Log in and connect a tree (the context must not require signing); returns (SessionId, TreeId)."""
    _seen, session_id = login(conn, user, password)
    conn.receive_data(framed(tree_connect_request(50, session_id, f"\\\\srv\\{share}")), now=1.0)
    (answer,) = responses(conn)
    assert answer.status == 0, hex(answer.status)
    events(conn)
    return session_id, answer.tree_id


class Client:
    """One connection with one session and tree, numbering its own MessageIds (the context must not require
    signing: requests are built unsigned)."""

    def __init__(self, context, user: str, password: str, share: str = "share") -> None:
        self.conn = SMBServerConnection(context)
        self.session_id, self.tree_id = open_tree(self.conn, user, password, share)
        self.message_id = 60

    def send(self, build, *args, **kwargs):
        self.message_id += 1
        message = build(self.message_id, self.session_id, self.tree_id, *args, **kwargs)
        self.conn.receive_data(framed(message), now=5.0)
        (answer,) = responses(self.conn)
        return answer

    def open(self, name: str, **kwargs) -> tuple[int, bytes]:
        answer = self.send(create_request, name, **kwargs)
        return answer.status, file_id_of(answer)
