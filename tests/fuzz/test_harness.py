"""The fuzz harness must be able to fail: each property is shown to catch a core that breaks it."""

from __future__ import annotations

import time

import pytest

from pysmbd.core import connection
from tests.support.fuzz import smb2_wire as wire
from tests.support.fuzz.harness import HangError, PropertyViolation, wall_clock_guard


def test_the_wall_clock_guard_turns_a_hang_into_a_failure():
    with pytest.raises(HangError, match=r"spin did not return within 0\.2 s"):
        with wall_clock_guard(0.2, "spin"):
            while True:
                time.sleep(0.01)


def test_a_core_that_goes_silent_is_caught(new_target, monkeypatch):
    with new_target() as target:
        monkeypatch.setattr(target.conn, "_handle_frame", lambda *frame_and_time: None)
        with pytest.raises(PropertyViolation, match="neither a response nor ConnectionShouldClose"):
            target.feed_frame(wire.negotiate_request())


def test_an_exception_swallowed_by_the_core_is_caught(new_target, monkeypatch):
    def broken_read(conn, req):
        raise KeyError("a bug in a handler")

    with new_target() as target:
        session_id = target.login()
        tree_id = target.tree_connect(session_id)
        monkeypatch.setitem(connection.HANDLERS, wire.READ, broken_read)
        with pytest.raises(PropertyViolation, match="internal error"):
            target.feed_frame(wire.read_request(40, session_id, tree_id, bytes(16), 10))
