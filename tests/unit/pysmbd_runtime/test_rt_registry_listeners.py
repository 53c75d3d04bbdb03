"""Connections per listener in pysmbd's status: what the migrate role's drain waits on."""

from __future__ import annotations

from pysmbd.server.registry import ConnectionRegistry


def test_connections_sessions_and_peers_are_counted_per_listener_until_they_leave():
    registry = ConnectionRegistry(max_connections=10)
    old, new = ("tcp", "127.0.0.1", 445), ("tcp", "127.0.0.1", 4445)
    first, second, third = object(), object(), object()
    assert registry.try_add(first, old, "10.0.0.1:50000")
    assert registry.try_add(second, old, "10.0.0.2:50001")
    assert registry.try_add(third, new, "10.0.0.1:50002")
    registry.session_opened(first, 1)
    registry.session_opened(first, 2)

    rows = {row["port"]: row for row in registry.by_listener()}
    assert rows[445]["connections"] == 2 and rows[445]["sessions"] == 2
    assert sorted(rows[445]["peers"]) == ["10.0.0.1:50000", "10.0.0.2:50001"]
    assert rows[4445]["connections"] == 1 and rows[4445]["sessions"] == 0

    registry.remove(first)
    registry.remove(second)
    assert [row["port"] for row in registry.by_listener()] == [4445]
