"""A zero-copy send queue for the TCP adapter.

Why not an ``asyncio.Protocol`` transport: on Python 3.11 ``writelines`` joins the chunks, and what
the kernel does not take at once is copied into a bytearray that is shifted (memmove of the rest)
after every partial send: for an 8 MiB READ response that is dozens of large copies, measured as
~1.7 s of server CPU per GiB with encryption. ``SendQueue`` keeps the core's buffers as memoryviews
and hands them to ``sendmsg`` as they are; a partial send only moves a view's start.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from itertools import islice
from typing import Callable, Deque, Iterable, Optional, Union

Buffer = Union[bytes, bytearray, memoryview]
MAX_IOVECS = 64


class SendQueue:
    """Bytes waiting for the socket; a writer callback sends them while the connection goes on reading.

    ``on_progress`` is called after the writer callback sent something or failed, so the owner can
    resume reading, finish a close, or drop the connection (``error`` is then set).

    ``pending`` counts the bytes still to send; ``in_memory`` counts the queued chunks at their full size (a
    partly sent chunk keeps its whole buffer alive), which is what the memory budget needs; ``sent`` only grows.
    """

    __slots__ = (
        "_fd",
        "_head_sent",
        "_loop",
        "_on_progress",
        "_queue",
        "_sock",
        "_watching",
        "error",
        "pending",
        "sent",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, on_progress: Callable[[], None]) -> None:
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        # Made when the socket first leaves something behind and dropped once it is empty: an empty deque is 760
        # bytes, and most connections' answers go out whole.
        self._queue: Optional[Deque[memoryview]] = None
        self._on_progress = on_progress
        self._watching = False
        self.pending = 0
        self.sent = 0
        self._head_sent = 0  # bytes of the first queued chunk already sent
        self.error: Optional[OSError] = None

    @property
    def in_memory(self) -> int:
        return self.pending + self._head_sent

    def send(self, chunks: Iterable[Buffer]) -> None:
        """Send the chunks (byte buffers: bytes, bytearray or memoryviews of format "B", as the core makes them)
        after what is queued already; what the socket does not take now waits for the writer callback."""
        if self.error is not None:
            return
        if not self._queue and isinstance(chunks, list) and 0 < len(chunks) <= MAX_IOVECS:
            chunks = self._send_now(chunks)
            if not chunks:
                return
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        for chunk in chunks:
            if len(chunk):
                view = memoryview(chunk).cast("B")
                queue.append(view)
                self.pending += len(view)
        if not self._watching:
            self._flush()

    def _send_now(self, chunks: list) -> list:
        """Nothing waits: hand the chunks to the socket as they are (the usual small answer goes in one call, with
        no view made and nothing queued); returns what it did not take."""
        try:
            sent = self._sock.sendmsg(chunks)
        except (BlockingIOError, InterruptedError):
            return chunks
        except OSError as exc:
            self.error = exc
            self.close()
            return []
        self.sent += sent
        for index, chunk in enumerate(chunks):
            size = len(chunk)
            if sent < size:
                rest = chunks[index:]
                rest[0] = memoryview(chunk).cast("B")[sent:]
                self._head_sent = sent  # the first chunk's buffer stays alive whole until it is sent
                return rest
            sent -= size
        return []

    def close(self) -> None:
        if self._watching:
            self._loop.remove_writer(self._fd)
            self._watching = False
        self._queue = None
        self.pending = 0
        self._head_sent = 0

    def _flush(self) -> None:
        queue = self._queue
        if queue is None:
            return
        while queue:
            try:
                sent = self._sock.sendmsg(list(islice(queue, MAX_IOVECS)))
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self.error = exc
                self.close()
                return
            self.pending -= sent
            self.sent += sent
            while sent:
                head = queue[0]
                if len(head) <= sent:
                    sent -= len(head)
                    queue.popleft()
                    self._head_sent = 0
                else:
                    queue[0] = head[sent:]
                    self._head_sent += sent
                    sent = 0
        if queue:
            if not self._watching:
                self._loop.add_writer(self._fd, self._flush_and_report)
                self._watching = True
            return
        self._queue = None
        if self._watching:
            self._loop.remove_writer(self._fd)
            self._watching = False

    def _flush_and_report(self) -> None:
        self._flush()
        self._on_progress()
