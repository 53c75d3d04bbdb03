"""The SMB over QUIC adapter: qh3 carries the bytes, the sans-IO core speaks SMB.

SMB over QUIC (MS-SMB2 2.1) is TLS 1.3 with ALPN ``smb`` and one client-initiated bidirectional stream
per connection that carries exactly what Direct TCP carries, 4-byte framing included. So this file only
moves bytes: stream data goes into ``SMBServerConnection(transport="quic")`` and its output goes back on
the same stream. A second stream is refused (reset), since SMB never opens one.

Admission is the TCP adapter's, once the handshake tells who the peer is: the per-address cap and
``max_connections`` (``CoreEvents.admit``), the login deadline, the deadline to finish a frame, and login
delays after repeated failures (the core holds the delayed SESSION_SETUP; qh3's flow control bounds the rest).

A UDP socket serves every connection of its port, so closing a listener the way TCP does would cut
the clients it accepted. ``QUICListener.close()`` therefore only stops accepting new connections; the
socket closes once the last connection on it has ended (or on shutdown, through the registry).

Memory: the core asks the connection's ``budget.MemoryAccount`` before each frame, as over TCP. qh3 copies what
it is given into a growing buffer of its own, so answers wait in a queue here (the core's buffers, no copy) and
qh3 gets more only while less than ``QH3_BACKLOG`` waits in it; both count. qh3 grants stream credit on its own (it has no call to withhold it), so a frame
refused for memory is held in the core, counted, and a client that goes on sending while it takes none of its
responses is closed once it holds more than its share or after ``drain_timeout`` without progress.

qh3 (a fork of aioquic with its packet protection, framing and recovery in Rust) keeps aioquic's sans-IO
``QuicConnection`` and its asyncio ``QuicConnectionProtocol``/``QuicServer``, so this adapter only
subclasses the two: the datagram work, where a Python QUIC stack spends its time, happens in Rust.

The socket is qh3's batching UDP transport (``quic_udp``: GRO in, GSO out); the router hands each connection its
run of datagrams from a batch at once (``datagrams_received``), so it acknowledges, sends and re-arms its timer once
per batch.
"""

from __future__ import annotations

import asyncio
import operator
import time
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Callable, Deque, Optional

from cryptography.exceptions import UnsupportedAlgorithm
from qh3._hazmat import pull_quic_header
from qh3.asyncio.protocol import QuicConnectionProtocol
from qh3.asyncio.server import QuicServer
from qh3.quic import events as quic_events
from qh3.quic.configuration import QuicConfiguration
from qh3.quic.connection import QuicConnection, QuicConnectionError

from pysmbd.server import eventlog
from pysmbd.server.certs import read_pem_pair
from pysmbd.server.core_events import CoreConnection, CoreEvents, format_peer
from pysmbd.server.frame_deadline import FrameDeadline
from pysmbd.server.listeners import ListenerNotSupported
from pysmbd.server.quic_udp import bind_udp_socket, datagram_runs, lean_datagrams_to_send, open_datagram_transport

if TYPE_CHECKING:
    from pysmbd.config import ListenerConfig, QuicSettings
    from pysmbd.server.runtime import Runtime

ALPN = "smb"
# QUIC flow-control windows: one 8 MiB READ response (plus headers) must fit without a stall.
FLOW_CONTROL_WINDOW = 24 * 1024 * 1024
# Application error codes in CONNECTION_CLOSE (SMB defines none; 0 is "no error", the rest are ours).
CLOSE_NORMAL = 0x0
CLOSE_PROTOCOL = 0x1
CLOSE_BUSY = 0x2
STREAM_REFUSED = 0x3
# Give the last response (for example a refusal) time to reach the client before CONNECTION_CLOSE,
# which discards stream data still queued.
CLOSE_AFTER_FIN_DELAY = 0.5
# Answers handed to qh3 while it still has this much to send wait here instead (qh3 copies them, and its buffer
# keeps the capacity it grew to): enough to keep a flow-control window busy, without doubling what is held.
QH3_BACKLOG = 1024 * 1024
# Datagrams qh3 builds before the first of them is sent, then per later run (measured at 1452 bytes, 4 MiB READs,
# bench/quic/RESULTS.md): a short first run brings the client's first byte from ~8 ms to ~1.5 ms after the request;
# runs of 256 (several GSO sends each) then beat runs of 64 (the client wakes and acknowledges once per few bursts
# instead of once per burst) and the whole window at once.
FIRST_RUN = 16
RUN = 256


