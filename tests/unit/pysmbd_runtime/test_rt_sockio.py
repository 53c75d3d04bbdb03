"""The TCP adapter's send queue: answers reach the client whole and in order whether the socket takes them at once
(sent straight from the core's buffers) or in pieces (the rest queued for the writer callback)."""

from __future__ import annotations

import asyncio
import os
import socket

from pysmbd.server.sockio import SendQueue


def _pair(send_buffer: int) -> tuple[socket.socket, socket.socket]:
    server, client = socket.socketpair()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, send_buffer)
    server.setblocking(False)
    return server, client


def _receive(client: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = client.recv(size - len(data))
        assert chunk, "the server side closed early"
        data += chunk
    return bytes(data)


def test_small_answers_go_out_at_once_and_in_order() -> None:
    server, client = _pair(256 * 1024)
    loop = asyncio.new_event_loop()
    try:
        queue = SendQueue(loop, server, lambda: None)
        answers = [[b"\x00\x00\x00\x05", bytearray(b"head"), memoryview(b"!")] for _copy in range(3)]
        for answer in answers:
            queue.send(answer)
        assert queue.pending == 0 and queue.in_memory == 0
        assert queue.sent == 27
        assert _receive(client, 27) == b"\x00\x00\x00\x05head!" * 3
    finally:
        loop.close()
        server.close()
        client.close()


def test_what_the_socket_does_not_take_is_sent_later_in_order_and_counted_whole() -> None:
    server, client = _pair(16 * 1024)
    big = os.urandom(1024 * 1024)  # far more than the socket buffers hold
    loop = asyncio.new_event_loop()
    progressed = []
    try:
        queue = SendQueue(loop, server, lambda: progressed.append(queue.pending))
        queue.send([b"\x01\x02", memoryview(big)])
        queue.send([b"tail"])  # queued behind the rest of the big chunk, never ahead of it
        assert 2 < queue.sent < len(big)
        assert queue.pending == len(big) + 6 - queue.sent
        # The partly sent chunk keeps its whole buffer alive: memory counts it in full (the 2 bytes are gone).
        assert queue.in_memory == len(big) + 4

        async def drain() -> bytes:
            received = bytearray()
            client.setblocking(False)
            while len(received) < len(big) + 6:
                try:
                    received += client.recv(1 << 20)
                except BlockingIOError:
                    await asyncio.sleep(0.001)
            return bytes(received)

        received = loop.run_until_complete(asyncio.wait_for(drain(), 30))
        assert received == b"\x01\x02" + big + b"tail"
        assert queue.pending == 0 and queue.in_memory == 0 and queue.sent == len(big) + 6
        assert progressed and progressed[-1] == 0
    finally:
        loop.close()
        server.close()
        client.close()
