"""The QUIC client's UDP socket (``_quic_udp``): GRO bursts reach the protocol whole and split where the kernel says,
and qh3 takes a burst whole (``receive_gro_burst``, checked with a sans-IO client and server, no sockets).

The socket tests use loopback: a plain socket sends datagrams (one GSO ``sendmsg`` of three, as pysmbd's server
sends them, or one by one) to a socket opened by ``open_datagram_endpoint``, and a recording protocol checks that
cutting each burst at its segment size gives back exactly the datagrams sent, in order.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import struct

import pytest
from qh3._hazmat import pull_quic_header
from qh3.quic import events
from qh3.quic.configuration import QuicConfiguration
from qh3.quic.connection import QuicConnection
from qh3.quic.logger import QuicLogger

from ansible_collections.smb.alternative_ports.plugins.module_utils import _quic_udp
from ansible_collections.smb.alternative_ports.plugins.module_utils._quic_udp import (
    UDP_GRO,
    gro_segment_size,
    open_datagram_endpoint,
    receive_gro_burst,
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


def _gso_runs(datagrams: list) -> list:
    """Group datagrams as one GSO send may carry them: equal sizes, the last of a run possibly shorter."""
    runs: list = []
    for datagram in datagrams:
        run = runs[-1] if runs else None
        if run and len(datagram) <= len(run[0]) and len(run[-1]) == len(run[0]):
            run.append(datagram)
        else:
            runs.append([datagram])
    return runs


@pytest.mark.parametrize("with_logger", [False, True], ids=["lean", "qh3-with-logger"])
def test_a_stream_received_as_gro_bursts_arrives_whole(tmp_path, with_logger) -> None:
    from pysmbd.server.certs import generate_self_signed  # the collection's tests import pysmbd late

    pair = generate_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem", ["localhost"])
    server_config = QuicConfiguration(is_client=False, alpn_protocols=["smb"], max_datagram_size=1452)
    server_config.load_cert_chain(str(pair.certificate), str(pair.private_key))
    logger = QuicLogger() if with_logger else None
    client = QuicConnection(
        configuration=QuicConfiguration(
            is_client=True,
            alpn_protocols=["smb"],
            verify_mode=ssl.CERT_NONE,
            max_datagram_size=1452,
            probe_datagram_size=False,
            quic_logger=logger,
        )
    )
    qh3_method_calls = []
    qh3_method = client.receive_gro_buffer
    client.receive_gro_buffer = lambda *args: qh3_method_calls.append(1) or qh3_method(*args)
    client.connect(("127.0.0.1", 8443), now=0.0)
    server, stream_id, now, in_bursts = None, None, 0.0, 0
    payload, received, finished = os.urandom(1 << 20), bytearray(), False
    for _turn in range(2000):
        now += 0.001
        for data, _addr in client.datagrams_to_send(now=now):
            if server is None:
                server = QuicConnection(
                    configuration=server_config, original_destination_connection_id=pull_quic_header(data, 0, 8)[3]
                )
            server.receive_datagram(data, ("127.0.0.1", 50000), now=now)
        while (event := server.next_event()) is not None:
            if isinstance(event, events.StreamDataReceived) and stream_id is None:
                stream_id = event.stream_id
                server.send_stream_data(stream_id, payload, end_stream=True)
        for run in _gso_runs([data for data, _addr in server.datagrams_to_send(now=now)]):
            receive_gro_burst(client, b"".join(run), len(run[0]), ("127.0.0.1", 8443), now)
            in_bursts += len(run) if len(run) > 1 else 0
        while (event := client.next_event()) is not None:
            assert not isinstance(event, events.ConnectionTerminated), event
            if isinstance(event, events.HandshakeCompleted):
                client.send_stream_data(client.get_next_available_stream_id(), b"read")
            elif isinstance(event, events.StreamDataReceived):
                received += event.data
                finished = finished or event.end_stream
        if finished:
            break
    assert finished and bytes(received) == payload
    assert in_bursts > len(payload) // 1452 // 2, in_bursts  # most of the megabyte came in multi-datagram bursts
    if with_logger:  # qh3's own method ran: each datagram of a burst is in the log
        assert len(qh3_method_calls) > 2
        assert len(logger.to_dict()["traces"][0]["events"]) > len(payload) // 1452
    else:  # after the handshake, the lean path alone
        assert len(qh3_method_calls) <= 2


# ------------------------------------------------------------------ DatagramSender (the session transport's sends)


def _connected_pair():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # room for the whole run
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.connect(receiver.getsockname())
    sender.setblocking(False)
    return sender, receiver


def _received(receiver: socket.socket, count: int) -> list:
    return [receiver.recv(65535) for _datagram in range(count)]  # no GRO here: one datagram per recv


def test_the_sender_delivers_each_datagram_as_it_was_built_in_order() -> None:
    # a run of equal datagrams (one GSO send where the kernel has it) and a shorter last one, as qh3 builds them
    datagrams = [bytes([index]) * 1452 for index in range(60)] + [b"last"]  # more than one GSO send holds (44)
    sender, receiver = _connected_pair()
    try:
        assert _quic_udp.DatagramSender(sender).send(datagrams) is None
        assert _received(receiver, len(datagrams)) == datagrams
    finally:
        sender.close()
        receiver.close()


def test_where_the_kernel_refuses_gso_the_sender_sends_one_by_one() -> None:
    datagrams = [bytes([index]) * 1200 for index in range(10)]
    sender, receiver = _connected_pair()
    try:
        datagram_sender = _quic_udp.DatagramSender(sender)

        class RefusingState:
            def send(self, batch, address):
                raise OSError(5, "Input/output error")  # EIO: what a path without segmentation offload answers

        datagram_sender._state = RefusingState()
        assert datagram_sender.send(datagrams) is None
        assert datagram_sender._state is None  # and it does not try again
        assert _received(receiver, len(datagrams)) == datagrams
    finally:
        sender.close()
        receiver.close()


def test_the_sender_reports_an_unreachable_peer() -> None:
    sender, receiver = _connected_pair()
    receiver.close()  # nothing listens: the kernel answers with ICMP port unreachable
    try:
        datagram_sender = _quic_udp.DatagramSender(sender)
        errors = [datagram_sender.send([b"ping"]) for _attempt in range(20)]
        assert any(isinstance(error, ConnectionRefusedError) for error in errors)
    finally:
        sender.close()
