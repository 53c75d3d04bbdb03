"""The objects a command handler receives and returns."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from .status import STATUS_INVALID_PARAMETER, STATUS_SUCCESS, SMBError
from .wire import ANY_FILE_ID, HEADER_SIZE, Header

if TYPE_CHECKING:
    from .state import Session, Tree


@dataclass
class ChainState:
    """What related requests of one compound inherit from the request before them (MS-SMB2 3.3.5.2.7.2)."""

    session_id: int = 0
    tree_id: int = 0
    file_id: Optional[bytes] = None
    status: int = STATUS_SUCCESS
    error: Optional[int] = None
    """A status every later related request of this chain fails with (a failed CREATE, a broken chain)."""
    started: bool = False
    """A request of this frame was handled already: the first one must not claim to be related."""


@dataclass
class Request:
    """One SMB2 request of a (possibly compounded) frame."""

    header: Header
    message: memoryview
    """The whole message, header included: buffer offsets in requests count from the header's start."""
    encrypted: bool
    now: float
    chain: ChainState
    session: Optional[Session] = None
    tree: Optional[Tree] = None
    budget_left: Optional[int] = None
    """Bytes the rest of the compound's answer may take (None for the first request of a frame): a request whose
    answer may need more is refused before any work (see ``connection.expected_answer_size``)."""
    may_defer: bool = False
    """The handler may answer with ``Response.deferred``: the connection has an IO executor and this request
    is alone in its frame (a compound is answered in one piece)."""

    @property
    def body(self) -> memoryview:
        return self.message[HEADER_SIZE:]

    def unpack(self, layout: struct.Struct) -> tuple:
        """Unpack the fixed part of the body; a short body is STATUS_INVALID_PARAMETER."""
        if len(self.message) < HEADER_SIZE + layout.size:
            raise SMBError(STATUS_INVALID_PARAMETER, "request body too short")
        return layout.unpack_from(self.message, HEADER_SIZE)

    def buffer(self, offset: int, length: int) -> memoryview:
        """A variable-length field by offset from the header's start, bounds-checked."""
        if length == 0:
            return self.message[0:0]
        if offset < HEADER_SIZE or offset + length > len(self.message):
            raise SMBError(STATUS_INVALID_PARAMETER, "buffer outside the message")
        return self.message[offset : offset + length]

    def file_id(self, raw: bytes) -> bytes:
        """The FileId a request names; all-0xFF in a related request means the previous request's file."""
        if raw == ANY_FILE_ID and self.header.is_related:
            if self.chain.file_id is None and self.chain.status != STATUS_SUCCESS:
                # the previous request failed on the FileId it named: share its status (MS-SMB2 3.3.5.2.7.2)
                raise SMBError(self.chain.status, "the previous request of the compound failed")
            if self.chain.file_id is None:
                raise SMBError(STATUS_INVALID_PARAMETER, "related request without a previous file")
            return self.chain.file_id
        return bytes(raw)


@dataclass
class Response:
    """A handler's answer: a status, the fixed body and an optional payload sent without copying."""

    status: int
    body: bytes = b""
    payload: bytes | memoryview = b""
    force_sign: bool = False
    """Sign even when the request was not signed (the final SESSION_SETUP response)."""
    session_id: Optional[int] = None
    """Overrides the request's SessionId (a new session)."""
    tree_id: Optional[int] = None
    """Overrides the request's TreeId (a new tree)."""
    after_pack: Optional[Callable[[bytes], None]] = None
    """Called with the packed, unsigned message (preauth integrity hashing)."""
    new_file_id: Optional[bytes] = None
    """A CREATE's FileId, for related requests that follow it."""
    deferred: Optional[DeferredIO] = None
    """Set when the answer waits for file IO run off the connection's thread (see ``DeferredIO``); the rest of
    this Response is then unused."""
    frame_buffer: Optional[bytearray] = None
    """Set when ``payload`` is a view at offset ``FRAME_PREFIX`` of this buffer: the transport header, the SMB2
    header and the body are then written in front of it, so a large READ is signed and sent without a copy."""


@dataclass
class DeferredIO:
    """A READ or WRITE whose system call runs on a worker thread (``SMBServerConnection.io_executor``).

    ``work`` touches nothing but its own duplicate of the file descriptor and its buffers, so it is safe on
    another thread and after the open is closed; ``finish`` runs back on the connection's thread with what
    ``work`` returned and builds the Response (it may raise ``SMBError``).
    """

    work: Callable[[], Any]
    finish: Callable[[Any], Response]
    buffer_size: int = 0
    """Bytes of buffers ``work`` fills (a large READ's), counted in the connection's memory while it runs."""


FRAME_PREFIX = 4 + 64 + 16  # Direct TCP header, SMB2 header, READ response body


ERROR_BODY = struct.Struct("<HBBI")


def error_body(error_data: bytes = b"") -> bytes:
    """The SMB2 ERROR response body (MS-SMB2 2.2.2)."""
    return ERROR_BODY.pack(9, 0, 0, len(error_data)) + (error_data or b"\x00")
