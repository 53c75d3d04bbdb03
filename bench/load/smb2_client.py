"""A small asyncio SMB 2.1 client for load: NTLM login (pyspnego), signed requests, CREATE/READ/WRITE.

One request in flight per session keeps the credit and MessageId bookkeeping trivial; concurrency comes
from running a thousand sessions in one event loop. Dialect 2.1 signs with HMAC-SHA256 over the session
key, which both pysmbd and Samba require here (signing mandatory on both).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import struct
import uuid
from typing import Optional, Tuple

import spnego

HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")
NEGOTIATE, SESSION_SETUP, TREE_CONNECT, CREATE, CLOSE, READ, WRITE = 0, 1, 3, 5, 6, 8, 9
FLAG_ASYNC, FLAG_SIGNED = 0x2, 0x8
STATUS_SUCCESS, STATUS_PENDING, STATUS_MORE_PROCESSING = 0, 0x103, 0xC0000016


class SMBError(Exception):
    def __init__(self, command: int, status: int) -> None:
        super().__init__(f"command {command} failed with status {status:#010x}")
        self.status = status


class SMB2Session:
    """One TCP connection carrying one authenticated session and one tree connect."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.message_id = 0
        self.session_id = 0
        self.tree_id = 0
        self.signing_key: Optional[bytes] = None

    @classmethod
    async def open(cls, port: int, user: str, password: str, share: str) -> SMB2Session:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        session = cls(reader, writer)
        try:
            await session._negotiate()
            await session._login(user, password)
            await session._tree_connect(f"\\\\127.0.0.1\\{share}")
        except BaseException:
            writer.close()
            raise
        return session

    async def request(self, command: int, body: bytes, *, sign: bool = True) -> Tuple[int, bytes]:
        """Send one request and return (status, whole response message); waits past STATUS_PENDING."""
        message_id = self.message_id
        self.message_id += 1
        message = bytearray(
            HEADER.pack(
                b"\xfeSMB", 64, 1, 0, command, 32, 0, 0, message_id, 0, self.tree_id, self.session_id, bytes(16)
            )
            + body
        )
        if sign and self.signing_key is not None:
            struct.pack_into("<I", message, 16, FLAG_SIGNED)
            message[48:64] = hmac.new(self.signing_key, bytes(message), hashlib.sha256).digest()[:16]
        self.writer.write(struct.pack(">I", len(message)) + message)
        while True:
            length = int.from_bytes(await self.reader.readexactly(4), "big")
            response = await self.reader.readexactly(length)
            status, flags = struct.unpack_from("<I", response, 8)[0], struct.unpack_from("<I", response, 16)[0]
            if status == STATUS_PENDING and flags & FLAG_ASYNC:
                continue  # an interim answer; the real one follows
            return status, response

    async def _negotiate(self) -> None:
        body = struct.pack("<HHHHI16sQH", 36, 1, 1, 0, 0, uuid.uuid4().bytes, 0, 0x0210)
        status, _response = await self.request(NEGOTIATE, body)
        if status:
            raise SMBError(NEGOTIATE, status)

    async def _login(self, user: str, password: str) -> None:
        client = spnego.client(user, password, protocol="negotiate")
        token = client.step()
        while True:
            body = struct.pack("<HBBIIHHQ", 25, 0, 1, 0, 0, 64 + 24, len(token), 0) + token
            status, response = await self.request(SESSION_SETUP, body)
            self.session_id = struct.unpack_from("<Q", response, 40)[0]
            if status not in (STATUS_SUCCESS, STATUS_MORE_PROCESSING):
                raise SMBError(SESSION_SETUP, status)
            offset, length = struct.unpack_from("<HH", response, 64 + 4)
            in_token = response[offset : offset + length]
            if status == STATUS_SUCCESS:
                if in_token and not client.complete:
                    client.step(in_token)
                self.signing_key = client.session_key[:16]
                return
            token = client.step(in_token)

    async def _tree_connect(self, path: str) -> None:
        encoded = path.encode("utf-16-le")
        status, response = await self.request(TREE_CONNECT, struct.pack("<HHHH", 9, 0, 72, len(encoded)) + encoded)
        if status:
            raise SMBError(TREE_CONNECT, status)
        self.tree_id = struct.unpack_from("<I", response, 36)[0]

    async def create(self, name: str) -> bytes:
        encoded = name.encode("utf-16-le")
        body = struct.pack(
            "<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, 0x0012019F, 0x80, 7, 5, 0x40, 120, len(encoded), 0, 0
        )  # FILE_OVERWRITE_IF, FILE_NON_DIRECTORY_FILE
        status, response = await self.request(CREATE, body + encoded)
        if status:
            raise SMBError(CREATE, status)
        return response[64 + 64 : 64 + 80]

    async def write(self, file_id: bytes, offset: int, data: bytes) -> None:
        body = struct.pack("<HHIQ16sIIHHI", 49, 112, len(data), offset, file_id, 0, 0, 0, 0, 0)
        status, response = await self.request(WRITE, body + data)
        if status or struct.unpack_from("<I", response, 64 + 4)[0] != len(data):
            raise SMBError(WRITE, status)

    async def read(self, file_id: bytes, offset: int, length: int) -> bytes:
        body = struct.pack("<HBBIQ16sIIIHH", 49, 0x50, 0, length, offset, file_id, 0, 0, 0, 0, 0) + b"\x00"
        status, response = await self.request(READ, body)
        if status:
            raise SMBError(READ, status)
        data_offset, data_length = struct.unpack_from("<BxI", response, 64 + 2)
        return response[data_offset : data_offset + data_length]

    async def close_file(self, file_id: bytes) -> None:
        status, _response = await self.request(CLOSE, struct.pack("<HHI16s", 24, 0, 0, file_id))
        if status:
            raise SMBError(CLOSE, status)

    def close(self) -> None:
        self.writer.close()
