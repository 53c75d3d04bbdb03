"""The Direct TCP adapter: a listening socket, and one small reader/writer pair per connection.

When a connection's socket is readable, the adapter reads once into the buffer the core offers
(``get_buffer``/``buffer_updated``: the rest of a large frame goes straight into that frame's buffer),
lets the sans-IO core handle what is complete, queues what the core wants sent (``sockio.SendQueue`` writes it
without copies while reading goes on, so pipelined requests keep being served), hands the core's events to
``core_events.CoreEvents`` (registry and log lines, shared with QUIC), and closes the socket when the core
says so. Everything about SMB is in the core.

A failure inside the core closes that one connection, never the server. A client that stops
reading its responses is not read from while more than 16 MiB wait for it, and the core handles no frame whose
answer the memory budget (``budget.MemoryAccount``) cannot take: the connection then waits, unread, until memory
is freed, and is closed when its own responses made no progress for ``drain_timeout``. Large READ and WRITE system
calls run in the runtime's IO thread pool (``core.io_executor``); the completion comes back on the event
loop, and reading pauses while more than 16 MiB of requests wait behind a slow disk. There is no task per
connection: an idle connection costs a socket, a core object and a timer.

Deadlines keep slots for clients that log in (``admission``): a connection that has no session
``login_timeout`` seconds after its accept is closed, and so is one that does not finish a frame within
``frame_timeout`` seconds of its first byte (a byte every few seconds once kept a connection forever); time
spent while the server itself stopped reading (back-pressure) does not count. A login the runtime's
``LoginThrottle`` delays waits on a timer with this connection's reading paused, never on the event loop.
"""

from __future__ import annotations

import asyncio
import socket
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Optional

from pysmbd.server import eventlog
from pysmbd.server.core_events import CoreConnection, CoreEvents, format_peer
from pysmbd.server.frame_deadline import FrameDeadline
from pysmbd.server.sockio import SendQueue

if TYPE_CHECKING:
    from pysmbd.config import ListenerConfig
    from pysmbd.server.runtime import Runtime

# For cores without get_buffer (a stand-in core in tests): each read is a fresh bytes object.
RECEIVE_SIZE = 256 * 1024
SEND_HIGH_WATER = 16 * 1024 * 1024
SEND_LOW_WATER = 4 * 1024 * 1024
HELD_HIGH_WATER = 16 * 1024 * 1024
HELD_LOW_WATER = 8 * 1024 * 1024
CLOSE_FLUSH_TIMEOUT = 10.0


def _no_read(_count: int, _now: float) -> None:
    """``buffer_updated`` of a connection whose core reads into its own buffers no more (or never did)."""


