"""One SMB2/3 connection as a sans-IO state machine.

Rules of this file:

* Bytes come in through ``receive_data`` (Direct TCP framing included) and leave through
  ``data_to_send``; the adapter owns the socket. Events (sessions, trees, "close me") come out of
  ``next_event``. Nothing here blocks on the network or reads a clock: callers pass ``now``.
* A frame is one SMB2 message, a compound of several (NextCommand), an SMB3 transform (encrypted
  compound) or an SMB1 NEGOTIATE. Broken framing, an oversized frame, a failed decryption or an SMB1
  client that speaks no SMB2 ends the connection (``ConnectionShouldClose``); anything wrong *inside*
  a well-framed request becomes an SMB2 ERROR response and the connection carries on.
* Large READ and WRITE system calls may run elsewhere: when the adapter sets ``io_executor``, a handler
  can answer with ``Response.deferred`` and the response is sent when the executor reports the IO done.
  Until then the connection keeps receiving (and decrypting) but holds every later frame, so requests
  are still handled one at a time and in order: no CLOSE overtakes a WRITE, credits are granted in order.
* Every request but CANCEL must use MessageIds the server granted as credits and not used before (the
  command sequence window of MS-SMB2 3.3.1.1, checked as 3.3.5.2.3 says, in ``credits.SequenceWindow``);
  one that does not ends the connection, as Windows and Samba do.
* Before any session is established a frame may not exceed ``PREAUTH_MAX_FRAME_SIZE`` (NEGOTIATE and
  SESSION_SETUP are small): an unauthenticated peer cannot make the server buffer 8 MiB.
* An adapter that throttles password guessing sets ``login_delay`` and ``call_later``: a frame that starts a new
  session (SESSION_SETUP with SessionId 0) then waits the delay it names, held like a frame behind a deferred IO,
  so the connection goes on receiving but nothing of it is handled until the timer fires.
* A request may go asynchronous (a LOCK that waits for a range, ``lock_waiters``; a CREATE that waits for another
  open's oplock break, ``oplocks``): it is answered STATUS_PENDING with an AsyncId at once, and finally when it
  ends, possibly while another connection's request is handled; then ``on_output`` tells the adapter there is
  something to send, as it does for an OPLOCK_BREAK notification. SMB2 CANCEL ends it with STATUS_CANCELLED.
* Memory is asked for before a frame is handled: when the adapter sets ``memory_gate``, a frame whose answer
  (``answer_cost``) may take more than the connection's budget allows is held (with every frame behind it) until
  ``resume()``; ``memory_in_use`` says what the connection holds, counted at allocation.
* Each command has one handler in a dispatch table. A handler gets a ``Request`` whose session and
  tree are already looked up and whose signature is already checked, and returns a ``Response`` or
  raises ``SMBError``.
"""

from __future__ import annotations

import collections
import logging
import struct
from typing import Any, Callable, Optional, Union

from cryptography.exceptions import InvalidTag

from . import crypto, events, files, info, ioctl, lock_waiters, negotiate, oplocks, session
from .context import ServerContext, bare_user
from .credits import SequenceWindow
from .files import Open
from .receiver import BufferPool, FrameReceiver, FrameTooLarge, FramingError
from .request import FRAME_PREFIX, ChainState, DeferredIO, Request, Response, error_body
from .state import Session, Tree
from .status import (
    STATUS_ACCESS_DENIED,
    STATUS_CANCELLED,
    STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER,
    STATUS_LOCK_NOT_GRANTED,
    STATUS_MORE_PROCESSING_REQUIRED,
    STATUS_NETWORK_NAME_DELETED,
    STATUS_NOT_SUPPORTED,
    STATUS_PENDING,
    STATUS_SUCCESS,
    STATUS_USER_SESSION_DELETED,
    SMBError,
    status_from_oserror,
)
from .wire import (
    CANCEL,
    CHANGE_NOTIFY,
    CLOSE,
    CREATE,
    DIALECT_202,
    DIALECT_210,
    DIALECT_311,
    DIALECT_WILDCARD,
    ECHO,
    FLAG_ASYNC,
    FLAG_SIGNED,
    FLUSH,
    HEADER_SIZE,
    IOCTL,
    LOCK,
    LOGOFF,
    NEGOTIATE,
    OPLOCK_BREAK,
    QUERY_DIRECTORY,
    QUERY_INFO,
    READ,
    SESSION_SETUP,
    SET_INFO,
    SMB1_MAGIC,
    SMB2_MAGIC,
    TRANSFORM_MAGIC,
    TREE_CONNECT,
    TREE_DISCONNECT,
    WRITE,
    Header,
    frame,
    pack_response_header,
    pad8,
    parse_header,
)

log = logging.getLogger("pysmbd.core")
HEADER_NEXT = struct.Struct("<I")
_COMMAND = struct.Struct("<H")  # the command, at offset 12 of the SMB2 header
_SESSION_ID = struct.Struct("<Q")  # the SessionId, at offset 40

STATUS_INTERNAL_ERROR = 0xC00000E5
MAX_CREDITS = 8192
ALL_FF_SESSION = 0xFFFFFFFFFFFFFFFF
ALL_FF_TREE = 0xFFFFFFFF
_NO_SESSION_COMMANDS = frozenset({NEGOTIATE, SESSION_SETUP, ECHO, CANCEL})
_NO_TREE_COMMANDS = frozenset({NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, ECHO, CANCEL})

PREAUTH_MAX_FRAME_SIZE = 64 * 1024 + 256  # 64 KiB of security token plus the SMB2 and transform headers
RECYCLE_SIZE = 256 * 1024  # frames from here on use (and give back) the connection's pooled buffers

Handler = Callable[["SMBServerConnection", Request], Response]
Buffer = Union[bytes, bytearray, memoryview]
IODone = Callable[[Any, Optional[BaseException]], None]
IOExecutor = Callable[[Callable[[], Any], IODone], None]
"""``executor(work, done)``: run ``work()`` off the connection's thread, then call ``done(result, error)`` back
on it (``error`` is the exception ``work`` raised, or None), and send what ``data_to_send`` then returns."""


def _echo(conn: SMBServerConnection, req: Request) -> Response:
    return Response(STATUS_SUCCESS, b"\x04\x00\x00\x00")


def _not_supported(conn: SMBServerConnection, req: Request) -> Response:
    raise SMBError(STATUS_NOT_SUPPORTED, "command not supported")


