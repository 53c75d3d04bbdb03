"""The QUIC listener's batched datagram path: qh3's batching UDP transport, the router that hands each connection its
run of a batch, and the send loop without qh3's per-datagram logging work.

The stream test carries a handshake and 1 MiB between two sans-IO ``QuicConnection`` objects by hand (no sockets);
the transport tests send one datagram over loopback to each kind of transport the listener may open.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import ssl
from pathlib import Path

import pytest
from qh3._hazmat import pull_quic_header
from qh3.quic import events as quic_events
from qh3.quic.configuration import QuicConfiguration
from qh3.quic.connection import QuicConnection
from qh3.quic.logger import QuicLogger

from pysmbd.config import QuicSettings
from pysmbd.server import quic_udp
from pysmbd.server.certs import generate_self_signed
from pysmbd.server.quic import ALPN, _DrainableQuicServer, server_configuration
from pysmbd.server.quic_udp import datagram_runs, lean_datagrams_to_send

CLIENT_ADDR = ("127.0.0.1", 50000)
SERVER_ADDR = ("127.0.0.1", 8443)
DATAGRAM = 1200


@pytest.fixture(scope="module")
def listener_configuration(tmp_path_factory) -> QuicConfiguration:
    directory: Path = tmp_path_factory.mktemp("quic-batching")
    pair = generate_self_signed(directory / "cert.pem", directory / "key.pem", ["localhost"])
    return server_configuration(QuicSettings(pair.certificate, pair.private_key, max_datagram_size=DATAGRAM), 30.0)


def test_the_installed_qh3_gets_the_lean_send_and_a_logging_connection_keeps_its_own(listener_configuration) -> None:
    # If a qh3 release renames what the lean send relies on, pysmbd silently keeps qh3's slower method: this says so.
    plain = QuicConnection(configuration=listener_configuration, original_destination_connection_id=bytes(8))
    assert lean_datagrams_to_send(plain) is not None
    logging = QuicConnection(
        configuration=dataclasses.replace(listener_configuration, quic_logger=QuicLogger()),
        original_destination_connection_id=bytes(8),
    )
    assert lean_datagrams_to_send(logging) is None


def _send_in_runs(server: QuicConnection, calls: list):
    """``server.datagrams_to_send`` through ``datagram_runs`` (16, then 64), recording each call's run lengths."""
    runs_of = datagram_runs(server, 16, 64)
    assert runs_of is not None

    def datagrams_to_send(now: float) -> list:
        runs = list(runs_of(now))
        calls.append([len(run) for run in runs])
        return [(transmit[0], transmit[1]) for run in runs for transmit in run]

    return datagrams_to_send


@pytest.mark.parametrize("send", ["lean", "runs"])
def test_a_stream_sent_through_the_lean_send_arrives_whole_in_datagrams_of_the_configured_size(
    listener_configuration, send
) -> None:
    client = QuicConnection(
        configuration=QuicConfiguration(
            is_client=True,
            alpn_protocols=[ALPN],
            verify_mode=ssl.CERT_NONE,
            max_datagram_size=DATAGRAM,
            probe_datagram_size=False,
            max_data=4 << 20,
            max_stream_data=4 << 20,
        )
    )
    client.connect(SERVER_ADDR, now=0.0)
    server = None
    now = 0.0
    sizes = []
    payload = os.urandom(1 << 20)
    received = bytearray()
    finished = False
    stream_id = None
    run_calls: list = []
    for _turn in range(2000):
        now += 0.001
        for data, _addr in client.datagrams_to_send(now=now):
            if server is None:
                server = QuicConnection(
                    configuration=listener_configuration,
                    original_destination_connection_id=pull_quic_header(data, 0, 8)[3],
                )
                if send == "lean":
                    server.datagrams_to_send = lean_datagrams_to_send(server)  # as SMBQuicConnection installs it
                else:  # as SMBQuicConnection.transmit sends them
                    server.datagrams_to_send = _send_in_runs(server, run_calls)
            server.receive_datagram(data, CLIENT_ADDR, now=now)
        assert server is not None
        while (event := server.next_event()) is not None:
            if isinstance(event, quic_events.StreamDataReceived) and stream_id is None:
                stream_id = event.stream_id
                server.send_stream_data(stream_id, payload, end_stream=True)
        batch = [data for data, _addr in server.datagrams_to_send(now)]
        sizes += [len(data) for data in batch]
        if batch:
            client.receive_many_datagrams(batch, SERVER_ADDR, now=now)
        while (event := client.next_event()) is not None:
            assert not isinstance(event, quic_events.ConnectionTerminated), event
            if isinstance(event, quic_events.HandshakeCompleted):
                client.send_stream_data(client.get_next_available_stream_id(), b"read")
            elif isinstance(event, quic_events.StreamDataReceived):
                received += event.data
                finished = finished or event.end_stream
        if finished:
            break
    assert finished and bytes(received) == payload
    assert max(sizes) <= DATAGRAM
    assert len(sizes) >= len(payload) // DATAGRAM  # the data went out in datagrams, not in one piece
    if send == "runs":  # a short first run, so the client starts at once; then runs of at most 64
        assert all(runs[0] <= 16 and max(runs) <= 64 for runs in run_calls if runs)
        assert any(len(runs) > 2 for runs in run_calls), run_calls  # a window's worth went out in several runs


