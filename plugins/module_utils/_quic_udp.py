# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The QUIC client's UDP socket: qh3's batching transport, receiving each GRO burst whole.

This is a private module_utils file: its API may change without notice.

qh3's own transport (what its ``connect()`` uses) sends a run of datagrams with one GSO ``sendmsg`` and receives
with recvmmsg and UDP GRO, but it then cuts every burst the kernel coalesced into one ``bytes`` object and one
tuple per datagram, loops over them in Python, and qh3 feeds them back to its Rust core one by one. In a bulk
SMB READ that is most of the client's Python work and a copy of every byte. qh3's connection also takes a whole
GRO burst (``receive_gro_buffer``), so this transport reads each burst with one ``recvmsg`` straight into the
``bytes`` that qh3 decrypts, and hands the protocol all bursts of one wake-up together: it processes events,
acknowledges and sends once per wake-up. Sending, queueing and error reporting stay qh3's.

``receive_gro_burst`` gives a burst to qh3's Rust core the way ``QuicConnection.receive_gro_buffer`` does, minus
the loop that cuts the burst into one ``bytes`` copy per datagram only to hand each to a logger that is not there.

Where the kernel has no UDP GRO, or qh3 lacks the pieces used here, qh3's transport (or asyncio's) serves as it is.

The SMB session transport has no event loop (``_smb_over_quic._QuicSocketDriver``): it reads bursts with
``read_gro_bursts``, the same reads the transport above makes, and sends with ``DatagramSender``.
"""

from __future__ import annotations

import asyncio
import errno
import select
import socket
import struct
from typing import Optional

try:  # private to qh3 (its connect() uses it)
    from qh3.asyncio._transport import OptimizedDatagramTransport, create_optimized_datagram_transport, has_gso
except ImportError:
    OptimizedDatagramTransport = None
    create_optimized_datagram_transport = None
    has_gso = None
try:  # qh3's Rust wrapper of the batched send system calls (GSO), which its transport uses
    from qh3._hazmat import UdpSocketState
except ImportError:
    UdpSocketState = None

UDP_GRO = 104  # linux/udp.h: the socket option, and the type of the cmsg that carries the segment size
# One GRO burst is at most one IP packet's worth; a datagram that does not fit is cut (MSG_TRUNC) and dropped.
GRO_BUFFER_BYTES = 65535
READS_PER_WAKEUP = 64  # then yield to the event loop, so a flood cannot starve the rest of it
# Room for every control message the socket gets: qh3's socket state also asks for the packet info and the TOS byte,
# and a cut one (MSG_CTRUNC) may lose the segment size, without which a burst cannot be split.
ANCILLARY_BYTES = 512
_SOL_UDP = getattr(socket, "SOL_UDP", 17)
_MSG_TRUNC = getattr(socket, "MSG_TRUNC", 0)
_MSG_CTRUNC = getattr(socket, "MSG_CTRUNC", 0)
# A GSO send the kernel or the path refuses: send the same datagrams one by one from then on.
_GSO_REFUSED_ERRNOS = {errno.EIO, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOPROTOOPT}
# How long a send waits for room in a full socket buffer before it leaves the rest to QUIC's loss recovery.
SEND_BUFFER_WAIT = 1.0


def gro_segment_size(ancillary: list) -> int:
    """The segment size the kernel reports for a coalesced burst; 0 when the burst is one datagram."""
    for level, kind, value in ancillary:
        if level == _SOL_UDP and kind == UDP_GRO:
            if len(value) >= 4:
                return struct.unpack("@i", value[:4])[0]
            if len(value) >= 2:
                return struct.unpack("@H", value[:2])[0]
    return 0


_LEAN_RECEIVE_NEEDS = (
    "_core",
    "_handshake_complete",
    "_quic_logger",
    "_normalize_address",
    "_call_core",
    "_drain_core",
)


def receive_gro_burst(quic, data: bytes, segment_size: int, address, now: float) -> None:
    """``quic.receive_gro_buffer(data, segment_size, address, now)``, without a copy of each datagram for logging.

    Only once the handshake is done and no QUIC logger is set (verify sets none), and only where qh3's connection
    still has the parts its own method uses; otherwise qh3's method runs as it is."""
    if len(data) <= segment_size:
        quic.receive_datagram(data, address, now)
        return
    if not all(hasattr(quic, name) for name in _LEAN_RECEIVE_NEEDS) or (
        quic._core is None or not quic._handshake_complete or quic._quic_logger is not None
    ):
        quic.receive_gro_buffer(data, segment_size, address, now)
        return
    quic._call_core(quic._core.receive_gro_buffer, data, segment_size, quic._normalize_address(address), now)
    quic._drain_core()


