"""A login delayed after repeated failures waits on the adapter's timer, not on the event loop (issue 14)."""

from __future__ import annotations

import spnego

from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.events import LoginDelayed, SessionEstablished
from tests.support.accounts import CORE_PASSWORD as PASSWORD
from tests.support.accounts import CORE_USER as USER

from .wire_helpers import events, framed, login, negotiate_request, responses, session_setup_request

STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016


class Timers:
    """The adapter's ``call_later``, fired by hand."""

    def __init__(self) -> None:
        self.waiting: list = []

    def call_later(self, seconds: float, callback) -> None:
        self.waiting.append((seconds, callback))

    def fire(self) -> None:
        _seconds, callback = self.waiting.pop(0)
        callback()


def delayed_connection(context, seconds: float) -> tuple[SMBServerConnection, Timers]:
    conn = SMBServerConnection(context, peer="10.0.0.66:4000")
    timers = Timers()
    conn.login_delay = lambda: seconds
    conn.call_later = timers.call_later
    conn.receive_data(framed(negotiate_request()), now=1.0)
    responses(conn)
    return conn, timers


def test_a_delayed_login_is_answered_only_when_its_timer_fires_and_others_log_in_meanwhile(context):
    guesser, timers = delayed_connection(context, 4.0)
    token = spnego.client(USER, "wrong", protocol="negotiate").step()
    guesser.receive_data(framed(session_setup_request(1, 0, token)), now=1.0)
    assert responses(guesser) == []
    assert events(guesser) == [LoginDelayed(4.0)]
    assert [seconds for seconds, _callback in timers.waiting] == [4.0]

    other = SMBServerConnection(context, peer="10.0.0.7:4000")  # another address: its login_delay is unset
    seen, session_id = login(other, USER, PASSWORD)
    assert seen[-1].status == 0
    assert events(other) == [SessionEstablished(session_id, USER)]
    assert responses(guesser) == []  # still waiting

    timers.fire()
    (answer,) = responses(guesser)
    assert answer.status == STATUS_MORE_PROCESSING_REQUIRED and answer.message_id == 1


def test_pipelined_logins_each_wait_their_own_delay(context):
    guesser, timers = delayed_connection(context, 2.0)
    for message_id in (1, 2):
        token = spnego.client(USER, "wrong", protocol="negotiate").step()
        guesser.receive_data(framed(session_setup_request(message_id, 0, token)), now=1.0)
    assert responses(guesser) == [] and len(timers.waiting) == 1
    timers.fire()
    assert [answer.message_id for answer in responses(guesser)] == [1]
    assert len(timers.waiting) == 1  # the second waits again, rather than riding on the first one's delay
    timers.fire()
    assert [answer.message_id for answer in responses(guesser)] == [2]


def test_the_second_leg_of_a_login_and_other_requests_are_not_delayed(context):
    guesser, timers = delayed_connection(context, 0.0)
    client = spnego.client(USER, PASSWORD, protocol="negotiate")
    guesser.receive_data(framed(session_setup_request(1, 0, client.step())), now=1.0)
    (challenge,) = responses(guesser)
    guesser.login_delay = lambda: 8.0  # failures arrived meanwhile from elsewhere at this address
    offset, length = challenge.body[4] | challenge.body[5] << 8, challenge.body[6] | challenge.body[7] << 8
    token = client.step(challenge.raw[offset : offset + length])
    guesser.receive_data(framed(session_setup_request(2, challenge.session_id, token)), now=1.0)
    (done,) = responses(guesser)
    assert done.status == 0 and timers.waiting == []