class _Recorder:
    def __init__(self, calls: list, name: str) -> None:
        self.calls, self.name = calls, name

    def datagrams_received(self, datagrams: list, addr: object) -> None:
        self.calls.append((self.name, list(datagrams)))


def _short_header(connection_id: bytes, tag: bytes) -> bytes:
    return bytes([0x41]) + connection_id + tag + bytes(40)


def test_the_router_hands_each_connection_its_runs_of_a_batch_in_order(listener_configuration) -> None:
    calls: list = []

    async def route(batch: list) -> None:
        router = _DrainableQuicServer(configuration=listener_configuration, create_protocol=None)
        router._protocols[b"A" * 8] = _Recorder(calls, "A")
        router._protocols[b"B" * 8] = _Recorder(calls, "B")
        router.datagram_received = lambda data, addr: calls.append(("router", [data]))  # what qh3 handles one by one
        router.datagrams_received(batch, CLIENT_ADDR)

    a1, a2, a3 = (_short_header(b"A" * 8, bytes([n])) for n in (1, 2, 3))
    b1 = _short_header(b"B" * 8, b"\x01")
    unknown = _short_header(b"C" * 8, b"\x01")
    initial = bytes([0xC0]) + (1).to_bytes(4, "big") + bytes([8]) + b"A" * 8 + bytes([0]) + bytes(1200)
    asyncio.run(route([a1, a2, b1, a3, unknown, initial, a1]))
    assert calls == [
        ("A", [a1, a2]),
        ("B", [b1]),
        ("A", [a3]),
        ("router", [unknown]),  # no such connection: qh3's router decides (it drops it)
        ("router", [initial]),  # a long header (handshake) even for a known connection: qh3's path
        ("A", [a1]),
    ]


class _Collect(asyncio.DatagramProtocol):
    def __init__(self, batched: bool) -> None:
        self.got: asyncio.Future = asyncio.get_running_loop().create_future()
        if batched:
            self.datagrams_received = lambda datagrams, addr: self._done(list(datagrams))

    def datagram_received(self, data: bytes, addr: object) -> None:
        self._done([data])

    def _done(self, datagrams: list) -> None:
        if not self.got.done():
            self.got.set_result(datagrams)


@pytest.mark.parametrize("batching", [True, False], ids=["qh3-batching-transport", "asyncio-fallback"])
def test_the_listener_socket_receives_on_either_transport(monkeypatch, batching) -> None:
    if not batching:
        monkeypatch.setattr(quic_udp, "create_optimized_datagram_transport", None)
    else:
        assert quic_udp.create_optimized_datagram_transport is not None  # the installed qh3 has it

    async def exchange() -> list:
        sock = quic_udp.bind_udp_socket("127.0.0.1", 0)
        port = sock.getsockname()[1]
        transport, protocol = await quic_udp.open_datagram_transport(lambda: _Collect(batched=True), sock)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(b"hello", ("127.0.0.1", port))
            return await asyncio.wait_for(protocol.got, 5)
        finally:
            transport.close()

    assert asyncio.run(exchange()) == [b"hello"]
