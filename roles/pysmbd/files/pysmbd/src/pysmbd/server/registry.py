"""Live connections, their sessions and the shares they connected to.

It gives ``pysmbd status`` its counts, enforces ``max_connections``, and tells a reload which
connections still use a share that was removed or changed.

Slots are kept for users with credentials: at the limit, a new connection takes the slot of the oldest
connection that has no session (never logged in, or logged off), which is closed; only when every slot holds
a session is the new connection refused. So 2,000 connections that never log in cannot lock out a user who
can (they once held every slot for the whole idle timeout).

``max_connections_per_address`` caps what one client address may hold, by the same rule among that address's
own connections: its newest connection evicts its oldest one without a session, so one address can neither fill
the server nor evict other addresses' connections until the server as a whole is full. Loopback is not exempt:
a local process is as able to flood as a remote one.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from pysmbd.server import eventlog
from pysmbd.server.admission import RateLimitedLog, peer_host

ListenerKey = Tuple[str, str, int]  # (transport, address, port), as pysmbd.config.ListenerConfig.key


class ConnectionRegistry:
    """Tracks open connections (any object with ``close()``) and the sessions established on each."""

    def __init__(
        self,
        max_connections: int,
        on_change: Callable[[], None] = lambda: None,
        *,
        max_connections_per_address: int = 0,
        connection_log: Optional[RateLimitedLog] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_connections = max_connections
        self.max_connections_per_address = max_connections_per_address
        """0: no cap per address."""
        self.connection_log = connection_log
        """Where eviction lines go (rate-limited per address); None logs each one."""
        self._clock = clock
        self._on_change = on_change
        # Tuples, not sets: a connection has a session or two and a share or two, and an empty set is 216 bytes.
        self._sessions: Dict[object, Tuple[int, ...]] = {}
        self._shares: Dict[object, Tuple[str, ...]] = {}
        self._where: Dict[object, Tuple[Optional[ListenerKey], str]] = {}
        self._by_host: Dict[str, Dict[object, None]] = {}  # insertion-ordered: oldest first
        self.elsewhere: Callable[[], int] = lambda: 0
        """Connections other worker processes of the server hold (``workers.ConnectionCounts``); they count
        against ``max_connections`` too."""
        self.elsewhere_from: Callable[[str], int] = lambda host: 0
        """The same for one client address, against ``max_connections_per_address``."""
        self.host_changed: Callable[[str, int], None] = lambda host, delta: None
        """Told of every connection admitted (+1) or gone (-1) from an address, for the other workers."""

    @property
    def connections(self) -> int:
        return len(self._sessions)

    @property
    def sessions(self) -> int:
        return sum(len(ids) for ids in self._sessions.values())

    def try_add(self, connection: object, listener: Optional[ListenerKey] = None, peer: str = "") -> bool:
        """``admit``, answering only whether the connection got a slot."""
        return self.admit(connection, listener, peer) is None

    def admit(self, connection: object, listener: Optional[ListenerKey] = None, peer: str = "") -> Optional[str]:
        """Admit a new connection from ``peer`` (``host:port``), or say why not.

        At the per-address cap, room is made by closing that address's oldest connection without a session; at
        ``max_connections``, the server's oldest one without a session. Returns None when admitted, else the
        reason for the refusal (every slot in question holds a session). ``listener`` is the one that accepted it.
        """
        host = peer_host(peer)
        cap = self.max_connections_per_address
        while cap and len(self._by_host.get(host, ())) + self.elsewhere_from(host) >= cap:
            if not self._evict(self._oldest_without_session(self._by_host[host]), host, "max_connections_per_address"):
                return f"max_connections_per_address ({cap}) reached for {host}, every one with a session"
        while len(self._sessions) + self.elsewhere() >= self.max_connections:
            if not self._evict(self._oldest_without_session(self._sessions), host, "max_connections"):
                return f"max_connections ({self.max_connections}) reached, every one with a session"
        self._sessions[connection] = ()
        self._shares[connection] = ()
        self._where[connection] = (listener, peer)
        self._by_host.setdefault(host, {})[connection] = None
        self.host_changed(host, 1)
        self._on_change()
        return None

    def _oldest_without_session(self, connections: Iterable[object]) -> Optional[object]:
        return next((connection for connection in connections if not self._sessions.get(connection)), None)

    def _evict(self, idle: Optional[object], newcomer_host: str, limit: str) -> bool:
        """Close ``idle`` to make room (False when there is none to close)."""
        if idle is None:
            return False
        victim_host = peer_host(self._where.get(idle, (None, ""))[1])
        fields = {
            "peer": self._where.get(idle, (None, ""))[1],
            "reason": f"no session yet; a new connection from {newcomer_host} needed its slot ({limit})",
        }
        if self.connection_log is None:
            eventlog.info("connection_evicted", **fields)
        else:
            self.connection_log.log("connection_evicted", victim_host, self._clock(), **fields)
        self.remove(idle)
        idle.close()  # type: ignore[attr-defined]
        return True

    def has_session(self, connection: object) -> bool:
        """Does the connection hold an established session now?"""
        return bool(self._sessions.get(connection))

    def remove(self, connection: object) -> None:
        self._shares.pop(connection, None)
        where = self._where.pop(connection, None)
        if where is not None:
            host = peer_host(where[1])
            same_host = self._by_host.get(host)
            if same_host is not None and connection in same_host:
                del same_host[connection]
                self.host_changed(host, -1)
                if not same_host:
                    del self._by_host[host]
        if self._sessions.pop(connection, None) is not None:
            self._on_change()

    def session_opened(self, connection: object, session_id: int) -> None:
        ids = self._sessions.get(connection)
        if ids is not None:
            if session_id not in ids:
                self._sessions[connection] = (*ids, session_id)
            self._on_change()

    def session_closed(self, connection: object, session_id: int) -> None:
        ids = self._sessions.get(connection)
        if ids is not None:
            self._sessions[connection] = tuple(known for known in ids if known != session_id)
            self._on_change()

    def tree_connected(self, connection: object, share: str) -> None:
        names = self._shares.get(connection)
        if names is not None and share.lower() not in names:
            self._shares[connection] = (*names, share.lower())

    def using_shares(self, shares: Iterable[str]) -> List[object]:
        """Connections that connected a tree to one of ``shares`` (names ignore case)."""
        wanted = {share.lower() for share in shares}
        return [connection for connection, used in self._shares.items() if not wanted.isdisjoint(used)]

    def all_connections(self) -> list:
        return list(self._sessions)

    def by_listener(self) -> List[Dict[str, Any]]:
        """Connections, sessions and client addresses per listener that accepted them, closed listeners included.

        A port migration drains a port by waiting until its row is gone (``pysmbd status --json``).
        """
        rows: Dict[ListenerKey, Dict[str, Any]] = {}
        for connection, (key, peer) in self._where.items():
            if key is None:
                continue
            row = rows.setdefault(
                key,
                {"transport": key[0], "address": key[1], "port": key[2], "connections": 0, "sessions": 0, "peers": []},
            )
            row["connections"] += 1
            row["sessions"] += len(self._sessions.get(connection, ()))
            row["peers"].append(peer)
        return [rows[key] for key in sorted(rows, key=lambda k: (k[0], k[2], k[1]))]
