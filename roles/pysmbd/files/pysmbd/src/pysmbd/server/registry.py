"""Live connections, their sessions and the shares they connected to.

It gives ``pysmbd status`` its counts, enforces ``max_connections``, and tells a reload which
connections still use a share that was removed or changed.

Slots are kept for users with credentials: at the limit, a new connection takes the slot of the oldest
connection that has no session (never logged in, or logged off), which is closed; only when every slot holds
a session is the new connection refused. So 2,000 connections that never log in cannot lock out a user who
can (they once held every slot for the whole idle timeout).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from pysmbd.server import eventlog

ListenerKey = Tuple[str, str, int]  # (transport, address, port), as pysmbd.config.ListenerConfig.key


class ConnectionRegistry:
    """Tracks open connections (any object with ``close()``) and the sessions established on each."""

    def __init__(self, max_connections: int, on_change: Callable[[], None] = lambda: None) -> None:
        self.max_connections = max_connections
        self._on_change = on_change
        self._sessions: Dict[object, Set[int]] = {}
        self._shares: Dict[object, Set[str]] = {}
        self._where: Dict[object, Tuple[Optional[ListenerKey], str]] = {}

    @property
    def connections(self) -> int:
        return len(self._sessions)

    @property
    def sessions(self) -> int:
        return sum(len(ids) for ids in self._sessions.values())

    def try_add(self, connection: object, listener: Optional[ListenerKey] = None, peer: str = "") -> bool:
        """Admit a new connection, making room by closing the oldest one without a session if the server is at
        its limit; False when every slot holds a session. ``listener`` is the one that accepted it."""
        while len(self._sessions) >= self.max_connections:
            idle = self._oldest_without_session()
            if idle is None:
                return False
            eventlog.info("connection_evicted", reason="no session yet; a new connection needed its slot")
            self.remove(idle)
            idle.close()  # type: ignore[attr-defined]
        self._sessions[connection] = set()
        self._shares[connection] = set()
        self._where[connection] = (listener, peer)
        self._on_change()
        return True

    def _oldest_without_session(self) -> Optional[object]:
        return next((connection for connection, ids in self._sessions.items() if not ids), None)

    def remove(self, connection: object) -> None:
        self._shares.pop(connection, None)
        self._where.pop(connection, None)
        if self._sessions.pop(connection, None) is not None:
            self._on_change()

    def session_opened(self, connection: object, session_id: int) -> None:
        if connection in self._sessions:
            self._sessions[connection].add(session_id)
            self._on_change()

    def session_closed(self, connection: object, session_id: int) -> None:
        if connection in self._sessions:
            self._sessions[connection].discard(session_id)
            self._on_change()

    def tree_connected(self, connection: object, share: str) -> None:
        if connection in self._shares:
            self._shares[connection].add(share.lower())

    def using_shares(self, shares: Iterable[str]) -> List[object]:
        """Connections that connected a tree to one of ``shares`` (names ignore case)."""
        wanted = {share.lower() for share in shares}
        return [connection for connection, used in self._shares.items() if used & wanted]

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