_DATAGRAM = operator.itemgetter(0)  # of one of qh3's transmits: (datagram, address)


def _is_client_bidirectional(stream_id: int) -> bool:
    return stream_id % 4 == 0


class SMBQuicConnection(QuicConnectionProtocol):
    """One SMB over QUIC connection; counts in the registry like a TCP connection does."""

    def __init__(
        self, quic: QuicConnection, stream_handler: object = None, *, runtime: Runtime, listener: ListenerConfig
    ) -> None:
        super().__init__(quic)
        lean = lean_datagrams_to_send(quic)
        if lean is not None:
            quic.datagrams_to_send = lean  # type: ignore[method-assign]
        self._runs = datagram_runs(quic, FIRST_RUN, RUN)
        self._runtime = runtime
        self._listener = listener
        self._core: Optional[CoreConnection] = None
        self._events: Optional[CoreEvents] = None  # made once the handshake tells who the peer is
        self._stream_id: Optional[int] = None
        self._finished = False
        self._peer_address: object = None
        self._login_timer: Optional[asyncio.TimerHandle] = None
        self._frame_deadline = FrameDeadline(runtime.frame_deadlines, self)
        self._account = runtime.memory.open_account(self._memory_freed)
        self._unsent: Deque[memoryview] = deque()  # answers not yet handed to qh3
        self._unsent_bytes = 0
        self._fin_after_unsent = False
        self._drain_timer: Optional[asyncio.TimerHandle] = None
        self._drain_mark = -1  # what qh3 held of our responses when the drain deadline was armed

    # qh3 ------------------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: object) -> None:  # type: ignore[override]
        if self._peer_address is None:
            self._peer_address = addr  # qh3's QuicConnection does not say who its peer is
        super().datagram_received(data, addr)  # type: ignore[arg-type]
        self._datagrams_taken()

    def datagrams_received(self, data: list, addr: object) -> None:  # type: ignore[override]
        """A run of datagrams from the batching transport: one ACK, one send and one timer re-arm for all of them."""
        if self._peer_address is None:
            self._peer_address = addr
        super().datagrams_received(data, addr)  # type: ignore[arg-type]
        self._datagrams_taken()

    def _datagrams_taken(self) -> None:
        if self._unsent:
            self._feed_qh3()  # ACKs made room in qh3
        if self._core is not None and getattr(self._core, "waiting_for_memory", False):
            self._account.update(self._memory_in_use())  # ACKs free qh3's copies: waiting connections may go on

    def transmit(self) -> None:
        """qh3's ``transmit``, sending each run of datagrams as soon as it is built (see ``quic_udp.datagram_runs``)."""
        runs, sendto_many = self._runs, self._sendto_many
        if runs is None or sendto_many is None:
            super().transmit()
            return
        self._transmit_task = None
        for run in runs(self._loop_time()):
            sendto_many(list(map(_DATAGRAM, run)), run[0][1])
        # re-arm the timer, as qh3's transmit does
        timer_at = self._quic.get_timer()
        if self._timer is not None and self._timer_at != timer_at:
            self._timer.cancel()
            self._timer = None
        if self._timer is None and timer_at is not None:
            self._timer = self._loop.call_at(timer_at, self._handle_timer)
        self._timer_at = timer_at

    def quic_event_received(self, event: quic_events.QuicEvent) -> None:
        if isinstance(event, quic_events.HandshakeCompleted):
            self._admit()
        elif isinstance(event, quic_events.StreamDataReceived):
            self._stream_data(event)
        elif isinstance(event, quic_events.ConnectionTerminated):
            self._terminated(event)

    # runtime --------------------------------------------------------------------------------------

    def close(self, error_code: int = CLOSE_NORMAL, reason_phrase: str = "") -> None:  # type: ignore[override]
        """Close the connection (server shutdown, or the core asked for it)."""
        self._quic.close(error_code=error_code, reason_phrase=reason_phrase)
        self.transmit()

    # internals ------------------------------------------------------------------------------------

    def _admit(self) -> None:
        events = self._events = CoreEvents(
            self._runtime.registry,
            self,
            peer=format_peer(self._peer_address),
            listener=self._listener.describe(),
            listener_key=self._listener.key,
            on_close_requested=self._close_after_fin,
            login_throttle=self._runtime.login_throttle,
        )
        self._core = events.admit(lambda: self._runtime.new_core_connection(peer=events.peer, transport="quic"))
        if self._core is None:
            self._finished = True
            self._account.close()
            self.close(CLOSE_BUSY, f"server busy: {events.refusal}")
            return
        if hasattr(self._core, "memory_gate"):
            self._core.memory_gate = self._memory_gate  # type: ignore[attr-defined]
        self._login_timer = self._loop.call_later(self._runtime.login_timeout, self._check_login)
        if hasattr(self._core, "login_delay"):
            self._core.login_delay = events.login_delay  # type: ignore[attr-defined]
            self._core.call_later = self._wait_for_login  # type: ignore[attr-defined]
        if hasattr(self._core, "on_output"):
            # a waiting LOCK ended by another connection: send its answer once the current work is done
            self._core.on_output = lambda: self._loop.call_soon(self._flush_if_open)  # type: ignore[attr-defined]

    def _flush_if_open(self) -> None:
        if not self._finished:
            self._flush()

    def _check_login(self) -> None:
        self._login_timer = None
        if self._finished or self._events is None or self._runtime.registry.has_session(self):
            return
        self._events.log_limited(
            "connection_login_timeout", reason=f"no session within login_timeout ({self._runtime.login_timeout:g} s)"
        )
        self._finished = True
        self.close(CLOSE_PROTOCOL, "no session within the login timeout")

    def frame_paused(self) -> bool:
        return False  # QUIC has its own flow control: the server never stops reading a client

    def frame_expired(self) -> None:
        if self._finished or self._events is None:
            return
        self._events.frame_timed_out(self._runtime.frame_timeout)
        self._finished = True
        self.close(CLOSE_PROTOCOL, "frame not completed in time")

    def _wait_for_login(self, seconds: float, resume: Callable[[], None]) -> None:
        """The core's ``call_later`` for a delayed login."""
        self._loop.call_later(seconds, self._login_waited, resume)

    def _login_waited(self, resume: Callable[[], None]) -> None:
        if self._finished or self._core is None or self._events is None:
            return
        try:
            resume()
        except Exception as exc:  # a core bug must cost one connection, not the server
            self._events.core_failed(exc)
            self._finished = True
            self.close(CLOSE_PROTOCOL, "internal error")
            return
        self._flush()

    def _stream_data(self, event: quic_events.StreamDataReceived) -> None:
        if self._core is None or self._finished:
            return
        if self._stream_id is None and _is_client_bidirectional(event.stream_id):
            self._stream_id = event.stream_id
        if event.stream_id != self._stream_id:
            self._refuse_stream(event.stream_id)
            return
        try:
            if event.data:
                self._core.receive_data(event.data, time.time())
        except Exception as exc:  # a core bug must cost one connection, not the server
            assert self._events is not None
            self._events.core_failed(exc)
            self._finished = True
            self.close(CLOSE_PROTOCOL, "internal error")
            return
        self._frame_deadline.watch(self._core)
        self._flush()
        self._check_memory()
        if event.end_stream and not self._finished:
            self._finished = True  # the client finished its side: nothing more will come
            self.close(CLOSE_NORMAL, "client closed the SMB stream")

    def _refuse_stream(self, stream_id: int) -> None:
        try:
            self._quic.stop_stream(stream_id, STREAM_REFUSED)
            if _is_client_bidirectional(stream_id):
                self._quic.reset_stream(stream_id, STREAM_REFUSED)
        except (ValueError, QuicConnectionError):
            pass  # a stream we cannot stop (already finished): nothing to refuse
        self.transmit()

    def _flush(self) -> None:
        core, events = self._core, self._events
        if core is None or events is None or self._stream_id is None:
            return
        chunks = core.data_to_send()
        if chunks:
            for chunk in chunks:
                view = memoryview(chunk).cast("B")
                self._unsent.append(view)
                self._unsent_bytes += len(view)
            self._feed_qh3()
        events.drain(core)

    def _feed_qh3(self) -> None:
        """Hand queued answers to qh3 while it has less than ``QH3_BACKLOG`` to send (it copies each one), and send.

        Once qh3 has sent what it was given (its congestion window allowed it), the next part goes at once: waiting
        for the client's next ACK instead would leave the server idle for a round trip per ``QH3_BACKLOG``."""
        while self._hand_over_to_qh3():
            self.transmit()

    def _hand_over_to_qh3(self) -> bool:
        stream_id = self._stream_id
        if stream_id is None:
            return False
        unsent = self._unsent
        fed = False
        while unsent and self._answers_in_qh3() < QH3_BACKLOG:
            chunk = unsent.popleft()
            self._unsent_bytes -= len(chunk)
            self._quic.send_stream_data(stream_id, chunk)
            fed = True
        if not unsent and self._fin_after_unsent:
            self._fin_after_unsent = False
            self._quic.send_stream_data(stream_id, b"", end_stream=True)
            fed = True
        return fed

    # memory -------------------------------------------------------------------------------------

    def _answers_in_qh3(self) -> int:
        """What qh3 has still to send of our answers (what is in flight is bounded by its congestion window)."""
        if self._stream_id is None:
            return 0
        try:
            return self._quic.get_send_buffer_size(self._stream_id)
        except Exception:  # qh3 raises once the stream or connection is gone: it holds nothing then
            return 0

    def _memory_in_use(self) -> int:
        return getattr(self._core, "memory_in_use", 0) + self._unsent_bytes + self._answers_in_qh3()

    def _memory_gate(self, message: object) -> bool:
        core = self._core
        if not self._unsent and not core.answers_queued and not self._answers_in_qh3():  # type: ignore[union-attr]
            return self._account.may_grow(0, holds_answers=False)
        self._account.update(self._memory_in_use())
        return self._account.may_grow(core.answer_cost(message))  # type: ignore[union-attr]

    def _memory_freed(self) -> None:
        core = self._core
        if self._finished or core is None:
            return
        try:
            core.resume()  # type: ignore[attr-defined]
        except Exception as exc:  # a core bug must cost one connection, not the server
            assert self._events is not None
            self._events.core_failed(exc)
            self._finished = True
            self.close(CLOSE_PROTOCOL, "internal error")
            return
        self._flush()
        self._check_memory()

    def _check_memory(self) -> None:
        """Waiting for memory: close a client that keeps sending past its share, else watch that it drains."""
        core = self._core
        if core is None or self._finished:
            return
        self._account.update(self._memory_in_use())
        if not getattr(core, "waiting_for_memory", False):
            if self._drain_timer is not None:
                self._drain_timer.cancel()
                self._drain_timer = None
            return
        if self._account.over_own_limit and getattr(core, "held_bytes", 0) > self._runtime.memory.per_connection // 2:
            self._close_undrained("the client kept sending while it read none of its responses")
        elif self._drain_timer is None:
            self._drain_mark = self._memory_in_use()
            self._drain_timer = self._loop.call_later(self._runtime.drain_timeout, self._check_drained)

    def _check_drained(self) -> None:
        self._drain_timer = None
        if self._core is None or self._finished or not getattr(self._core, "waiting_for_memory", False):
            return
        if self._account.over_own_limit and self._memory_in_use() >= self._drain_mark:
            self._close_undrained("the client read none of its queued responses; its memory is given back")
            return
        self._check_memory()

    def _close_undrained(self, reason: str) -> None:
        assert self._events is not None
        eventlog.info(
            "connection_closed_undrained",
            peer=self._events.peer,
            held_bytes=self._memory_in_use(),
            seconds=self._runtime.drain_timeout,
            reason=reason,
        )
        self._finished = True
        self.close(CLOSE_BUSY, "responses not read")

    def _close_after_fin(self, _reason: str) -> None:
        """The core asked to close: end the stream after what is queued, then close the connection."""
        if self._finished:
            return
        self._finished = True
        if self._stream_id is not None:
            self._fin_after_unsent = True
            self._feed_qh3()
        self._loop.call_later(CLOSE_AFTER_FIN_DELAY, self.close, CLOSE_PROTOCOL, "protocol error")

    def _terminated(self, event: quic_events.ConnectionTerminated) -> None:
        self._finished = True
        if self._login_timer is not None:
            self._login_timer.cancel()
            self._login_timer = None
        self._frame_deadline.cancel()
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        core, self._core = self._core, None
        self._unsent.clear()
        self._unsent_bytes = 0
        if self._events is not None:
            self._events.closed(core, event.reason_phrase or None)
        self._account.close()


