"""What every transport adapter does around its core connection, in one place for TCP and QUIC alike.

An adapter carries bytes; this object does the rest of a connection's bookkeeping: admission against
``max_connections``, the core's events (sessions and trees into the registry, a log line each, and the
core's request to close handed back to the adapter, which alone knows how to flush and close its
transport), and the end of the connection (the core closed, its sessions ended, the registry told).

The registry's share bookkeeping is what lets a reload close the connections that use a removed or
changed share (``Runtime.apply``), so every adapter must report ``TreeConnected`` here.
"""

from __future__ import annotations

import time
from typing import Callable, List, Optional, Protocol, Union

from pysmbd.core.events import (
    ConnectionShouldClose,
    Event,
    LoginDelayed,
    LoginFailed,
    SessionClosed,
    SessionEstablished,
    TreeConnected,
)
from pysmbd.server import eventlog
from pysmbd.server.admission import LoginThrottle, peer_host
from pysmbd.server.registry import ConnectionRegistry, ListenerKey


class CoreConnection(Protocol):
    """What an adapter needs from ``pysmbd.core.connection.SMBServerConnection``."""

    def receive_data(self, data: bytes, now: float) -> None: ...

    def data_to_send(self) -> List[Union[bytes, memoryview]]: ...

    def next_event(self) -> Optional[Event]: ...

    def close(self) -> None: ...


def format_peer(peername: object) -> str:
    """``host:port`` of a socket address, with brackets around an IPv6 host."""
    if isinstance(peername, tuple) and len(peername) >= 2:
        host, port = peername[0], peername[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peername or "")


class CoreEvents:
    """One connection's bookkeeping, owned by its adapter (``connection`` is the adapter's object)."""

    __slots__ = (
        "_admitted",
        "_close_requested",
        "_connection",
        "_listener",
        "_listener_key",
        "_login_throttle",
        "_on_close_requested",
        "_registry",
        "host",
        "peer",
        "refusal",
    )

    def __init__(
        self,
        registry: ConnectionRegistry,
        connection: object,
        *,
        peer: str,
        listener: str,
        on_close_requested: Callable[[str], None],
        listener_key: Optional[ListenerKey] = None,
        login_throttle: Optional[LoginThrottle] = None,
    ) -> None:
        self._registry = registry
        self._connection = connection
        self.peer = peer
        self.host = peer_host(peer)
        self._login_throttle = login_throttle
        self._listener = listener
        self._listener_key = listener_key
        self._on_close_requested = on_close_requested
        self._admitted = False
        self._close_requested = False
        self.refusal: Optional[str] = None
        """Why ``admit`` refused the connection (for a transport that can tell its client)."""

    def admit(self, new_core: Callable[[], CoreConnection]) -> Optional[CoreConnection]:
        """Count the connection and make its core; None (and a log line, rate-limited per address) when the server,
        or the client's address, has no slot left."""
        registry = self._registry
        refusal = registry.admit(self._connection, self._listener_key, self.peer)
        if refusal is not None:
            self.refusal = refusal
            self.log_limited("connection_refused", listener=self._listener, reason=refusal)
            return None
        try:
            core = new_core()
        except Exception:
            registry.remove(self._connection)
            raise
        self._admitted = True
        eventlog.debug("connection_opened", peer=self.peer, listener=self._listener)
        return core

    def log_limited(self, event: str, **fields: object) -> None:
        """A warning about this connection that a flood from its address must not repeat thousands of times."""
        limiter = self._registry.connection_log
        if limiter is None:
            eventlog.warning(event, peer=self.peer, **fields)
        else:
            limiter.log(event, self.host, time.monotonic(), peer=self.peer, **fields)

    def frame_timed_out(self, frame_timeout: float) -> None:
        """Say why the connection is closed: a frame it began was not completed within ``frame_timeout`` seconds."""
        self.log_limited(
            "connection_frame_timeout", reason=f"a frame was not completed within frame_timeout ({frame_timeout:g} s)"
        )

    def login_delay(self) -> float:
        """The core's ``login_delay``: how long a new login from this address waits now."""
        throttle = self._login_throttle
        return 0.0 if throttle is None else throttle.delay(self.host, time.monotonic())

    def drain(self, core: CoreConnection) -> None:
        """Handle every event the core has queued."""
        while True:
            event = core.next_event()
            if event is None:
                return
            self._handle(event)

    def _handle(self, event: Event) -> None:
        registry, connection = self._registry, self._connection
        if isinstance(event, SessionEstablished):
            registry.session_opened(connection, event.session_id)
            eventlog.info("session_established", peer=self.peer, session_id=event.session_id, user=event.user)
        elif isinstance(event, SessionClosed):
            registry.session_closed(connection, event.session_id)
            eventlog.info("session_closed", peer=self.peer, session_id=event.session_id)
        elif isinstance(event, TreeConnected):
            registry.tree_connected(connection, event.share)
            eventlog.info("tree_connected", peer=self.peer, session_id=event.session_id, share=event.share)
        elif isinstance(event, LoginFailed):
            if self._login_throttle is not None:
                self._login_throttle.failed(self.host, time.monotonic())
        elif isinstance(event, LoginDelayed):
            self.log_limited("login_delayed", seconds=event.seconds, reason="too many failed logins from this address")
        elif isinstance(event, ConnectionShouldClose) and not self._close_requested:
            self.log_limited("connection_dropped", reason=event.reason)  # a flood of bad frames: one line a minute
            self._close_requested = True
            self._on_close_requested(event.reason)

    def core_failed(self, exc: Exception) -> None:
        """A bug in the core: say so; the adapter then closes this one connection, never the server."""
        eventlog.error("core_failed", peer=self.peer, error=f"{type(exc).__name__}: {exc}", exc_info=True)

    def closed(self, core: Optional[CoreConnection], error: Optional[str]) -> None:
        """The transport is gone: close the core (its sessions end), and take the connection off the registry."""
        self._close_requested = True  # nothing is left to flush
        if core is not None:
            try:
                core.close()
                self.drain(core)
            except Exception as exc:
                self.core_failed(exc)
        if self._admitted:
            self._admitted = False
            self._registry.remove(self._connection)
            eventlog.debug("connection_closed", peer=self.peer, error=error)