HANDLERS: dict[int, Handler] = {
    SESSION_SETUP: session.session_setup,
    LOGOFF: session.logoff,
    TREE_CONNECT: session.tree_connect,
    TREE_DISCONNECT: session.tree_disconnect,
    CREATE: files.create,
    CLOSE: files.close,
    FLUSH: files.flush,
    READ: files.read,
    WRITE: files.write,
    LOCK: files.lock,
    IOCTL: ioctl.ioctl,
    ECHO: _echo,
    QUERY_DIRECTORY: info.query_directory,
    CHANGE_NOTIFY: _not_supported,
    QUERY_INFO: info.query_info,
    SET_INFO: info.set_info,
    OPLOCK_BREAK: files.oplock_break_ack,
}


MAX_DIRECT_TCP_LENGTH = 0xFFFFFF  # the Direct TCP header carries a 24-bit length (MS-SMB2 2.1)


def _within_budget(
    outcome: tuple[Header, Response, Optional[Session]], used: int, budget: int, *, first: bool
) -> tuple[tuple[Header, Response, Optional[Session]], int]:
    """Keep a compound's response within one frame: without a cap, one frame of READs could make us queue
    thousands of max_io_size answers at once, and past 16 MiB the frame length no longer fits its header.
    A response that would overflow the budget is replaced by STATUS_INSUFFICIENT_RESOURCES."""
    header, response, owner = outcome
    size = HEADER_SIZE + len(response.body) + len(response.payload) + 7
    if not first and used + size > budget:
        response = Response(STATUS_INSUFFICIENT_RESOURCES, error_body())
        size = HEADER_SIZE + len(response.body) + 7
    return (header, response, owner), used + size


_ANSWER_LENGTH_AT = {READ: 4, QUERY_INFO: 4, QUERY_DIRECTORY: 28, IOCTL: 44}
"""Where in a request's body lies the largest answer it may get (Length, OutputBufferLength, MaxOutputResponse)."""
_SMALL_ANSWER = 256


def expected_answer_size(header: Header, message: memoryview) -> int:
    """The most a request's answer may take in a compound response, known before doing the work."""
    at = _ANSWER_LENGTH_AT.get(header.command)
    if at is None or len(message) < HEADER_SIZE + at + 4:
        return HEADER_SIZE + _SMALL_ANSWER
    return HEADER_SIZE + _SMALL_ANSWER + HEADER_NEXT.unpack_from(message, HEADER_SIZE + at)[0]


# Where a request carries its payload sizes: (what it sends, the most it may get back), as body offsets of
# 32-bit fields summed (MS-SMB2 3.3.5.2.5 names READ, WRITE, IOCTL and QUERY_DIRECTORY; READ's Length and
# WRITE's both sit at offset 4, handled first).
_PAYLOAD_SIZES_AT = {IOCTL: ((28, 40), (32, 44)), QUERY_DIRECTORY: ((), (28,))}
CREDIT_SIZE = 65536


def frame_answer_cost(message: Buffer, max_frame_size: int) -> int:
    """The most the answer to a (decrypted) SMB2 frame may take, read from its requests before any work: what a
    connection must be allowed to hold before the frame is handled. A compound's answer never exceeds one frame."""
    view = memoryview(message)
    cost = 0
    offset = 0
    while len(view) - offset >= HEADER_SIZE:
        next_command = HEADER_NEXT.unpack_from(view, offset + 20)[0]
        end = offset + next_command if next_command else len(view)
        command = int.from_bytes(view[offset + 12 : offset + 14], "little")
        at = _ANSWER_LENGTH_AT.get(command)
        cost += HEADER_SIZE + _SMALL_ANSWER
        if at is not None and end - offset >= HEADER_SIZE + at + 4 and end <= len(view):
            cost += HEADER_NEXT.unpack_from(view, offset + HEADER_SIZE + at)[0]
        if not next_command or next_command < HEADER_SIZE or cost >= max_frame_size:
            break
        offset = end
    return min(cost, max_frame_size + FRAME_PREFIX)


def credit_charge_covers(header: Header, message: memoryview) -> bool:
    """Does the CreditCharge pay for the request's payload and largest answer, 64 KiB a credit (3.3.5.2.5)?"""
    command = header.command
    if command == READ or command == WRITE:  # the hot path: one size, at the same place in both
        if len(message) < HEADER_SIZE + 8:
            return True  # too short to hold the size: the handler refuses it
        return HEADER_NEXT.unpack_from(message, HEADER_SIZE + 4)[0] <= CREDIT_SIZE * max(header.credit_charge, 1)
    sizes_at = _PAYLOAD_SIZES_AT.get(command)
    if sizes_at is None:
        return True
    sent_at, answer_at = sizes_at
    if len(message) < HEADER_SIZE + max((*sent_at, *answer_at)) + 4:
        return True
    sent = sum(HEADER_NEXT.unpack_from(message, HEADER_SIZE + at)[0] for at in sent_at)
    answer = sum(HEADER_NEXT.unpack_from(message, HEADER_SIZE + at)[0] for at in answer_at)
    return max(sent, answer, 1) <= CREDIT_SIZE * max(header.credit_charge, 1)


def _check_related(req: Request) -> None:
    """Refuse a related request the chain cannot serve (MS-SMB2 3.3.5.2.7.2)."""
    chain = req.chain
    if chain.error is None:
        chain.error = _broken_chain(req)
    if chain.error is not None:
        raise SMBError(chain.error, "an earlier request of the compound failed")


def _broken_chain(req: Request) -> Optional[int]:
    """STATUS_INVALID_PARAMETER for this related request and the rest of its chain, when it has nothing to
    inherit from: it is the first of its frame (the chain fails), or the request before it settled no
    session (3.3.5.2.7.2)."""
    header, chain = req.header, req.chain
    if not chain.started:
        return STATUS_INVALID_PARAMETER
    inherits_session = header.session_id in (ALL_FF_SESSION, 0)
    if inherits_session and not chain.session_id and header.command not in _NO_SESSION_COMMANDS:
        return STATUS_INVALID_PARAMETER
    return None


def _update_chain(req: Request, response: Response) -> None:
    """Record what the next related request inherits from this one."""
    chain, header = req.chain, req.header
    chain.started = True
    chain.status = response.status
    if response.session_id is not None:
        chain.session_id = response.session_id
    else:  # 0 when this request found no session: a related request after it fails (3.3.5.2.7.2)
        chain.session_id = req.session.session_id if req.session else 0
    chain.tree_id = (
        response.tree_id if response.tree_id is not None else (req.tree.tree_id if req.tree else header.tree_id)
    )
    if response.new_file_id is not None:
        chain.file_id = response.new_file_id
    if header.command == CREATE and response.status != STATUS_SUCCESS:
        # the chain's FileId never came to be: the related requests after it fail alike. A failure after
        # a successful CREATE does not stop the rest, so a trailing CLOSE still runs.
        chain.error = response.status