class _DrainableQuicServer(QuicServer):
    """qh3's connection router, plus a mode that serves existing connections but accepts no new one."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.accepting = True

    def datagram_received(self, data: bytes, addr: object) -> None:  # type: ignore[override]
        if not self.accepting and not self._belongs_to_a_connection(data):
            return  # a new client on a removed listener: stay silent, as a closed UDP port would
        super().datagram_received(data, addr)  # type: ignore[arg-type]

    def datagrams_received(self, datagrams: list, addr: object) -> None:
        """A batch from one peer (qh3's batching transport): each run of 1-RTT datagrams for one known connection
        goes to it at once; anything else (handshake, unknown connection, version negotiation) one by one, as qh3's
        router handles it."""
        run: list = []
        run_protocol: Optional[QuicConnectionProtocol] = None
        for data in datagrams:
            protocol = self._established_connection(data)
            if protocol is not None and protocol is run_protocol:
                run.append(data)
                continue
            if run_protocol is not None:
                run_protocol.datagrams_received(run, addr)  # type: ignore[attr-defined]
            if protocol is None:
                run, run_protocol = [], None
                self.datagram_received(data, addr)
            else:
                run, run_protocol = [data], protocol
        if run_protocol is not None:
            run_protocol.datagrams_received(run, addr)  # type: ignore[attr-defined]

    def _established_connection(self, data: bytes) -> Optional[QuicConnectionProtocol]:
        """The connection a short-header (1-RTT) datagram belongs to; None for anything else."""
        try:
            header = pull_quic_header(data, 0, self._configuration.connection_id_length)
        except ValueError:
            return None
        if header[0] is not None:  # a long header: handshake or version negotiation, qh3's router decides
            return None
        return self._protocols.get(header[3])

    def _belongs_to_a_connection(self, data: bytes) -> bool:
        try:
            destination_cid = pull_quic_header(data, 0, self._configuration.connection_id_length)[3]
        except ValueError:
            return False
        return destination_cid in self._protocols

    def stop_accepting(self) -> None:
        self.accepting = False
        self._close_socket_when_idle()

    def _connection_terminated(self, protocol: QuicConnectionProtocol) -> None:
        super()._connection_terminated(protocol)
        if not self.accepting:
            self._close_socket_when_idle()

    def _close_socket_when_idle(self) -> None:
        if not self._protocols and self._transport is not None:
            self._transport.close()


def server_configuration(settings: QuicSettings, idle_timeout: float) -> QuicConfiguration:
    """The QUIC and TLS 1.3 settings of a listener: ALPN ``smb``, the configured certificate, key and datagram size."""
    configuration = QuicConfiguration(
        is_client=False,
        alpn_protocols=[ALPN],
        idle_timeout=idle_timeout,
        max_data=FLOW_CONTROL_WINDOW,
        max_stream_data=FLOW_CONTROL_WINDOW,
        max_datagram_size=settings.max_datagram_size,
    )
    configuration.load_cert_chain(*read_pem_pair(settings.certificate, settings.private_key))
    return configuration


class QUICListener:
    """SMB over QUIC on one UDP (address, port); a ``Listener`` for the listener manager."""

    def __init__(self, config: ListenerConfig, runtime: Runtime, settings: Optional[QuicSettings]) -> None:
        self.config = config
        self._runtime = runtime
        self._settings = settings
        self._server: Optional[_DrainableQuicServer] = None

    async def open(self) -> None:
        if self._settings is None:
            raise ListenerNotSupported("a quic listener needs [quic] certificate and private_key in the config")
        try:
            configuration = server_configuration(self._settings, self._runtime.idle_timeout)
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ListenerNotSupported(
                f"cannot load the QUIC certificate {self._settings.certificate} or key {self._settings.private_key}:"
                f" {exc}; give a PEM certificate and its unencrypted PEM key (pysmbd gen-cert makes a pair)"
            ) from None
        protocol_factory = partial(SMBQuicConnection, runtime=self._runtime, listener=self.config)
        sock = bind_udp_socket(self.config.address, self.config.port)
        _transport, server = await open_datagram_transport(
            lambda: _DrainableQuicServer(configuration=configuration, create_protocol=protocol_factory), sock
        )
        self._server = server  # type: ignore[assignment]

    def close(self) -> None:
        if self._server is not None:
            self._server.stop_accepting()
            self._server = None


__all__ = ["ALPN", "QUICListener", "SMBQuicConnection", "server_configuration"]
