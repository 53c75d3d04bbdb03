"""Batched UDP for the QUIC listener: the socket, qh3's batching transport, and a send loop without per-datagram logging.

qh3's batching UDP transport (the one its ``connect()`` gives clients) receives with recvmmsg and UDP GRO and sends a
run of equal-sized datagrams with one ``sendmsg`` carrying UDP_SEGMENT (GSO), each probed once and falling back to a
datagram per call where the kernel or the path refuses. The wire still carries ``max_datagram_size`` datagrams (the
kernel cuts a GSO send into them); what goes away is a system call and an event-loop turn per datagram. qh3 keeps it
private, so where it does not load asyncio's own endpoint serves, one datagram per call.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import socket
from typing import Callable, Iterator, Optional

from qh3.quic.connection import QuicConnection, QuicConnectionError
from qh3.quic.packet import QuicErrorCode

try:  # private to qh3 (its connect() uses it); asyncio's own datagram endpoint is the fallback
    from qh3.asyncio._transport import create_optimized_datagram_transport
except ImportError:  # pragma: no cover - a qh3 without it still works, a datagram per system call
    create_optimized_datagram_transport = None

# A bulk WRITE arrives faster than a busy host schedules the server: a datagram the kernel drops for a full buffer
# is a loss to QUIC, which halves its window. The kernel caps this at net.core.rmem_max.
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024


def bind_udp_socket(address: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to (``address``, ``port``), with a receive buffer that absorbs a burst."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    return sock


async def open_datagram_transport(
    protocol_factory: Callable[[], asyncio.DatagramProtocol], sock: socket.socket
) -> tuple:
    """(transport, protocol) on ``sock``: qh3's batching transport where it loads (GRO/GSO probed once, per
    datagram where refused), else asyncio's endpoint. Closes ``sock`` if it fails."""
    if create_optimized_datagram_transport is not None:
        return await create_optimized_datagram_transport(asyncio.get_running_loop(), protocol_factory, sock=sock)
    try:
        return await asyncio.get_running_loop().create_datagram_endpoint(protocol_factory, sock=sock)
    except BaseException:
        sock.close()
        raise


def lean_datagrams_to_send(quic: QuicConnection) -> Optional[Callable[[float], list]]:
    """qh3's ``quic.datagrams_to_send`` without its per-datagram Python work; None where that would differ.

    qh3 2.1 parses the header of every packet it sends in order to log it, even when no QUIC logger is configured:
    a header parse and four Python calls per datagram, a quarter of the server's CPU per datagram in a bulk read once
    GSO sends them. Without a logger (pysmbd configures none), what is left is the loop over the Rust core's
    ``poll_transmit``, with qh3's own error mapping. A qh3 whose internals differ keeps its own method.
    """
    if not _lean_core_usable(quic):
        return None

    def datagrams_to_send(now: float) -> list:
        return [(transmit[0], transmit[1]) for run in _poll_runs(quic, now, _ALL, _ALL) for transmit in run]

    return datagrams_to_send


def datagram_runs(quic: QuicConnection, first_run: int, run: int) -> Optional[Callable[[float], Iterator[list]]]:
    """Like ``lean_datagrams_to_send``, but yielding what qh3 builds in runs (``first_run`` datagrams, then ``run``;
    each a list of qh3's transmits, the datagram first and its address second), so each can be sent before the next
    is built; None where qh3's internals differ.

    qh3 builds every datagram its congestion window allows before it returns any: for a 4 MiB READ answer that is
    ~2,900 datagrams and ~8 ms before the first leaves, while the client idles. Sent as they are built, the client
    decrypts the first runs while the server builds the rest. The first run is short, so the client starts at once;
    the later ones are longer, so the client is woken (and acknowledges) once per few GSO bursts."""
    if not _lean_core_usable(quic):
        return None
    return lambda now: _poll_runs(quic, now, first_run, run)


_ALL = 1 << 62  # a run with no limit: everything qh3 has to send now


def _lean_core_usable(quic: QuicConnection) -> bool:
    """qh3's Rust core can be polled directly: it is there, and no QUIC logger expects each packet."""
    return getattr(quic, "_quic_logger", True) is None and hasattr(quic, "_core")


def _poll_runs(quic: QuicConnection, now: float, first_run: int, run: int) -> Iterator[list]:
    """What qh3's core has to send now, in runs of ``first_run`` transmits, then ``run``.

    The loop over ``poll_transmit`` runs in C (``iter`` with a sentinel, ``islice``): a bulk READ answer is ~2,900
    datagrams, and a Python loop around each call was a few percent of the server's time per datagram."""
    core = quic._core
    if core is None:
        return
    transmits = iter(functools.partial(core.poll_transmit, now), None)
    size = first_run
    try:
        while True:
            batch = list(itertools.islice(transmits, size))
            if batch:
                yield batch
            if len(batch) < size:
                return
            size = run
    except RuntimeError as exc:  # as qh3's _call_core reports a failure of its core
        raise QuicConnectionError(QuicErrorCode.INTERNAL_ERROR, None, str(exc)) from exc
