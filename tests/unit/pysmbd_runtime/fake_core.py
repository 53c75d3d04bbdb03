"""A stand-in for the SMB core with the same interface, speaking a toy protocol over Direct TCP framing.

Frames: ``PING`` -> ``PONG``; ``LOGIN <id>`` -> SessionEstablished; ``LOGOFF <id>`` -> SessionClosed;
``TREE <share>`` -> TreeConnected; ``OPEN`` and ``CLOSEALL`` add and drop open files (``opens``, as the
real core has); ``BIG <n>`` -> an n-byte answer sent as header + memoryview chunks; ``BYE`` ->
ConnectionShouldClose; ``CRASH`` raises (a core bug). It lets the runtime be tested on its own:
listeners, reload, limits and status do not depend on SMB.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import List, Optional

from pysmbd.core.events import ConnectionShouldClose, Event, SessionClosed, SessionEstablished, TreeConnected


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def pattern(size: int) -> bytes:
    """Recognisable content: a partial or misordered send shows up as a mismatch."""
    return bytes(index * 7 % 251 for index in range(251)) * (size // 251) + bytes(size % 251)


class FakeCore:
    instances: List[FakeCore] = []

    fail_next = False
    """Set to make the next connection's core fail to start (a bug in the core's constructor)."""

    def __init__(self, context, peer: str, transport: str) -> None:
        if FakeCore.fail_next:
            FakeCore.fail_next = False
            raise RuntimeError("simulated core constructor bug")
        self.context = context
        self.peer = peer
        self._buffer = b""
        self._out: List[bytes] = []
        self._events: deque = deque()
        self._sessions: set = set()
        self.closed = False
        self.opens: dict = {}
        FakeCore.instances.append(self)

    def receive_data(self, data: bytes, now: float) -> None:
        self._buffer += data
        while len(self._buffer) >= 4:
            (length,) = struct.unpack(">I", self._buffer[:4])
            if length > self.context.max_frame_size:
                self._events.append(ConnectionShouldClose(f"frame of {length} bytes"))
                self._buffer = b""
                return
            if len(self._buffer) < 4 + length:
                return
            payload, self._buffer = self._buffer[4 : 4 + length], self._buffer[4 + length :]
            self._handle(payload)

    def _handle(self, payload: bytes) -> None:
        if payload == b"PING":
            self._out.append(frame(b"PONG"))
        elif payload.startswith(b"LOGIN "):
            session_id = int(payload.split()[1])
            self._sessions.add(session_id)
            self._events.append(SessionEstablished(session_id, "user"))
            self._out.append(frame(b"OK"))
        elif payload.startswith(b"LOGOFF "):
            session_id = int(payload.split()[1])
            self._sessions.discard(session_id)
            self._events.append(SessionClosed(session_id))
            self._out.append(frame(b"OK"))
        elif payload.startswith(b"TREE "):
            self._events.append(TreeConnected(1, 1, payload.split()[1].decode().lower()))
            self._out.append(frame(b"OK"))
        elif payload == b"OPEN":
            self.opens[len(self.opens)] = "file"
            self._out.append(frame(b"OK"))
        elif payload == b"CLOSEALL":
            self.opens.clear()
            self._out.append(frame(b"OK"))
        elif payload == b"SHARES":
            self._out.append(frame(",".join(sorted(self.context.shares)).encode()))
        elif payload.startswith(b"BIG "):
            size = int(payload.split()[1])
            body = memoryview(pattern(size))
            self._out.extend([struct.pack(">I", size), body[: size // 3], body[size // 3 :]])
        elif payload == b"BYE":
            self._out.append(frame(b"BYE"))
            self._events.append(ConnectionShouldClose("client asked"))
        elif payload == b"CRASH":
            raise RuntimeError("simulated core bug")

    def data_to_send(self) -> List[bytes]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> Optional[Event]:
        return self._events.popleft() if self._events else None

    def close(self) -> None:
        self.closed = True
        for session_id in sorted(self._sessions):
            self._events.append(SessionClosed(session_id))
        self._sessions.clear()