class SMBServerConnection:
    """The server side of one SMB2/3 connection; feed it bytes, send what it returns."""

    # Slots: a server holds one of these per client, and with over 30 attributes an instance's __dict__ stops sharing
    # its keys with the class's other instances (1.6 KiB more per connection, measured with tracemalloc). The
    # ``__dict__`` slot stays for what tests patch on one connection; it is only made when something is set there.
    __slots__ = (
        "__dict__",
        "_async_of_message",
        "_authenticated",
        "_ciphers",
        "_closed",
        "_closing",
        "_delay_served",
        "_events",
        "_held",
        "_io_bytes",
        "_io_pending",
        "_multi_credit",
        "_next_async_id",
        "_outgoing",
        "_outgoing_bytes",
        "_pool",
        "_receiver",
        "_waiting",
        "_window",
        "call_later",
        "cipher_id",
        "context",
        "dialect",
        "frames_received",
        "held_bytes",
        "io_executor",
        "login_delay",
        "memory_gate",
        "negotiation",
        "on_output",
        "opens",
        "peer",
        "preauth_hash",
        "sessions",
        "signing_algorithm",
        "transport",
        "waiting_for_memory",
    )

    def __init__(self, context: ServerContext, *, transport: str = "tcp", peer: str = "") -> None:
        self.context = context
        self.transport = transport
        self.peer = peer
        self.dialect = 0
        self._multi_credit = False
        """Connection.SupportsMultiCredit: every dialect after 2.0.2 (MS-SMB2 3.3.5.4); set with the dialect."""
        self.negotiation: Optional[negotiate.NegotiateResult] = None
        self.cipher_id = 0
        self.signing_algorithm = crypto.SIGN_HMAC_SHA256
        self.preauth_hash = bytes(64)
        self.sessions: dict[int, Session] = {}
        self.opens: dict[bytes, Open] = {}
        self._window = SequenceWindow(MAX_CREDITS)
        """The MessageIds the client may use next: { 0 } at first, one more per credit granted."""
        self._pool = BufferPool()
        self._receiver = FrameReceiver(self._pool)
        self._authenticated = False
        self.io_executor: Optional[IOExecutor] = None
        """Set by an adapter that can run file IO on worker threads; None runs it inline (tests, QUIC)."""
        self._io_pending = False
        self.login_delay: Optional[Callable[[], float]] = None
        """Set by an adapter that throttles logins: seconds a new SESSION_SETUP must wait now (0: none)."""
        self.call_later: Optional[Callable[[float, Callable[[], None]], None]] = None
        """Set with ``login_delay``: call back after the delay, then send what ``data_to_send`` returns."""
        self.on_output: Optional[Callable[[], None]] = None
        """Set by the adapter: called when a response was queued outside ``receive_data`` (an asynchronous request
        ended because of another connection); the adapter then sends what ``data_to_send`` returns."""
        self._waiting: dict[int, lock_waiters.LockWaiter] = {}  # AsyncId -> the request's waiter
        self._async_of_message: dict[int, int] = {}  # MessageId -> AsyncId, for a CANCEL in the sync form
        self._next_async_id = 1
        self._delay_served: Optional[Buffer] = None  # the frame whose delay just ended: it is not delayed again
        self.frames_received = 0
        """Frames taken off the stream so far (the adapter's deadline for finishing a frame restarts at each)."""
        # Made at the first frame held: an empty deque is 760 bytes, and most connections never hold one.
        self._held: Optional[collections.deque[tuple[Buffer, float, Optional[Session], Optional[bytearray]]]] = None
        self.held_bytes = 0
        """Bytes of frames received while a deferred IO runs or memory is short, waiting their turn (the adapter
        stops reading when there are too many)."""
        self.memory_gate: Optional[Callable[[Buffer], bool]] = None
        """Set by the adapter: may this (decrypted) frame be handled now? False holds it, and every frame behind it,
        until ``resume()``. The adapter asks ``answer_cost`` only when it must (see ``pysmbd.server.budget``)."""
        self.waiting_for_memory = False
        """Frames are held because ``memory_gate`` refused the first of them."""
        self._io_bytes = 0  # buffers a deferred IO holds while it runs
        self._outgoing_bytes = 0
        self._closed = False
        self._outgoing: list[bytes | memoryview] = []
        # A list, not a deque: a connection has few events at a time, and an empty deque is 760 bytes.
        self._events: list[events.Event] = []
        self._closing = False
        self._ciphers = tuple(
            crypto.CIPHER_NAMES[name] for name in context.encryption_ciphers if name in crypto.CIPHER_NAMES
        )

    # ----------------------------------------------------------------- the sans-IO surface

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """Take bytes read from the transport (any split: whole frames, fragments, several at once)."""
        view = memoryview(data).cast("B")
        while len(view) and not self._closing:
            target = self.get_buffer()
            count = min(len(target), len(view))
            target[:count] = view[:count]
            view = view[count:]
            self.buffer_updated(count, now)

    def get_buffer(self) -> memoryview:
        """A buffer to read into (``sock.recv_into``), then report the count with ``buffer_updated``."""
        return self._receiver.get_buffer()

    def buffer_updated(self, count: int, now: float) -> None:
        """``count`` bytes were read into the last ``get_buffer()``: handle every frame now complete."""
        if self._closing:
            return
        receiver = self._receiver
        receiver.buffer_updated(count)
        while not self._closing:
            try:
                received = receiver.next_frame(self._frame_limit())
            except FrameTooLarge as error:
                reason = f"frame of {error.length} bytes exceeds max_frame_size {error.limit}"
                if not self._authenticated:
                    reason += " (the limit before a session is established)"
                self._close_because(reason)
                return
            except FramingError as error:
                self._close_because(str(error))
                return
            if received is None:
                return
            self.frames_received += 1
            self._handle_frame(received.buffer, received.length, now)

    @property
    def partial_frame_bytes(self) -> int:
        """Bytes of a frame that has begun to arrive and is not complete yet."""
        return self._receiver.buffered

    @property
    def buffered_bytes(self) -> int:
        """Received bytes not yet handled (a partial frame, or frames held behind a deferred IO)."""
        return self._receiver.buffered + self.held_bytes

    @property
    def _chunks(self) -> list[range]:
        # For tests/support/fuzz/harness.py, which sums len() over what was the core's list of input chunks.
        return [range(self._receiver.buffered), range(self.held_bytes)]

    def _frame_limit(self) -> int:
        if not self._authenticated:
            self._authenticated = any(found.valid for found in self.sessions.values())
            if not self._authenticated:
                return min(self.context.max_frame_size, PREAUTH_MAX_FRAME_SIZE)
        return self.context.max_frame_size

    def data_to_send(self) -> list[bytes | memoryview]:
        """Framed chunks to write, in order (suitable for ``transport.writelines``)."""
        out, self._outgoing = self._outgoing, []
        self._outgoing_bytes = 0
        return out

    @property
    def memory_in_use(self) -> int:
        """Bytes this connection holds, counted at allocation: receive buffers (a large frame's whole buffer as soon
        as its header arrives), frames waiting their turn, pooled buffers, the buffers of a running IO, and
        responses not yet taken by ``data_to_send`` (the adapter adds what its transport still queues)."""
        return self._receiver.allocated + self.held_bytes + self._pool.kept + self._io_bytes + self._outgoing_bytes

    def answer_cost(self, message: Buffer) -> int:
        """The most the answer to this frame may take (``memory_gate`` asks it when memory is counted closely)."""
        return frame_answer_cost(message, self.context.max_frame_size)

    @property
    def answers_queued(self) -> int:
        """Bytes of answers built and not yet taken by ``data_to_send``."""
        return self._outgoing_bytes

    def resume(self) -> None:
        """Try the frames held for memory again (the adapter calls this when memory was freed)."""
        if not self._io_pending and not self._closed:
            self._run_held()

    def next_event(self) -> Optional[events.Event]:
        """The next event, or None when there are none."""
        return self._events.pop(0) if self._events else None

    def close(self) -> None:
        """Release every open file and session (the transport went away)."""
        self._closed = True
        for session_id in list(self.sessions):
            self.close_session(session_id)
        for waiter in list(self._waiting.values()):  # none should be left: each waits on an open closed above
            lock_waiters.end(waiter, STATUS_CANCELLED)
        self._receiver.clear()
        self._pool.clear()
        self._held = None
        self.held_bytes = 0
        self.waiting_for_memory = False
        self._io_bytes = 0
        self._outgoing.clear()
        self._outgoing_bytes = 0

    # ----------------------------------------------------------------- helpers for handlers

    def emit(self, event: events.Event) -> None:
        self._events.append(event)

    def forget_session(self, session_id: int) -> None:
        """Drop a session that never became valid (failed authentication)."""
        self.sessions.pop(session_id, None)

    def close_session(self, session_id: int) -> None:
        found = self.sessions.pop(session_id, None)
        if found is None:
            return
        if self.context.live_sessions.get(session_id) is self:
            del self.context.live_sessions[session_id]
        for tree_id in list(found.trees):  # LOGOFF, like a lost connection, keeps durable opens (3.3.5.6)
            self.close_tree(found, tree_id, keep_durable=True)
        if found.valid:
            self.emit(events.SessionClosed(session_id))

    def close_tree(self, owner: Session, tree_id: int, *, keep_durable: bool = False) -> None:
        """End a tree connect and close its opens; ``keep_durable`` (a LOGOFF or a lost connection) keeps the
        durable ones for their client to reclaim."""
        owner.trees.pop(tree_id, None)
        for handle in list(self.opens.values()):
            if handle.session_id == owner.session_id and handle.tree.tree_id == tree_id:
                files.drop_open(self, handle, keep_durable=keep_durable)

    def send_oplock_break(self, handle: Open, level: int) -> None:
        """Queue an OPLOCK_BREAK notification for one of this connection's opens (MS-SMB2 3.3.4.6): MessageId
        all-0xFF, no session or tree, unsigned; encrypted when the open's session or share encrypts."""
        if self._closed:
            return
        request = Header(0, 0, OPLOCK_BREAK, 0, 0, 0, oplocks.NOTIFICATION_MESSAGE_ID, 0, 0, 0, bytes(16))
        message = pack_response_header(request, STATUS_SUCCESS, 0)
        message += oplocks.BREAK.pack(24, level, 0, 0, handle.file_id)
        owner = self.sessions.get(handle.session_id)
        if owner is not None and owner.encryptor is not None and (owner.encrypt_data or handle.tree.encrypt):
            sealed = owner.encryptor.encrypt(owner.session_id, bytes(message))
            total = sum(len(p) for p in sealed)
            self._queue_output([frame(total), *sealed], 4 + total)
        else:
            self._queue_output([frame(len(message)), bytes(message)], 4 + len(message))
        if self.on_output is not None:
            self.on_output()

    def allocate_file_id(self) -> bytes:
        if len(self.opens) >= self.context.max_opens_per_connection:
            raise SMBError(STATUS_INSUFFICIENT_RESOURCES, "too many open files on this connection")
        value = next(self.context.file_ids)  # unique server-wide: a reclaimed durable open keeps its FileId
        return value.to_bytes(8, "little") * 2

    # ----------------------------------------------------------------- frames

    def terminate(self, reason: str) -> None:
        """Ask the adapter to close this connection after sending what is pending."""
        self._close_because(reason)

    def _close_because(self, reason: str) -> None:
        self._closing = True
        self._events.append(events.ConnectionShouldClose(reason))

    def _handle_frame(self, buffer: bytearray, length: int, now: float) -> None:
        """One frame: ``length`` bytes at the start of ``buffer``, which has 16 spare bytes behind them."""
        payload = memoryview(buffer)[:length]
        magic = payload[:4]
        if length < RECYCLE_SIZE and self._pool.kept:
            self._pool.clear()  # the bulk transfer is over: give its buffers back
        if magic == SMB2_MAGIC:
            self._dispatch(payload, now, None, buffer if length >= RECYCLE_SIZE else None)
        elif magic == TRANSFORM_MAGIC:
            self._handle_transform(buffer, length, now)
        elif magic == SMB1_MAGIC:
            self._handle_smb1(payload, now)
        else:
            self._close_because("frame is neither SMB2 nor SMB1")

    def _handle_transform(self, frame_buffer: bytearray, length: int, now: float) -> None:
        buffer = memoryview(frame_buffer)
        payload = buffer[:length]
        if len(payload) < crypto.TRANSFORM_HEADER_SIZE + HEADER_SIZE:
            self._close_because("truncated transform header")
            return
        _magic, _sig, _nonce, size, _reserved, _flags, session_id = crypto.TRANSFORM_HEADER.unpack_from(payload)
        owner = self.sessions.get(session_id)
        if owner is None or owner.decryptor is None:
            self._close_because("encrypted message for an unknown session")
            return
        plain_size = length - crypto.TRANSFORM_HEADER_SIZE
        if size != plain_size:
            self._close_because("encrypted message does not hold SMB2")
            return
        plain_buffer: Optional[bytearray] = None
        into: Optional[memoryview] = None
        if length >= RECYCLE_SIZE:
            plain_buffer = self._pool.take(plain_size)
            into = memoryview(plain_buffer)[:plain_size]
        try:
            plain = owner.decryptor.decrypt_in_frame(buffer, length, into)
        except InvalidTag:
            self._close_because("encrypted message failed authentication")
            return
        if plain[:4] != SMB2_MAGIC:
            self._close_because("encrypted message does not hold SMB2")
            return
        if plain_buffer is not None:
            self._pool.give(frame_buffer)  # the ciphertext is no longer needed
        self._dispatch(plain, now, owner, plain_buffer)

    # ----------------------------------------------------------------- deferred IO

    def _dispatch(
        self, message: Buffer, now: float, encrypted_by: Optional[Session], pooled: Optional[bytearray]
    ) -> None:
        """Handle a (decrypted) SMB2 frame now, or hold it while a deferred IO runs.

        ``pooled`` is the pool buffer under ``message``; it goes back to the pool once a deferred IO that used
        it is done (a request handled at once may have left views of it behind, so that buffer is not reused).
        """
        if self._io_pending or self._held or (self.memory_gate is not None and not self._memory_allows(message)):
            self._hold((message, now, encrypted_by, pooled))
            return
        # Only a SESSION_SETUP may wait for a login delay: other frames skip the call (this path is the hot one).
        if (
            self.login_delay is not None
            and len(message) >= HEADER_SIZE
            and message[12] == SESSION_SETUP
            and not message[13]
            and self._login_waits(message, now, encrypted_by, pooled)
        ):
            return
        self._handle_compound(message, now, encrypted_by, pooled)

    def _login_waits(
        self, message: Buffer, now: float, encrypted_by: Optional[Session], pooled: Optional[bytearray]
    ) -> bool:
        """Hold a frame that starts a new session while its client address must wait (password guessing)."""
        if self.login_delay is None or self.call_later is None or message is self._delay_served:
            return False
        if len(message) < HEADER_SIZE or _COMMAND.unpack_from(message, 12)[0] != SESSION_SETUP:
            return False
        if _SESSION_ID.unpack_from(message, 40)[0] != 0:
            return False
        seconds = self.login_delay()
        if seconds <= 0:
            return False
        self._hold((message, now, encrypted_by, pooled), first=True)
        self._io_pending = True
        self.emit(events.LoginDelayed(seconds))

        def waited() -> None:
            self._io_pending = False
            if not self._closed:
                self._delay_served = self._held[0][0] if self._held else None
                self._run_held()
                self._delay_served = None

        self.call_later(seconds, waited)
        return True

    def _memory_allows(self, message: Buffer) -> bool:
        """Ask the adapter's ``memory_gate`` for what this frame's answer may take; a refusal holds the frame."""
        gate = self.memory_gate
        if gate is None:
            return True
        allowed = gate(message)
        self.waiting_for_memory = not allowed
        return allowed

    def _start_io(
        self,
        answered: tuple[Header, Response, Optional[Session]],
        encrypted_by: Optional[Session],
        pooled: Optional[bytearray],
    ) -> None:
        header, response, owner = answered
        deferred = response.deferred
        assert deferred is not None and self.io_executor is not None
        self._io_pending = True
        self._io_bytes = deferred.buffer_size + (len(pooled) if pooled is not None else 0)

        def done(result: Any, error: Optional[BaseException]) -> None:
            self._io_pending = False
            self._io_bytes = 0
            if self._closed:
                return
            self._send([(header, self._finish_io(header, deferred, result, error), owner)], encrypted_by)
            if pooled is not None:
                self._pool.give(pooled)
            self._run_held()

        self.io_executor(deferred.work, done)

    def _finish_io(self, header: Header, deferred: DeferredIO, result: Any, error: Optional[BaseException]) -> Response:
        try:
            if error is not None:
                raise error
            return deferred.finish(result)
        except SMBError as failure:
            return Response(failure.status, error_body(failure.error_data))
        except OSError as failure:
            log.debug("IO of command 0x%x from %s failed: %s", header.command, self.peer, failure)
            return Response(status_from_oserror(failure), error_body())
        except Exception:  # a bug must cost one request, never the server
            log.exception("internal error finishing command 0x%x from %s", header.command, self.peer)
            return Response(STATUS_INTERNAL_ERROR, error_body())

    def _run_held(self) -> None:
        """Handle the frames that arrived during a deferred IO, until the next one defers again."""
        held = self._held
        while held and not self._io_pending and not self._closing:
            if not self._memory_allows(held[0][0]):
                return
            message, now, encrypted_by, pooled = held.popleft()
            self.held_bytes -= len(message)
            if self._login_waits(message, now, encrypted_by, pooled):
                return
            self._handle_compound(message, now, encrypted_by, pooled)
        if self._closing:
            self._held = None
            self.held_bytes = 0

    def _hold(
        self, frame: tuple[Buffer, float, Optional[Session], Optional[bytearray]], *, first: bool = False
    ) -> None:
        if self._held is None:
            self._held = collections.deque()
        if first:
            self._held.appendleft(frame)
        else:
            self._held.append(frame)
        self.held_bytes += len(frame[0])

    def _handle_smb1(self, payload: memoryview, now: float) -> None:
        if self.transport == "quic":
            self._close_because("SMB1 NEGOTIATE over QUIC (SMB over QUIC is 3.1.1 only)")
            return
        dialect = negotiate.smb1_negotiate_dialect(bytes(payload)) if not self.dialect else 0
        if not dialect:
            self._close_because("SMB1 client that offers no SMB2 dialect")
            return
        if not self._window.consume(0):  # an SMB1 NEGOTIATE counts as MessageId 0 (MS-SMB2 3.3.5.2.3)
            self._close_because("SMB1 NEGOTIATE after MessageId 0 was used")
            return
        result = negotiate.NegotiateResult(
            dialect,
            bytes(16),
            0,
            0,
            0,
            negotiate.SECURITY_SIGNING_ENABLED
            | (negotiate.SECURITY_SIGNING_REQUIRED if self.context.require_signing else 0),
            (dialect,),
        )
        if dialect == DIALECT_202:
            self._set_negotiated(result)
        body = negotiate.build_response_body(result, self.context.server_guid, self.context.max_io_size, now)
        request = Header(0, 0, NEGOTIATE, 1, 0, 0, 0, 0, 0, 0, bytes(16))
        message = pack_response_header(request, STATUS_SUCCESS, self._window.grant(1)) + body
        self._queue_output([frame(len(message)) + message], 4 + len(message))

    def _set_negotiated(self, result: negotiate.NegotiateResult) -> None:
        self.negotiation = result
        self.dialect = result.dialect
        self._multi_credit = result.dialect >= DIALECT_210 and result.dialect != DIALECT_WILDCARD
        self.cipher_id = result.cipher_id
        self.signing_algorithm = result.signing_algorithm

    def _negotiate(self, req: Request) -> Response:
        if self.dialect and self.dialect != DIALECT_WILDCARD:
            self._close_because("second NEGOTIATE on one connection")
            raise SMBError(STATUS_INVALID_PARAMETER, "already negotiated")
        result = negotiate.negotiate(
            req.message,
            require_signing=self.context.require_signing,
            ciphers=self._ciphers,
            allow_202=self.context.allow_smb2_02,
            transport=self.transport,
        )
        self._set_negotiated(result)
        body = negotiate.build_response_body(result, self.context.server_guid, self.context.max_io_size, req.now)
        if result.dialect != DIALECT_311:
            return Response(STATUS_SUCCESS, body)
        self.preauth_hash = crypto.preauth_update(bytes(64), req.message)

        def hash_response(packed: bytes) -> None:
            self.preauth_hash = crypto.preauth_update(self.preauth_hash, packed)

        return Response(STATUS_SUCCESS, body, after_pack=hash_response)

    # ----------------------------------------------------------------- requests

    def _handle_compound(
        self, data: Buffer, now: float, encrypted_by: Optional[Session], pooled: Optional[bytearray] = None
    ) -> None:
        view = memoryview(data)
        chain = ChainState()
        answered: list[tuple[Header, Response, Optional[Session]]] = []
        budget = min(self.context.max_frame_size, MAX_DIRECT_TCP_LENGTH) - crypto.TRANSFORM_HEADER_SIZE
        used = 0
        offset = 0
        while True:
            if len(view) - offset < HEADER_SIZE or view[offset : offset + 4] != SMB2_MAGIC:
                if offset == 0:
                    self._close_because("truncated SMB2 header")
                    return
                break
            header = parse_header(view[offset:])
            end = len(view)
            if header.next_command:
                if (
                    header.next_command % 8
                    or header.next_command < HEADER_SIZE
                    or offset + header.next_command > len(view)
                ):
                    self._close_because("invalid NextCommand in a compound")
                    return
                end = offset + header.next_command
            if not self._take_sequence(header):
                return
            request = Request(header, view[offset:end], encrypted_by is not None, now, chain)
            request.alone = offset == 0 and not header.next_command
            request.may_defer = request.alone and self.io_executor is not None
            request.budget_left = budget - used if answered else None
            outcome = self._handle_request(request, encrypted_by)
            if outcome is not None and outcome[1].deferred is not None:
                self._start_io(outcome, encrypted_by, pooled)
                return
            if outcome is not None and outcome[1].waits is not None:
                outcome = self._go_async(outcome, encrypted_by, request)
            if outcome is not None:
                outcome, used = _within_budget(outcome, used, budget, first=not answered)
                answered.append(outcome)
            if not header.next_command or (self._closing and header.command == NEGOTIATE):
                break
            offset = end
        if answered:
            self._send(answered, encrypted_by)

    def _handle_request(
        self, req: Request, encrypted_by: Optional[Session]
    ) -> Optional[tuple[Header, Response, Optional[Session]]]:
        header = req.header
        if header.command == CANCEL:
            self._cancel(header)
            return None  # a CANCEL itself is never answered (MS-SMB2 3.3.5.16)
        if not header.is_related:  # an unrelated request starts a new chain inside the compound
            req.chain.file_id = None
            req.chain.status = STATUS_SUCCESS
            req.chain.error = None
        owner: Optional[Session] = None
        try:
            owner = self._prepare(req, encrypted_by)
            if header.command == NEGOTIATE:
                response = self._negotiate(req)
            else:
                handler = HANDLERS.get(header.command)
                if handler is None:  # a request that fits no structure of MS-SMB2 2.2 (3.3.5.2.6)
                    raise SMBError(STATUS_INVALID_PARAMETER, f"unknown command 0x{header.command:x}")
                if self._multi_credit and not credit_charge_covers(header, req.message):
                    raise SMBError(STATUS_INVALID_PARAMETER, "CreditCharge does not cover the payload")
                if req.budget_left is not None and expected_answer_size(header, req.message) > req.budget_left:
                    # refused before the work: 7,000 READs of 8 MiB in one frame once held the loop for 8 s
                    raise SMBError(STATUS_INSUFFICIENT_RESOURCES, "the compound's answer would exceed one frame")
                response = handler(self, req)
        except SMBError as error:
            log.debug("command 0x%x from %s failed: %s", header.command, self.peer, error)
            response = Response(error.status, error_body(error.error_data))
        except Exception:  # a bug must cost one request, never the server
            log.exception("internal error handling command 0x%x from %s", header.command, self.peer)
            response = Response(STATUS_INTERNAL_ERROR, error_body())
        if owner is None:  # the request failed before its session was settled: still sign the error
            owner = self.sessions.get(
                response.session_id if response.session_id is not None else self._session_id_of(req)
            )
            if owner is not None and not owner.valid:
                owner = None
        if header.command == SESSION_SETUP and response.status == STATUS_SUCCESS and response.session_id:
            self._session_established(req, response.session_id)
        _update_chain(req, response)
        return header, response, owner

    def _session_established(self, req: Request, session_id: int) -> None:
        """Know the session server-wide, and end the one the client names as its PreviousSessionId (MS-SMB2
        3.3.5.5.3): a client back from a network failure whose old connection the server still thinks alive. The old
        session's durable opens are kept for the client to reclaim; the old connection stays, its session gone."""
        live = self.context.live_sessions
        live[session_id] = self
        if len(req.message) < HEADER_SIZE + 24:
            return
        previous = _SESSION_ID.unpack_from(req.message, HEADER_SIZE + 16)[0]
        older = live.get(previous) if previous and previous != session_id else None
        if older is None:
            return
        mine, theirs = self.sessions.get(session_id), older.sessions.get(previous)
        if mine is None or theirs is None or not theirs.valid or mine.is_guest:
            return
        if bare_user(mine.user) == bare_user(theirs.user):  # only the same user may end it
            older.close_session(previous)
            if older.on_output is not None:
                older.on_output()  # its adapter drains the SessionClosed event

    # ----------------------------------------------------------------- asynchronous requests

    def _go_async(
        self, outcome: tuple[Header, Response, Optional[Session]], encrypted_by: Optional[Session], request: Request
    ) -> tuple[Header, Response, Optional[Session]]:
        """Queue the request's waiter and answer STATUS_PENDING with a new AsyncId (MS-SMB2 3.3.4.2).

        A waiting LOCK's final answer is its waiter's status. A CREATE waiting for an oplock break
        (``oplocks.BreakWaiter``) is handled again once the break ends, and that answer is the final one."""
        header, response, owner = outcome
        assert response.waits is not None
        queue, waiter = response.waits
        if len(self._waiting) >= lock_waiters.MAX_WAITERS_PER_CONNECTION:
            status = STATUS_INSUFFICIENT_RESOURCES if header.command == CREATE else STATUS_LOCK_NOT_GRANTED
            return header, Response(status, error_body()), owner
        async_id = self._next_async_id
        self._next_async_id += 1
        retry = self._retry_later(request) if isinstance(waiter, oplocks.BreakWaiter) else None

        def finish(status: int) -> None:
            self._waiting.pop(async_id, None)
            self._async_of_message.pop(header.message_id, None)
            if self._closed:
                return
            if retry is not None and status == STATUS_SUCCESS:
                final = retry()
                if final.waits is not None:  # another break to wait for: same AsyncId, no second interim
                    queue_again, waiter_again = final.waits
                    start_waiting(queue_again, waiter_again)
                    return
                final.async_id = async_id
            else:
                body = b"\x04\x00\x00\x00" if status == STATUS_SUCCESS else error_body()
                final = Response(status, body, async_id=async_id)
            self._send([(header, final, owner)], encrypted_by)
            if self.on_output is not None:
                self.on_output()

        def start_waiting(queue: list, waiter: Any) -> None:
            waiter.finish = finish
            lock_waiters.wait(queue, waiter)
            self._waiting[async_id] = waiter
            self._async_of_message[header.message_id] = async_id

        start_waiting(queue, waiter)
        return header, Response(STATUS_PENDING, error_body(), async_id=async_id), owner

    def _retry_later(self, request: Request) -> Callable[[], Response]:
        """Handle a request again later (a CREATE after an oplock break), from a copy of it: its frame's buffer
        may be reused meanwhile. Its session and tree are looked up again: either may have gone."""
        session_id = request.session.session_id if request.session else 0
        tree_id = request.tree.tree_id if request.tree else 0
        copy = Request(request.header, memoryview(bytes(request.message)), request.encrypted, request.now, ChainState())
        copy.alone = True

        def retry() -> Response:
            found = self.sessions.get(session_id)
            if found is None or not found.valid:
                return Response(STATUS_USER_SESSION_DELETED, error_body())
            tree = found.trees.get(tree_id)
            if tree is None:
                return Response(STATUS_NETWORK_NAME_DELETED, error_body())
            copy.session, copy.tree = found, tree
            handler = HANDLERS[copy.header.command]
            try:
                return handler(self, copy)
            except SMBError as error:
                return Response(error.status, error_body(error.error_data))
            except Exception:  # a bug must cost one request, never the server
                log.exception("internal error retrying command 0x%x from %s", copy.header.command, self.peer)
                return Response(STATUS_INTERNAL_ERROR, error_body())

        return retry

    def _cancel(self, header: Header) -> None:
        """SMB2 CANCEL: end the request it names (by AsyncId, or by MessageId before the interim answer came)."""
        async_id = header.async_id if header.flags & FLAG_ASYNC else self._async_of_message.get(header.message_id)
        waiter = self._waiting.get(async_id or 0)
        if waiter is not None:
            lock_waiters.end(waiter, STATUS_CANCELLED)

    def _take_sequence(self, header: Header) -> bool:
        """Use the request's MessageId (its CreditCharge numbers from there on a multi-credit connection) from
        the command sequence window, or ask to close the connection (MS-SMB2 3.3.5.2.3, 3.3.5.2.5)."""
        if header.command == CANCEL:  # a CANCEL reuses the MessageId of what it cancels: it uses no number
            return True
        charge = header.credit_charge if self._multi_credit else 1
        if self._window.consume(header.message_id, charge):
            return True
        window = self._window
        self._close_because(
            f"MessageId {header.message_id} (CreditCharge {max(1, charge)}) of command 0x{header.command:x} "
            f"is not in the granted sequence window [{window.low}, {window.high}) or was used before"
        )
        return False

    def _session_id_of(self, req: Request) -> int:
        """The request's SessionId; a related request may inherit it from the one before."""
        session_id = req.header.session_id
        if req.header.is_related and session_id in (ALL_FF_SESSION, 0):
            return req.chain.session_id
        return session_id

    def _prepare(self, req: Request, encrypted_by: Optional[Session]) -> Optional[Session]:
        """Find the session and tree, check negotiation, signatures and encryption rules."""
        header = req.header
        if header.command != NEGOTIATE and (not self.dialect or self.dialect == DIALECT_WILDCARD):
            raise SMBError(STATUS_INVALID_PARAMETER, "NEGOTIATE first")
        if header.is_related:
            _check_related(req)
        session_id = self._session_id_of(req)
        owner = self.sessions.get(session_id) if session_id else None
        if owner is not None and owner.signer is not None and header.command != SESSION_SETUP:
            if header.is_signed and encrypted_by is None:
                if not owner.signer.verify(req.message, message_id=header.message_id):
                    raise SMBError(STATUS_ACCESS_DENIED, "bad signature")
            elif encrypted_by is None and owner.signing_required and header.command not in (NEGOTIATE, ECHO):
                raise SMBError(STATUS_ACCESS_DENIED, "unsigned request on a session that requires signing")
        if header.command in _NO_SESSION_COMMANDS:
            req.session = owner
            return owner
        if owner is None or not owner.valid:
            raise SMBError(STATUS_USER_SESSION_DELETED, "unknown session")
        if encrypted_by is not None and encrypted_by is not owner:
            raise SMBError(STATUS_ACCESS_DENIED, "encrypted with another session's key")
        if owner.encrypt_data and encrypted_by is None:
            raise SMBError(STATUS_ACCESS_DENIED, "session requires encryption")
        req.session = owner
        if header.command in _NO_TREE_COMMANDS:
            return owner
        tree_id = header.tree_id
        if header.is_related and tree_id in (ALL_FF_TREE, 0):
            tree_id = req.chain.tree_id
        tree: Optional[Tree] = owner.trees.get(tree_id)
        if tree is None:
            raise SMBError(STATUS_NETWORK_NAME_DELETED, "unknown tree")
        if tree.encrypt and encrypted_by is None:
            raise SMBError(STATUS_ACCESS_DENIED, "share requires encryption")
        req.tree = tree
        return owner

    # ----------------------------------------------------------------- responses

    def _grant_credits(self, header: Header) -> int:
        """Grant what the request asks (at least one) while the window spans at most MAX_CREDITS numbers
        (3.3.1.2). The request's own numbers were used when it arrived; a client left with no credit has an
        empty window, so it always gets at least one."""
        return self._window.grant(max(header.credits, 1))

    def _send(
        self, answered: list[tuple[Header, Response, Optional[Session]]], encrypted_by: Optional[Session]
    ) -> None:
        if len(answered) == 1 and answered[0][1].frame_buffer is not None:
            self._send_prefixed(*answered[0], encrypted_by)
            return
        parts: list[bytes | memoryview | bytearray] = []
        encrypt_with: Optional[Session] = encrypted_by
        for index, (header, response, owner) in enumerate(answered):
            last = index == len(answered) - 1
            final_async = response.async_id is not None and response.status != STATUS_PENDING
            credits = 0 if final_async else self._grant_credits(header)  # MS-SMB2 3.3.4.3: the interim granted them
            head = pack_response_header(
                header,
                response.status,
                credits,
                session_id=response.session_id,
                tree_id=response.tree_id,
                async_id=response.async_id,
            )
            head += response.body
            payload = response.payload
            size = len(head) + len(payload)
            padding = b"" if last else bytes(pad8(size))
            if not last:
                HEADER_NEXT.pack_into(head, 20, size + len(padding))
            if response.after_pack is not None:
                response.after_pack(bytes(head) + bytes(payload))
            if (
                owner is not None
                and owner.encryptor is not None
                and owner.valid
                and (owner.encrypt_data or self._tree_encrypts(header, owner))
            ):
                encrypt_with = encrypt_with or owner
            if (
                encrypt_with is None
                and owner is not None
                and owner.signer is not None
                and self._should_sign(header, response, owner)
            ):
                head[16:20] = (int.from_bytes(head[16:20], "little") | FLAG_SIGNED).to_bytes(4, "little")
                signature = owner.signer.signature(
                    [head, payload, padding] if padding else [head, payload] if payload else [head],
                    message_id=header.message_id,
                    is_response=True,
                )
                head[48:64] = signature
            elif encrypt_with is None and owner is None and header.is_signed:
                # The session is gone (STATUS_USER_SESSION_DELETED): nothing to sign with, but a client that
                # signed keeps the SIGNED flag on the answer, with a zero signature, as Samba and Windows do.
                head[16:20] = (int.from_bytes(head[16:20], "little") | FLAG_SIGNED).to_bytes(4, "little")
            parts.append(head)
            if payload:
                parts.append(payload)
            if padding:
                parts.append(padding)
        if encrypt_with is not None and encrypt_with.encryptor is not None:
            message = parts[0] if len(parts) == 1 else b"".join(parts)
            sealed = encrypt_with.encryptor.encrypt(encrypt_with.session_id, message)
            total = sum(len(p) for p in sealed)
            self._queue_output([frame(total), *sealed], 4 + total)
            return
        total = sum(len(p) for p in parts)
        self._queue_output([frame(total), *(bytes(p) if isinstance(p, bytearray) else p for p in parts)], 4 + total)

    def _send_prefixed(
        self, header: Header, response: Response, owner: Optional[Session], encrypted_by: Optional[Session]
    ) -> None:
        """One response whose payload already sits behind room for the headers: no copy before the socket."""
        buffer = response.frame_buffer
        assert buffer is not None
        end = FRAME_PREFIX + len(response.payload)
        view = memoryview(buffer)
        head = pack_response_header(header, response.status, self._grant_credits(header))
        message = view[4:end]
        encrypt_with = encrypted_by
        if encrypt_with is None and owner is not None and owner.encryptor is not None and owner.valid:
            if owner.encrypt_data or self._tree_encrypts(header, owner):
                encrypt_with = owner
        sign = encrypt_with is None and owner is not None and owner.signer is not None
        sign = sign and self._should_sign(header, response, owner)  # type: ignore[arg-type]
        if sign:
            head[16:20] = (int.from_bytes(head[16:20], "little") | FLAG_SIGNED).to_bytes(4, "little")
        view[4 : 4 + HEADER_SIZE] = head
        view[4 + HEADER_SIZE : FRAME_PREFIX] = response.body
        if encrypt_with is not None and encrypt_with.encryptor is not None:
            sealed = encrypt_with.encryptor.encrypt(encrypt_with.session_id, message)
            total = sum(len(p) for p in sealed)
            self._queue_output([frame(total), *sealed], 4 + total)
            return
        if sign:
            assert owner is not None and owner.signer is not None
            view[52:68] = owner.signer.signature([message], message_id=header.message_id, is_response=True)
        view[0:4] = frame(end - 4)
        self._queue_output([view[:end]], end)

    def _queue_output(self, chunks: list, size: int) -> None:
        """Queue a framed response of ``size`` bytes (the caller knows it: no second pass over the chunks)."""
        self._outgoing.extend(chunks)
        self._outgoing_bytes += size

    def _tree_encrypts(self, header: Header, owner: Session) -> bool:
        tree = owner.trees.get(header.tree_id)
        return bool(tree and tree.encrypt)

    def _should_sign(self, header: Header, response: Response, owner: Session) -> bool:
        if owner.is_guest or (not owner.valid and not response.force_sign):
            return False
        if response.status in (STATUS_MORE_PROCESSING_REQUIRED, STATUS_PENDING):
            return False  # an interim response SHOULD NOT be signed (MS-SMB2 3.3.4.2)
        return response.force_sign or header.is_signed or owner.signing_required