class TCPConnection:
    """One client connection accepted on a TCP listener."""

    def __init__(self, runtime: Runtime, listener: ListenerConfig, sock: socket.socket, peername: object) -> None:
        self._runtime = runtime
        self._sock = sock
        self._fd = sock.fileno()
        self._events = CoreEvents(
            runtime.registry,
            self,
            peer=format_peer(peername),
            listener=listener.describe(),
            listener_key=listener.key,
            on_close_requested=self._close_after_flush,
            login_throttle=runtime.login_throttle,
        )
        self._loop = asyncio.get_running_loop()
        self._core: Optional[CoreConnection] = None
        self._sender = SendQueue(self._loop, sock, self._after_send)
        self._reading = False
        self._should_close = False
        self._finished = False
        self._last_activity = 0.0
        self._timer: Optional[asyncio.TimerHandle] = None
        """The connection's one deadline timer: login (until a session exists), idleness, the flush before a close."""
        self._login_deadline = 0.0  # loop time by which a session must exist; 0 once one does
        self._frame_deadline = FrameDeadline(runtime.frame_deadlines, self)
        self._login_waiting = False  # a delayed login waits: reading stays paused
        self._account = runtime.memory.open_account(self._memory_freed)
        self._drain_timer: Optional[asyncio.TimerHandle] = None
        self._drain_mark = 0  # the send queue's progress when the drain deadline was armed
        # Looked up once in start(), not at every read (a stand-in core in tests may lack them).
        self._get_buffer: Optional[Callable[[], memoryview]] = None
        self._buffer_updated: Callable[[int, float], None] = _no_read

    def start(self) -> None:
        """Admit the connection (or refuse it at the limit) and start serving it."""
        self._core = self._events.admit(
            lambda: self._runtime.new_core_connection(peer=self._events.peer, transport="tcp")
        )
        if self._core is None:
            self._finished = True
            self._sock.close()
            self._account.close()
            return
        self._get_buffer = getattr(self._core, "get_buffer", None)
        if self._get_buffer is not None:
            self._buffer_updated = self._core.buffer_updated  # type: ignore[attr-defined]
        self._last_activity = self._loop.time()
        self._login_deadline = self._last_activity + self._runtime.login_timeout
        self._timer = self._loop.call_at(
            min(self._login_deadline, self._last_activity + self._runtime.idle_timeout), self._check_deadlines
        )
        if hasattr(self._core, "io_executor"):
            self._core.io_executor = self._submit_io  # type: ignore[attr-defined]
        if hasattr(self._core, "login_delay"):
            self._core.login_delay = self._events.login_delay  # type: ignore[attr-defined]
            self._core.call_later = self._wait_for_login  # type: ignore[attr-defined]
        if hasattr(self._core, "on_output"):
            self._core.on_output = self._output_ready  # type: ignore[attr-defined]
        if hasattr(self._core, "memory_gate"):
            self._core.memory_gate = self._memory_gate  # type: ignore[attr-defined]
        self._resume_reading()

    def close(self) -> None:
        """Close at once, dropping what is queued (server shutdown, idle timeout)."""
        self._finish(None)

    def frame_paused(self) -> bool:
        return not self._reading

    # reading ------------------------------------------------------------------------------------

    def _resume_reading(self) -> None:
        if not self._reading and not self._finished:
            self._loop.add_reader(self._fd, self._on_readable)
            self._reading = True
            self._frame_deadline.restart()  # the time reading was paused is not the client's to pay for

    def _pause_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _on_readable(self) -> None:
        core = self._core
        assert core is not None
        get_buffer = self._get_buffer
        try:
            if get_buffer is not None:
                count = self._sock.recv_into(get_buffer())
                data = b""
            else:
                data = self._sock.recv(RECEIVE_SIZE)
                count = len(data)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._finish(str(exc))
            return
        if not count:
            self._finish(None)
            return
        self._last_activity = self._loop.time()
        try:
            if get_buffer is not None:
                self._buffer_updated(count, time.time())
            else:
                core.receive_data(data, time.time())
        except Exception as exc:  # a core bug must cost one connection, not the server
            self._core_failed(exc)
            return
        self._frame_deadline.watch(core)
        self._flush_core(core)

    def _flush_core(self, core: CoreConnection) -> None:
        self._sender.send(core.data_to_send())
        self._events.drain(core)
        self._after_send()

    def _output_ready(self) -> None:
        """The core queued a response outside a read (a waiting LOCK ended): send it once the current work is done."""
        self._loop.call_soon(self._flush_if_open)

    def _flush_if_open(self) -> None:
        core = self._core
        if not self._finished and core is not None:
            self._flush_core(core)

    def _core_failed(self, exc: Exception) -> None:
        self._events.core_failed(exc)
        self._finish("internal error")

    # file IO off the event loop -------------------------------------------------------------------

    def _submit_io(self, work: Callable[[], Any], done: Callable[[Any, Optional[BaseException]], None]) -> None:
        """The core's ``io_executor``: ``work`` runs in the IO pool, ``done`` back here on the event loop."""
        try:
            future = self._runtime.io_pool.submit(work)
        except RuntimeError:  # the pool is shut down (server stopping): do it here, the answer still goes out
            future = Future()
            try:
                future.set_result(work())
            except Exception as exc:
                future.set_exception(exc)
            self._io_done(future, done)
            return
        future.add_done_callback(lambda finished: self._report_io(finished, done))

    def _report_io(self, future: Future, done: Callable[[Any, Optional[BaseException]], None]) -> None:
        """On the worker thread: hand the result to the event loop."""
        try:
            self._loop.call_soon_threadsafe(self._io_done, future, done)
        except RuntimeError:  # the loop is closed (server gone): nobody waits for the answer
            pass

    def _io_done(self, future: Future, done: Callable[[Any, Optional[BaseException]], None]) -> None:
        core = self._core
        if self._finished or core is None:
            return  # the connection is gone; work() closed its own descriptor
        error = future.exception()
        try:
            done(None if error is not None else future.result(), error)
        except Exception as exc:  # a core bug must cost one connection, not the server
            self._core_failed(exc)
            return
        self._flush_core(core)

    # memory -------------------------------------------------------------------------------------

    def _memory_in_use(self) -> int:
        return getattr(self._core, "memory_in_use", 0) + self._sender.in_memory

    def _memory_gate(self, message: Any) -> bool:
        """The core's ``memory_gate``, asked before each frame. A connection holding no answers goes on at once
        (the usual request and answer: this path is the hot one); otherwise the frame's answer cost is counted."""
        core = self._core
        account = self._account
        if not self._sender.pending and not core.answers_queued:  # type: ignore[union-attr]
            return account.may_grow(0, holds_answers=False)
        account.update(self._memory_in_use())
        return account.may_grow(core.answer_cost(message))  # type: ignore[union-attr]

    def _memory_freed(self) -> None:
        """The budget says memory may be there again: let the core try its held frames."""
        core = self._core
        if self._finished or core is None:
            return
        try:
            core.resume()  # type: ignore[attr-defined]
        except Exception as exc:  # a core bug must cost one connection, not the server
            self._core_failed(exc)
            return
        self._flush_core(core)

    def _arm_drain_deadline(self) -> None:
        if self._drain_timer is None:
            self._drain_mark = self._sender.sent
            self._drain_timer = self._loop.call_later(self._runtime.drain_timeout, self._check_drained)

    def _cancel_drain_deadline(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    def _check_drained(self) -> None:
        """A client kept unread for ``drain_timeout``: close it if it took none of its responses meanwhile."""
        self._drain_timer = None
        sender = self._sender
        if self._finished or self._reading:
            return
        if sender.pending and sender.sent == self._drain_mark:
            eventlog.info(
                "connection_closed_undrained",
                peer=self._events.peer,
                held_bytes=self._memory_in_use(),
                seconds=self._runtime.drain_timeout,
                reason="the client read none of its queued responses; its memory is given back",
            )
            self._finish("responses not read")
            return
        self._arm_drain_deadline()  # still paused, but moving (or waiting for others): look again later

    # writing and closing --------------------------------------------------------------------------

    def _after_send(self) -> None:
        """Decide what to do now that the send queue has moved (or just got new data)."""
        sender = self._sender
        core = self._core
        self._account.update(getattr(core, "memory_in_use", 0) + sender.in_memory)
        if self._reading and not sender.pending and sender.error is None and not self._should_close:
            # The usual request and answer: all sent, still reading; only frames held in the core may pause it.
            if not getattr(core, "waiting_for_memory", False) and getattr(core, "held_bytes", 0) <= HELD_HIGH_WATER:
                return
        held = getattr(core, "held_bytes", 0)
        waiting = getattr(core, "waiting_for_memory", False)
        if sender.error is not None:
            self._finish(str(sender.error))
        elif self._should_close:
            self._pause_reading()
            if sender.pending == 0:
                self._finish(None)
        elif waiting or sender.pending > SEND_HIGH_WATER:
            self._pause_reading()
            self._arm_drain_deadline()
        elif held > HELD_HIGH_WATER:
            self._pause_reading()
        elif (
            not self._reading
            and not self._login_waiting
            and sender.pending <= SEND_LOW_WATER
            and held <= HELD_LOW_WATER
        ):
            self._cancel_drain_deadline()
            self._resume_reading()

    def _finish(self, error: Optional[str]) -> None:
        if self._finished:
            return
        self._finished = True
        self._pause_reading()
        self._sender.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._frame_deadline.cancel()
        self._cancel_drain_deadline()
        core, self._core = self._core, None
        self._get_buffer, self._buffer_updated = None, _no_read  # nothing here keeps the closed core alive
        self._sock.close()
        self._events.closed(core, error)
        self._account.close()

    def _close_after_flush(self, _reason: str) -> None:
        """The core asked to close: send what is queued (often the error response) first, but not forever."""
        self._should_close = True
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(CLOSE_FLUSH_TIMEOUT, self._finish, "close flush timed out")

    # deadlines and login delays --------------------------------------------------------------------

    def frame_expired(self) -> None:
        if self._finished:
            return
        self._events.frame_timed_out(self._runtime.frame_timeout)
        self._finish(None)

    def _wait_for_login(self, seconds: float, resume: Callable[[], None]) -> None:
        """The core's ``call_later`` for a delayed login: stop reading, then resume the core after ``seconds``."""
        self._login_waiting = True
        self._pause_reading()
        self._loop.call_later(seconds, self._login_waited, resume)

    def _login_waited(self, resume: Callable[[], None]) -> None:
        self._login_waiting = False
        core = self._core
        if self._finished or core is None:
            return
        try:
            resume()
        except Exception as exc:  # a core bug must cost one connection, not the server
            self._core_failed(exc)
            return
        self._flush_core(core)

    # idle ---------------------------------------------------------------------------------------

    def _has_open_files(self) -> bool:
        opens = getattr(self._core, "opens", None)  # SMBServerConnection.opens: FileId -> Open
        return bool(opens)

    def _check_deadlines(self) -> None:
        """One timer for both deadlines (a timer costs ~250 bytes per connection): no session within
        ``login_timeout``, then ``idle_timeout`` without traffic."""
        self._timer = None
        if self._finished:
            return
        now = self._loop.time()
        if self._login_deadline:
            if self._runtime.registry.has_session(self):
                self._login_deadline = 0.0
            elif now >= self._login_deadline:
                self._events.log_limited(
                    "connection_login_timeout",
                    reason=f"no session within login_timeout ({self._runtime.login_timeout:g} s)",
                )
                self._finish(None)
                return
        timeout = self._runtime.idle_timeout
        idle = now - self._last_activity
        if idle >= timeout and self._has_open_files():
            # Like Samba's deadtime: closing now would lose the client's open handles (and its unsaved work).
            self._last_activity = now
            idle = 0.0
        if idle >= timeout:
            eventlog.info("connection_idle_closed", peer=self._events.peer, idle_seconds=round(idle, 1))
            self._finish(None)
            return
        wake = now + timeout - idle
        if self._login_deadline:
            wake = min(wake, self._login_deadline)
        self._timer = self._loop.call_at(wake, self._check_deadlines)


class TCPListener:
    """SMB2 Direct TCP on one (address, port): a listening socket and the task that accepts on it."""

    def __init__(self, config: ListenerConfig, runtime: Runtime, *, reuse_port: bool = False) -> None:
        self.config = config
        self._runtime = runtime
        self.reuse_port = reuse_port
        """SO_REUSEPORT: the other worker processes bind the same port and the kernel spreads connections."""
        self._sock: Optional[socket.socket] = None
        self._task: Optional[asyncio.Task] = None

    async def open(self) -> None:
        family = socket.AF_INET6 if ":" in self.config.address else socket.AF_INET
        # create_server sets SO_REUSEADDR, and IPV6_V6ONLY for "::" so 0.0.0.0 can be bound beside it.
        sock = socket.create_server(
            (self.config.address, self.config.port), family=family, backlog=1024, reuse_port=self.reuse_port
        )
        sock.setblocking(False)
        self._sock = sock
        self._task = asyncio.get_running_loop().create_task(self._accept_loop(sock))

    def close(self) -> None:
        """Stop accepting; the connections already accepted carry on."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, peername = await loop.sock_accept(sock)
            except OSError as exc:  # EMFILE and friends: say so, breathe, keep accepting
                eventlog.error("accept_failed", listener=self.config.describe(), error=str(exc))
                await asyncio.sleep(0.5)
                continue
            try:
                client.setblocking(False)
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                TCPConnection(self._runtime, self.config, client, peername).start()
            except Exception as exc:  # one bad connection must not stop the listener
                eventlog.error("connection_setup_failed", peer=format_peer(peername), error=str(exc), exc_info=True)
                client.close()
