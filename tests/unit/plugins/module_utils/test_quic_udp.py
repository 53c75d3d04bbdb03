"""The QUIC client's UDP socket (``_quic_udp``): GRO bursts reach the protocol whole and split where the kernel says.

The socket tests use loopback: a plain socket sends datagrams (one GSO ``sendmsg`` of three, as pysmbd's server
sends them, or one by one) to a socket opened by ``open_datagram_endpoint``, and a recording protocol checks that
cutting each burst at its segment size gives back exactly the datagrams sent, in order.
"""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils import _quic_udp
from ansible_collections.smb.alternative_ports.plugins.module_utils._quic_udp import (
    UDP_GRO,
    gro_segment_size,
    open_datagram_endpoint,
)

UDP_SEGMENT = 103
SOL_UDP = getattr(socket, "SOL_UDP", 17)


@pytest.mark.parametrize(
    ("ancillary", "size"),
    [
        ([(SOL_UDP, UDP_GRO, struct.pack("@i", 1452))], 1452),
        ([(SOL_UDP, UDP_GRO, struct.pack("@H", 1200))], 1200),  # kernels that send a 16-bit value
        ([(socket.IPPROTO_IP, 8, bytes(12)), (SOL_UDP, UDP_GRO, struct.pack("@i", 1200))], 1200),  # after PKTINFO
        ([(socket.IPPROTO_IP, 8, bytes(12))], 0),  # not coalesced: no segment size
        ([], 0),
    ],
)
def test_the_segment_size_is_read_from_the_gro_control_message(ancillary, size) -> None:
    assert gro_segment_size(ancillary) == size


class _Recorder(asyncio.DatagramProtocol):
    """Records the datagrams it is given, cut at each burst's segment size, as the QUIC protocols cut them."""

    def __init__(self, expected: int) -> None:
        self.datagrams: list = []
        self.bursts = 0
        self._expected = expected
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()

    def gro_bursts_received(self, bursts: list) -> None:
        for data, segment_size, _address in bursts:
            self.bursts += 1
            self.datagrams += [data[offset : offset + segment_size] for offset in range(0, len(data), segment_size)]
        self._check()

    def datagram_received(self, data: bytes, addr: object) -> None:  # the fallback transports call this
        self.datagrams.append(data)
        self._check()

    def datagrams_received(self, datagrams: list, addr: object) -> None:
        self.datagrams += datagrams
        self._check()

    def _check(self) -> None:
        if len(self.datagrams) >= self._expected and not self.done.done():
            self.done.set_result(None)


def _exchange(datagrams: list, *, gso: bool) -> _Recorder:
    async def run() -> _Recorder:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.bind(("127.0.0.1", 0))
            receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            receiver.setblocking(False)
            receiver.bind(("127.0.0.1", 0))
            receiver.connect(sender.getsockname())
            transport, protocol = await open_datagram_endpoint(lambda: _Recorder(len(datagrams)), receiver)
            try:
                if gso:
                    control = [(SOL_UDP, UDP_SEGMENT, struct.pack("@H", len(datagrams[0])))]
                    sender.sendmsg([b"".join(datagrams)], control, 0, receiver.getsockname())
                else:
                    for datagram in datagrams:
                        sender.sendto(datagram, receiver.getsockname())
                await asyncio.wait_for(protocol.done, 5)
            finally:
                transport.close()
            return protocol

    return asyncio.run(run())


def test_a_gso_burst_reaches_the_protocol_as_the_datagrams_that_were_sent() -> None:
    datagrams = [bytes([n]) * 1200 for n in (1, 2)] + [b"\x03" * 700]  # the last one shorter, as GSO allows
    recorder = _exchange(datagrams, gso=True)
    assert recorder.datagrams == datagrams
    assert recorder.bursts == 1  # one recvmsg for the three: what saves the client its per-datagram work


def test_datagrams_sent_one_by_one_arrive_one_by_one() -> None:
    datagrams = [bytes([n]) * size for n, size in ((1, 1200), (2, 40), (3, 1200))]
    assert _exchange(datagrams, gso=False).datagrams == datagrams


def test_without_the_burst_transport_qh3s_own_still_receives(monkeypatch) -> None:
    monkeypatch.setattr(_quic_udp, "OptimizedDatagramTransport", None)
    datagrams = [b"\x01" * 1200, b"\x02" * 1200]
    assert _exchange(datagrams, gso=False).datagrams == datagrams


def test_an_icmp_error_reaches_the_protocol() -> None:
    # The probe tells a closed UDP port by the ICMP port unreachable the connected socket reports.
    async def run() -> OSError:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect(("127.0.0.1", port))
        errors: asyncio.Future = asyncio.get_running_loop().create_future()

        class Errors(_Recorder):
            def error_received(self, exc: Exception) -> None:
                if not errors.done():
                    errors.set_result(exc)

        transport, _protocol = await open_datagram_endpoint(lambda: Errors(1), sock)
        try:
            transport.sendto(b"hello")
            return await asyncio.wait_for(errors, 5)
        finally:
            transport.close()

    assert isinstance(asyncio.run(run()), ConnectionRefusedError)
