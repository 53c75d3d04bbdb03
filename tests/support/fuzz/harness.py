"""The fuzz target: one in-process ``SMBServerConnection`` fed hostile bytes, checked after every call.

Properties checked on every ``feed`` (a failure names the input that broke it):

* no exception escapes ``receive_data``/``data_to_send``/``next_event``, and each call returns within a
  wall-clock guard (SIGALRM turns a hang into ``HangError``);
* only the documented events come out of ``next_event``;
* the core's own safety net stays unused: no ``internal error`` log line, no STATUS_INTERNAL_ERROR response
  (an exception swallowed there is a bug that costs a request, not the server, but a bug all the same);
* memory stays bounded: buffered input below one frame, output of one call below 2 * max_frame_size per
  request frame, sessions and opens within the context's limits, unread named-pipe output below
  2 * max_frame_size;
* what the core sends is well framed (Direct TCP header with a zero first byte, SMB2 responses that parse);
* a complete request frame that needs an answer gets one, or the connection is told to close: never silence;
  while traffic is plain SMB2, every request (CANCEL aside) is answered exactly once, at the latest when the
  deferred IO (``deferred_io=True``: the adapter's worker threads, completed by ``complete_io()``) is done.

A request whose MessageId the server never granted, or one used before, ends the connection (MS-SMB2
3.3.5.2.3): that close is a correct answer like any other. So that hand-built and replayed requests reach
the handlers, ``feed_frame`` and ``sign`` number them as a client does (``number``); ``feed`` sends bytes as
they are.
"""

from __future__ import annotations

import logging
import signal
import struct
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

import spnego

from pysmbd.core import events
from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.context import ServerContext, ShareConfig
from pysmbd.core.users import nt_hash
from pysmbd.rpc.pipes import open_pipe
from tests.support.pysmbd_context import make_context

from . import smb2_wire as wire

USER, PASSWORD = "fuzzer", "Fuzz-Passw0rd"
CALL_LIMIT_SECONDS = 5.0
DOCUMENTED_EVENTS = (
    events.SessionEstablished,
    events.SessionClosed,
    events.TreeConnected,
    events.ConnectionShouldClose,
    events.LoginFailed,
    events.LoginDelayed,
)
STATUS_PENDING = 0x00000103


class HangError(AssertionError):
    """A core call ran past the wall-clock guard."""


class PropertyViolation(AssertionError):
    """The core broke one of the fuzzing properties."""


@contextmanager
def wall_clock_guard(seconds: float, what: str) -> Iterator[None]:
    """Raise HangError inside the guarded block after ``seconds``; restores any outer SIGALRM timer."""

    started = time.monotonic()
    outer: list = [None]

    def on_alarm(signum, frame):
        if time.monotonic() - started >= seconds * 0.99:
            raise HangError(f"{what} did not return within {seconds} s")
        if callable(outer[0]):  # an outer timer's alarm (libFuzzer's -timeout): not ours to judge
            outer[0](signum, frame)

    outer[0] = previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    previous_delay, _interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:  # pytest-timeout's alarm, for instance: give back what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(previous_delay - (time.monotonic() - started), 0.001))


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage() + (f"\n{record.exc_text or ''}" if record.exc_info else ""))
        if record.exc_info:
            self.messages[-1] += "\n" + logging.Formatter().formatException(record.exc_info)


def fuzz_context(root: Path, **overrides) -> ServerContext:
    """A small context: a 128 KiB frame limit and 64 KiB I/O so amplification shows up quickly."""
    share = root / "share"
    share.mkdir(parents=True, exist_ok=True)
    users = root / "users"
    users.write_text(f"{USER}:1000:{'X' * 32}:{nt_hash(PASSWORD).hex().upper()}:[U          ]:LCT-00000000:\n")
    values = {
        "users_file": users,
        "shares": {"data": ShareConfig("data", share), "enc": ShareConfig("enc", share, encrypt=True)},
        "require_signing": False,
        "max_frame_size": 128 * 1024,
        "max_io_size": 64 * 1024,
        "max_opens_per_connection": 32,
        "max_sessions_per_connection": 8,
    }
    values.update(overrides)
    context = make_context(**values)
    # The runtime's named pipes (srvsvc over DCE/RPC), as ``pysmbd serve`` wires them.
    context.pipe_factory = lambda name: open_pipe(name, context)
    return context


