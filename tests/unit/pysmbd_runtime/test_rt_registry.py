"""Admission at max_connections: slots are kept for connections that logged in."""

from __future__ import annotations

from pysmbd.server.registry import ConnectionRegistry


class Connection:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_at_the_limit_the_oldest_connection_without_a_session_makes_room():
    registry = ConnectionRegistry(max_connections=3)
    user, idle_old, idle_new = Connection("user"), Connection("idle-old"), Connection("idle-new")
    for connection in (user, idle_old, idle_new):
        assert registry.try_add(connection)
    registry.session_opened(user, 7)
    newcomer = Connection("newcomer")
    assert registry.try_add(newcomer)
    assert (idle_old.closed, idle_new.closed, user.closed) == (True, False, False)
    assert registry.connections == 3 and registry.sessions == 1


def test_when_every_slot_holds_a_session_the_newcomer_is_refused():
    registry = ConnectionRegistry(max_connections=2)
    first, second = Connection("a"), Connection("b")
    for session_id, connection in enumerate((first, second)):
        registry.try_add(connection)
        registry.session_opened(connection, session_id)
    assert not registry.try_add(Connection("c"))
    assert not first.closed and not second.closed
