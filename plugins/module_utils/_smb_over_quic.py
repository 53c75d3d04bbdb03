# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smbprotocol over SMB over QUIC: a whole SMB session (verify's level ``session``, and the tests that put and get
files over QUIC), with the TLS checks of the probe in ``_probe_quic``.

This is a private module_utils file: its API may change without notice.

smbprotocol ships only Direct TCP: ``Connection.connect`` builds ``smbprotocol.connection.Tcp(server, port,
timeout)`` and then uses its ``connect()``, ``send(message)``, ``recv(timeout)``, ``close()`` and ``connected``.
``SmbQuicTransport`` offers that surface over one QUIC stream, with the same TLS checks as the probe.

No event loop and no thread of its own: smbprotocol calls ``recv`` from its receiver thread and ``send`` from the
caller's, so whoever waits for the server drives the connection (``_QuicSocketDriver``). An asyncio thread in
between added two thread hand-offs per message (each may wait up to Python's 5 ms switch interval for the GIL);
without it the answer's bytes reach smbprotocol as they arrive, which is what lets the server's early sends pay
(bench/quic/RESULTS.md: neither change alone moved a 256 MiB read, both together did).
"""

from __future__ import annotations

import collections
import functools
import math
import select
import socket
import struct
import threading
import time
from typing import Optional

try:
    from qh3.quic.connection import QuicConnection, QuicConnectionError
except ImportError:  # _probe_quic reports it (HAS_QH3, QH3_IMPORT_ERROR)
    QuicConnection = None
    QuicConnectionError = RuntimeError

from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_quic import (
    _certificate_policy,
    _client_configuration,
    _connected_udp_socket,
    _handshake_outcome,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._quic_udp import (
    DatagramSender,
    enable_gro,
    read_gro_bursts,
    receive_gro_burst,
)


class _StreamBuffer:
    """The SMB stream's bytes as qh3 hands them over, cut into the messages smbprotocol asks for.

    A message that is not all here when it is asked for is assembled in one bytearray as its pieces arrive, while the
    server is still sending: the copy is spread over the transfer instead of following it (a 4 MiB READ answer was
    joined in ~0.6 ms after its last byte), and smbprotocol gets what its own TCP transport hands it, a bytearray.
    A message already here is joined from its pieces. Used by one thread at a time (smbprotocol's receiver)."""

    __slots__ = ("_message", "_message_size", "_pieces", "buffered")

    def __init__(self) -> None:
        self._pieces = collections.deque()  # bytes not in the message being assembled, in stream order
        self.buffered = 0
        """Bytes here and not yet taken: the message being assembled and the pieces."""
        self._message: Optional[bytearray] = None
        self._message_size = 0

    def add(self, data: bytes) -> None:
        """The next bytes of the stream."""
        self.buffered += len(data)
        message = self._message
        if message is not None:
            room = self._message_size - len(message)
            if len(data) <= room:
                message += data
                return
            view = memoryview(data)
            message += view[:room]
            data = view[room:]  # the next message starts here
        self._pieces.append(data)

    def expect(self, count: int) -> None:
        """The next message is ``count`` bytes: when they are not all here, assemble it from now on."""
        if self._message is not None or self.buffered >= count:
            return
        message = bytearray()
        for piece in self._pieces:  # all of them belong to this message, which they do not complete
            message += piece
        self._pieces.clear()
        self._message, self._message_size = message, count

    def abandon(self) -> None:
        """The wait for the expected message ended short: what was assembled goes back, so nothing is lost."""
        message, self._message = self._message, None
        if message:
            self._pieces.appendleft(message)

    def pop(self, count: int):
        """The next ``count`` bytes (``buffered`` holds at least that many): the assembled message, or the pieces
        joined once (a slice of the last one stays, as a view, for the next message)."""
        self.buffered -= count
        message = self._message
        if message is not None:
            self._message = None
            return message
        pieces, parts, needed = self._pieces, [], count
        while needed:
            piece = pieces[0]
            if len(piece) <= needed:
                parts.append(pieces.popleft())
                needed -= len(piece)
            else:  # the next message starts inside this piece: keep its tail, without copying it
                view = memoryview(piece)
                parts.append(view[:needed])
                pieces[0] = view[needed:]
                needed = 0
        return b"".join(parts)


class _QuicSocketDriver:
    """One qh3 connection on a connected UDP socket, driven by the threads that use it.

    The thread waiting for stream data (``take``) polls the socket with qh3's timer as its limit, reads whole GRO
    bursts, hands them to qh3, collects the stream's pieces, handles the timer, and sends what qh3 then has (ACKs,
    flow-control credit, retransmissions). A thread that sends (``send_stream``) puts its data into qh3 and sends it
    itself. One lock keeps qh3 to one thread at a time and is never held while waiting. When a send moves qh3's timer
    earlier than the waiting thread's wake-up (a loss timer for the new data), a byte on a socket pair wakes it, so a
    lost datagram is resent on time. Offers what ``_handshake_outcome`` reads of a ``_ProbeProtocol``."""

    def __init__(self, sock: socket.socket, quic: QuicConnection) -> None:
        self._sock = sock
        self._quic = quic
        self._sender = DatagramSender(sock)
        enable_gro(sock)  # without GRO every datagram is a burst of one, handled the same way
        self._lock = threading.Lock()
        self._left_poll = threading.Condition(self._lock)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._poller = select.poll()
        self._poller.register(sock, select.POLLIN)
        self._poller.register(self._wake_reader, select.POLLIN)
        self._wait_ends: Optional[float] = None
        """When the thread in ``poll`` wakes up at the latest (time.monotonic); None while nobody polls."""
        self._stream = _StreamBuffer()
        self.stream_id: Optional[int] = None
        self.ended = False
        """The stream or the connection ended: what is buffered is all there will be."""
        self.closing = False
        self.terminated = None
        self.icmp_error: Optional[OSError] = None
        self.handshake_done = False
        self.alpn: Optional[str] = None

    def handshake(self, peer, timeout: float) -> None:
        """Start the handshake and drive it until it completes, the connection ends, or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._quic.connect(peer, now=time.monotonic())
            self.transmit()
        while not self.handshake_done and self.close_reason() is None and self.icmp_error is None:
            if time.monotonic() >= deadline:
                return
            self._wait(deadline)

    def close_reason(self):
        """How the connection ended, as early as qh3 knows it (it reports the event after the drain period)."""
        if self.terminated is not None:
            return self.terminated
        return getattr(self._quic, "_close_event", None)

    def transmit(self) -> None:
        """Send what qh3 has to send; the caller holds the lock (or is the only thread, as in the handshake)."""
        datagrams = [data for data, _address in self._quic.datagrams_to_send(now=time.monotonic())]
        if datagrams:
            error = self._sender.send(datagrams)
            if error is not None:
                self.icmp_error = error

    def send_stream(self, data: bytes) -> None:
        """Queue ``data`` on the SMB stream and send it. A connection the server has closed refuses the data: the
        reading side learns why from the close."""
        with self._lock:
            if self.closing:
                raise ValueError("the QUIC connection is closed")
            try:
                self._quic.send_stream_data(self.stream_id, data)
            except QuicConnectionError:
                return
            self.transmit()
            wait_ends = self._wait_ends
            if wait_ends is not None:
                timer = self._quic.get_timer()
                if timer is not None and timer < wait_ends:
                    self._wake_waiter()

    def take(self, count: int, timeout: float):
        """Exactly ``count`` bytes of the stream; None once it ended short; TimeoutError when nothing comes in time."""
        deadline = time.monotonic() + timeout
        stream = self._stream
        stream.expect(count)
        try:
            while stream.buffered < count and not self.ended:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        "QUIC stream idle for %.1fs (%d of %d bytes)" % (timeout, stream.buffered, count)
                    )
                self._wait(deadline)
            if stream.buffered < count:
                return None
            return stream.pop(count)
        finally:
            stream.abandon()  # a no-op once the message is popped

    def close(self, send_close: bool = True) -> None:
        """Close the connection (CONNECTION_CLOSE once, unless ``send_close`` is False) and the socket, once the
        thread waiting for data (if any) has left its poll."""
        with self._lock:
            if self.closing:
                return
            self.closing = True
            self.ended = True
            if send_close:
                try:
                    self._quic.close()
                    self.transmit()
                except Exception:  # a connection qh3 already tore down: nothing left to tell the server
                    pass
            self._wake_waiter()
            self._left_poll.wait_for(lambda: self._wait_ends is None, 10)
            self._sock.close()
            self._wake_reader.close()
            self._wake_writer.close()

    def _wake_waiter(self) -> None:
        try:
            self._wake_writer.send(b"\0")
        except OSError:  # its buffer is full of wake-ups already, or it is closed
            pass

    def _wait(self, deadline: float) -> None:
        """Wait until the socket is readable, someone wakes us, qh3's timer or ``deadline``; then do what came."""
        with self._lock:
            if self.closing:
                return
            timer = self._quic.get_timer()
            self._wait_ends = wait_ends = deadline if timer is None else min(timer, deadline)
        try:
            ready = self._poller.poll(max(0, math.ceil((wait_ends - time.monotonic()) * 1000)))
        finally:
            with self._lock:
                self._wait_ends = None
                self._left_poll.notify_all()
        with self._lock:
            if self.closing:
                return
            self._take_in(ready)

    def _take_in(self, ready: list) -> None:
        quic, sock_fd = self._quic, self._sock.fileno()
        bursts, error = [], None
        for fd, _mask in ready:
            if fd == sock_fd:
                bursts, error, _more = read_gro_bursts(self._sock)
            else:
                try:
                    self._wake_reader.recv(4096)
                except OSError:  # nothing left to read: another wake-up took it
                    pass
        now = time.monotonic()
        for data, segment_size, address in bursts:
            receive_gro_burst(quic, data, segment_size, address, now)
        if error is not None:  # with a connected UDP socket the kernel reports ICMP port/host unreachable here
            self.icmp_error = error
        timer = quic.get_timer()
        if timer is not None and timer <= now:
            quic.handle_timer(now)
        self._take_events()
        self.transmit()

    def _take_events(self) -> None:
        quic = self._quic
        event = quic.next_event()
        while event is not None:
            name = type(event).__name__
            if name == "StreamDataReceived":
                if event.stream_id == self.stream_id:
                    if event.data:
                        self._stream.add(event.data)
                    self.ended = self.ended or event.end_stream
            elif name == "HandshakeCompleted":
                self.handshake_done = True
                self.alpn = event.alpn_protocol
            elif name == "ConnectionTerminated":
                self.terminated = event
                self.ended = True
            event = quic.next_event()


class SmbQuicTransport:
    """Stands in for ``smbprotocol.transport.Tcp``: SMB over QUIC to ``server`` (an address) and ``port``."""

    MAX_SIZE = 16777215

    def __init__(
        self,
        server: str,
        port: int,
        timeout: Optional[float] = None,
        cafile: Optional[str] = None,
        fingerprint_sha256: Optional[str] = None,
        validate_certs: bool = True,
        server_name: Optional[str] = None,
        max_datagram_size: int = 1200,
    ) -> None:
        self.server = server
        self.max_datagram_size = max_datagram_size
        self.port = port
        self.timeout = timeout or 30.0
        self.connected = False
        self._policy = _certificate_policy(validate_certs, cafile, fingerprint_sha256, server_name or server)
        self._driver: Optional[_QuicSocketDriver] = None

    def connect(self) -> None:
        if self.connected:
            return
        try:
            self._driver = self._handshake()
        except Exception as exc:
            raise ValueError("Failed to connect to '%s:%d' over QUIC: %s" % (self.server, self.port, exc)) from None
        self.connected = True

    def _handshake(self) -> _QuicSocketDriver:
        where = "%s port %d/quic" % (self._policy.server_name, self.port)
        sock = _connected_udp_socket(self.server, self.port)
        try:
            configuration = _client_configuration(self._policy.server_name, self.max_datagram_size)
            driver = _QuicSocketDriver(sock, QuicConnection(configuration=configuration))
        except BaseException:
            sock.close()
            raise
        try:
            driver.handshake(sock.getpeername(), self.timeout)
            handshake_ok, outcome = _handshake_outcome(driver, where, self.timeout, self._policy)
        except BaseException:
            driver.close(send_close=False)
            raise
        if not handshake_ok:
            driver.close(send_close=False)  # a refused certificate has sent its own close
            raise ConnectionError(outcome.error)
        driver.stream_id = driver._quic.get_next_available_stream_id()
        return driver

    def send(self, header: bytes) -> None:
        if len(header) > self.MAX_SIZE:
            raise ValueError(
                "Data to be sent over QUIC size %d exceeds the max length %d" % (len(header), self.MAX_SIZE)
            )
        driver = self._driver
        if driver is None or driver.closing:
            raise ValueError("the QUIC connection to %s:%d is closed" % (self.server, self.port))
        driver.send_stream(struct.pack(">I", len(header)) + bytes(header))

    def recv(self, timeout: float):
        """The next message, a bytearray as smbprotocol's ``Tcp`` returns when it had to wait for it; b"" once the
        stream has ended."""
        driver = self._driver
        prefix = driver.take(4, timeout) if driver is not None else None
        message = driver.take(struct.unpack(">L", prefix)[0], max(timeout, 30.0)) if prefix else None
        if message is None:
            self.connected = False
            return b""
        return message

    def close(self) -> None:
        self.connected = False
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()


_SMB_TRANSPORT = threading.local()
_ORIGINAL_TCP = []
_INSTALL_LOCK = threading.Lock()


def _smb_transport(server, port, timeout=None):
    """smbprotocol's ``Tcp``, except inside ``connect_smb_over_quic`` in the calling thread."""
    factory = getattr(_SMB_TRANSPORT, "factory", None)
    if factory is not None:
        return factory(server, port, timeout)
    return _ORIGINAL_TCP[0](server, port, timeout)


def connect_smb_over_quic(connection, timeout: float, **tls) -> None:
    """``connection.connect(timeout)`` over SMB over QUIC.

    ``tls``: cafile, fingerprint_sha256, validate_certs, server_name, and max_datagram_size (1200 by default).

    smbprotocol creates its transport inside ``connect()`` from its module global ``Tcp``. The first call
    installs a stand-in that returns the original ``Tcp`` everywhere except in the thread running this
    function, so concurrent TCP session checks in other threads are never affected.
    """
    from smbprotocol import connection as smb_connection

    with _INSTALL_LOCK:
        current = smb_connection.Tcp
        if current is not _smb_transport:
            # A second copy of this module (the collection imported under two names in one process) may have put
            # its own stand-in there: keep smbprotocol's class beneath it, or the two stand-ins would call each other.
            _ORIGINAL_TCP[:] = [getattr(current, "smbprotocol_tcp", current)]
            _smb_transport.smbprotocol_tcp = _ORIGINAL_TCP[0]
            smb_connection.Tcp = _smb_transport
    _SMB_TRANSPORT.factory = functools.partial(SmbQuicTransport, **tls)
    try:
        connection.connect(timeout=timeout)
    finally:
        _SMB_TRANSPORT.factory = None