@dataclass
class FeedResult:
    frames: List[bytes] = field(default_factory=list)
    """Server frames (Direct TCP payloads) produced by this call."""
    events: List[events.Event] = field(default_factory=list)

    @property
    def replies(self) -> List[wire.Reply]:
        return [
            reply for payload in self.frames if payload[:4] == wire.SMB2_MAGIC for reply in wire.split_replies(payload)
        ]


class FuzzTarget:
    """Drives one core connection and checks the properties after every call."""

    def __init__(self, context: ServerContext, *, deferred_io: bool = False, transport: str = "tcp") -> None:
        self.context = context
        self.conn = SMBServerConnection(context, transport=transport, peer="fuzz")
        self.closed: Optional[str] = None
        self._pending = b""  # our own copy of the framing, to know when a request frame is complete
        self._errors = _ErrorLog()
        self.now = 1.0
        self._owed = 0  # requests not answered yet (exact while every frame both ways is plain SMB2)
        self._exact = True
        self._io: List[tuple] = []
        self.next_message_id = 0  # the client's lowest unused sequence number (MS-SMB2 3.2.4.1.6)
        if deferred_io:  # as the TCP adapter does: READ/WRITE system calls finish later, on our say-so
            self.conn.io_executor = lambda work, done: self._io.append((work, done))

    @property
    def io_pending(self) -> bool:
        return bool(self._io)

    def complete_io(self) -> FeedResult:
        """Finish the deferred READ/WRITE calls (as a worker thread would), then check what came out."""
        described = "completing deferred IO"
        finished = 0
        with wall_clock_guard(CALL_LIMIT_SECONDS, described):
            while self._io:
                work, done = self._io.pop(0)
                try:
                    result, error = work(), None
                except Exception as failure:  # handed to the core, as the adapter's executor does
                    result, error = None, failure
                done(result, error)
                finished += 1
        # each finished IO answers its request and releases the frames held behind it: bound per answer owed
        return self._collect([], self.closed is not None, described, answers=max(finished, self._owed))

    def __enter__(self) -> FuzzTarget:
        logging.getLogger("pysmbd").addHandler(self._errors)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger("pysmbd").removeHandler(self._errors)
        with wall_clock_guard(CALL_LIMIT_SECONDS, "close()"):
            self.conn.close()

    def feed(self, data: bytes) -> FeedResult:
        """Feed bytes (any split) and return what came out; raises PropertyViolation/HangError."""
        was_closed = self.closed is not None
        complete = self._complete_frames(data)
        self.now += 0.001
        described = f"receive_data({_short(data)})"
        with wall_clock_guard(CALL_LIMIT_SECONDS, described):
            self.conn.receive_data(data, self.now)
        return self._collect(complete, was_closed, described)

    def _collect(self, complete: List[bytes], was_closed: bool, described: str, answers: int = 0) -> FeedResult:
        with wall_clock_guard(CALL_LIMIT_SECONDS, "data_to_send()/next_event()"):
            chunks = self.conn.data_to_send()
            found = []
            while (event := self.conn.next_event()) is not None:
                found.append(event)
        stream = b"".join(bytes(chunk) for chunk in chunks)
        try:
            result = FeedResult(list(wire.split_frames(stream)), found)
        except AssertionError as error:
            raise PropertyViolation(f"{error}\n  after {described}") from None
        self._check(result, complete, was_closed, described, len(stream), answers)
        return result

    def feed_frame(self, message: bytes) -> FeedResult:
        """Frame and feed one message, its requests numbered by ``number`` (but signed ones, ``sign`` did it)."""
        return self.feed(wire.framed(self.number(message, skip_signed=True)))

    def number(self, message: bytes, *, skip_signed: bool = False) -> bytes:
        """Give each request of a (compound) message the next MessageIds, CreditCharge of them, as a client does
        (CANCEL uses none; an SMB1 NEGOTIATE counts as MessageId 0), and have it ask for 64 credits beyond its
        charge: replayed requests asked for what their recorded session needed, not for what this one does.
        Damaged bytes stay as they are elsewhere."""
        if message[:4] == wire.SMB1_MAGIC:
            self.next_message_id = max(self.next_message_id, 1)
        out = bytearray(message)
        offset = 0
        while len(out) - offset >= wire.HEADER_SIZE and out[offset : offset + 4] == wire.SMB2_MAGIC:
            (charge,) = struct.unpack_from("<H", out, offset + 6)
            command, credits, flags, next_command = struct.unpack_from("<HHII", out, offset + 12)
            if command != wire.CANCEL and not (skip_signed and flags & wire.FLAG_SIGNED):
                struct.pack_into("<H", out, offset + 14, min(max(credits, charge + 64), 0xFFFF))
                struct.pack_into("<Q", out, offset + 24, self.next_message_id)
                self.next_message_id += max(1, charge)
            if not next_command or offset + next_command >= len(out):
                break
            offset += next_command
        return bytes(out)

    # ------------------------------------------------------------------ properties

    def _complete_frames(self, data: bytes) -> List[bytes]:
        self._pending += data
        complete = []
        while len(self._pending) >= 4 and self._pending[0] == 0:
            length = int.from_bytes(self._pending[1:4], "big")
            if len(self._pending) < 4 + length:
                break
            complete.append(self._pending[4 : 4 + length])
            self._pending = self._pending[4 + length :]
        if len(self._pending) > 4 + self.context.max_frame_size:
            self._pending = b""  # the core must have closed; our copy need not grow
        return complete

    def _check(
        self, result: FeedResult, complete: List[bytes], was_closed: bool, described: str, sent: int, answers: int = 0
    ) -> None:
        def fail(problem: str) -> None:
            raise PropertyViolation(f"{problem}\n  after {described}")

        for event in result.events:
            if type(event) not in DOCUMENTED_EVENTS:
                fail(f"undocumented event {event!r}")
            if isinstance(event, events.ConnectionShouldClose):
                self.closed = event.reason
        if was_closed and (result.frames or result.events):
            fail("the core spoke after it asked to be closed")
        if self._errors.messages:
            fail("the core logged an internal error:\n" + "\n".join(self._errors.messages))
        for payload in result.frames:
            if payload[:4] not in (wire.SMB2_MAGIC, wire.TRANSFORM_MAGIC):
                fail(f"server frame is neither SMB2 nor a transform: {payload[:8].hex()}")
        try:
            replies = result.replies
        except AssertionError as error:
            fail(f"malformed response: {error}")
        for reply in replies:
            if reply.status == wire.STATUS_INTERNAL_ERROR:
                fail(f"STATUS_INTERNAL_ERROR for command {reply.command:#x}")
        bound = 2 * self.context.max_frame_size * max(1, len(complete), answers)
        if sent > bound:
            fail(f"one call produced {sent} bytes of output (bound {bound})")
        # A partial frame; frames held behind a deferred IO are the adapter's to bound (it stops reading).
        buffered = self.conn.buffered_bytes - self.conn.held_bytes
        if self.closed is None and buffered > 4 + self.context.max_frame_size:
            fail(f"the core buffers {buffered} bytes of input (max_frame_size {self.context.max_frame_size})")
        if len(self.conn.sessions) > self.context.max_sessions_per_connection:
            fail(f"{len(self.conn.sessions)} sessions on one connection")
        if len(self.conn.opens) > self.context.max_opens_per_connection:
            fail(f"{len(self.conn.opens)} open handles on one connection")
        for handle in self.conn.opens.values():
            queued = handle.pipe.pending_output() if handle.pipe is not None else 0
            if queued > 2 * self.context.max_frame_size:
                fail(f"a named pipe holds {queued} bytes of unread output")
        if was_closed or self.closed is not None:
            return
        idle = not self._io and not self.conn.held_bytes  # nothing deferred: every answer must be out
        if idle and not result.frames and _answer_due(complete):
            fail("a complete request frame got neither a response nor ConnectionShouldClose")
        if any(payload[:4] == wire.TRANSFORM_MAGIC for payload in complete + result.frames):
            self._exact = False  # encrypted traffic: responses can no longer be counted from outside
        if self._exact:
            # the final answer of an asynchronous request (a LOCK that waited) answers nothing new: its interim did
            answering = [r for r in replies if not (r.flags & wire.FLAG_ASYNC and r.status != STATUS_PENDING)]
            self._owed += sum(_requests_in(payload) for payload in complete) - len(answering)
            if self._owed < 0:
                fail(f"{-self._owed} more responses than requests")
            if idle and self._owed:
                fail(f"{self._owed} requests (CANCEL aside) were never answered")

    # ------------------------------------------------------------------ a real login, in process

    def login(self, user: str = USER, password: str = PASSWORD, *, negotiate: Sequence[bytes] = ()) -> int:
        """NEGOTIATE (ours, or recorded ones: SMB1 then SMB2), then a real NTLM login; returns the SessionId."""
        for message in negotiate or [wire.negotiate_request()]:
            negotiated = self.feed_frame(message).replies
            assert [r.status for r in negotiated] == [0], negotiated
        return self.login_more(user, password)

    def login_more(self, user: str = USER, password: str = PASSWORD) -> int:
        """An NTLM SESSION_SETUP exchange driven by pyspnego's client; returns the new SessionId."""
        client = spnego.client(user, password, protocol="negotiate")
        token = client.step()
        message_id, session_id = 300, 0
        while token:
            (reply,) = self.feed_frame(wire.session_setup_request(message_id, session_id, token)).replies
            session_id, message_id = reply.session_id, message_id + 1
            if reply.status == 0:
                return session_id
            assert reply.status == wire.STATUS_MORE_PROCESSING_REQUIRED, hex(reply.status)
            offset, length = struct.unpack_from("<HH", reply.body, 4)
            token = client.step(reply.raw[offset : offset + length])
        raise AssertionError("login ended without STATUS_SUCCESS")

    def sign(self, message: bytes, session_id: int) -> bytes:
        """Sign a single request as the client would, with the session's key (taken from the core's own session).

        The fuzzer is not testing signing here: this lets damaged but authentic requests reach the handlers
        of a session that requires signing.
        """
        signer = self.conn.sessions[session_id].signer
        assert signer is not None, "the session has no signing key"
        out = bytearray(self.number(message))
        flags, message_id = struct.unpack_from("<I", out, 16)[0], struct.unpack_from("<Q", out, 24)[0]
        struct.pack_into("<I", out, 16, flags | wire.FLAG_SIGNED)
        out[48:64] = bytes(16)
        out[48:64] = signer.signature([bytes(out)], message_id=message_id, is_response=False)
        return bytes(out)

    def tree_connect(self, session_id: int, share: str = "data") -> int:
        (reply,) = self.feed_frame(wire.tree_connect_request(20, session_id, f"\\\\fuzz\\{share}")).replies
        assert reply.status == 0, hex(reply.status)
        return reply.tree_id


def _answer_due(complete: List[bytes]) -> bool:
    for payload in complete:
        if payload[:4] != wire.SMB2_MAGIC:
            return True  # SMB1, transform or garbage: answer or close
        commands = wire.request_commands(payload)
        if not commands or any(command != wire.CANCEL for command in commands):
            return True
    return False


def _requests_in(payload: bytes) -> int:
    """How many responses a frame is owed: one per SMB2 request but CANCEL, one for an SMB1 NEGOTIATE."""
    if payload[:4] != wire.SMB2_MAGIC:
        return 1
    return sum(1 for command in wire.request_commands(payload) if command != wire.CANCEL)


def _short(data: bytes, limit: int = 256) -> str:
    text = data[:limit].hex()
    return f"{len(data)} bytes: {text}{'...' if len(data) > limit else ''}"