def read_gro_bursts(sock: socket.socket, limit: int = READS_PER_WAKEUP) -> tuple:
    """(bursts, error, more): up to ``limit`` bursts waiting on the non-blocking ``sock``, each
    ``(data, segment_size, address)``; ``error`` is the OSError that ended the reads (an ICMP error on a connected
    socket), ``more`` says the limit ended them. A burst the kernel cut is dropped (QUIC resends it)."""
    bursts = []
    for _read in range(limit):
        try:
            data, ancillary, flags, address = sock.recvmsg(GRO_BUFFER_BYTES, ANCILLARY_BYTES)
        except (BlockingIOError, InterruptedError):
            return bursts, None, False
        except OSError as exc:
            return bursts, exc, False
        if data and not flags & (_MSG_TRUNC | _MSG_CTRUNC):
            bursts.append((data, gro_segment_size(ancillary) or len(data), address))
    return bursts, None, True


def enable_gro(sock: socket.socket) -> bool:
    """Turn UDP GRO on for ``sock``; False where the kernel does not have it."""
    try:
        sock.setsockopt(_SOL_UDP, UDP_GRO, 1)
        return sock.getsockopt(_SOL_UDP, UDP_GRO) == 1
    except OSError:
        return False


if OptimizedDatagramTransport is not None:

    class _GroBurstTransport(OptimizedDatagramTransport):
        """qh3's transport with one change: readable means read whole GRO bursts and hand them over at once."""

        __slots__ = ()

        def _on_readable(self) -> None:
            if self._closing or self._paused:
                return
            bursts, error, more = read_gro_bursts(self._sock)
            if error is not None:  # an ICMP error on the connected socket: the protocol decides what it means
                self._report_error(error)
            if bursts and not self._closing:
                self._protocol.gro_bursts_received(bursts)
            if more and not self._closing and not self._paused and self._reader_registered:
                self._loop.call_soon(self._on_readable)


class DatagramSender:
    """Sends qh3's datagrams on a connected UDP socket, for a caller without an event loop.

    A run of equal-sized datagrams goes out in one GSO ``sendmsg`` (qh3's Rust ``UdpSocketState``, as its own transport
    does) where the kernel has UDP_SEGMENT; elsewhere, or once the kernel refuses one, a datagram per ``send``. The
    wire carries the same datagrams either way. When the socket buffer is full the send waits for room (up to
    ``SEND_BUFFER_WAIT``); what still does not fit is left to QUIC's loss recovery."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._peer = sock.getpeername()
        self._state = None
        if UdpSocketState is not None and has_gso is not None and has_gso(sock):
            try:
                self._state = UdpSocketState(sock.fileno())
            except Exception:  # qh3 cannot wrap this socket (not Unix): plain sends serve
                self._state = None

    def send(self, datagrams: list) -> Optional[OSError]:
        """Send ``datagrams`` (bytes) in order; return the error the kernel reported (an ICMP error), if any."""
        while datagrams:
            try:
                sent = self._send_some(datagrams)
            except (BlockingIOError, InterruptedError) as exc:
                sent = getattr(exc, "datagrams_sent", 0)
                if not _wait_writable(self._sock):
                    return None
            except OSError as exc:
                if self._state is None or exc.errno not in _GSO_REFUSED_ERRNOS:
                    return exc
                sent = getattr(exc, "datagrams_sent", 0)
                self._state = None
            datagrams = datagrams[sent:]
        return None

    def _send_some(self, datagrams: list) -> int:
        if self._state is not None and len(datagrams) > 1:
            return self._state.send(datagrams, self._peer)
        for sent, datagram in enumerate(datagrams):
            try:
                self._sock.send(datagram)
            except (BlockingIOError, InterruptedError) as exc:
                exc.datagrams_sent = sent
                raise
        return len(datagrams)


def _wait_writable(sock: socket.socket) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    return bool(poller.poll(SEND_BUFFER_WAIT * 1000))


async def open_datagram_endpoint(protocol_factory, sock: socket.socket):
    """(transport, protocol) on the connected, non-blocking ``sock``. The protocol must offer
    ``gro_bursts_received([(data, segment_size, address), ...])`` next to ``datagram_received``."""
    loop = asyncio.get_running_loop()
    if OptimizedDatagramTransport is None or not enable_gro(sock):
        if create_optimized_datagram_transport is not None:
            return await create_optimized_datagram_transport(loop, protocol_factory, sock=sock)
        return await loop.create_datagram_endpoint(protocol_factory, sock=sock)
    protocol = protocol_factory()
    transport = _GroBurstTransport(
        loop=loop,
        sock=sock,
        protocol=protocol,
        address=None,
        gro_enabled=True,
        gso_enabled=has_gso(sock),
        gro_segment_size=1280,
    )
    started = loop.create_future()
    transport._start(started)
    try:
        await started
    except BaseException:
        transport.abort()
        raise
    return transport, protocol
