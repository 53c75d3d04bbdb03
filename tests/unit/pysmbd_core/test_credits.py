"""The command sequence window (MS-SMB2 3.3.1.1, 3.3.5.2.3): which MessageIds a client may use."""

from __future__ import annotations

import os

from pysmbd.core.connection import MAX_CREDITS, SMBServerConnection
from pysmbd.core.credits import MAX_SEQUENCE, SequenceWindow
from pysmbd.core.events import ConnectionShouldClose
from tests.support.accounts import CORE_PASSWORD as PASSWORD
from tests.support.accounts import CORE_USER as USER

from .wire_helpers import (
    compound,
    create_request,
    events,
    file_id_of,
    framed,
    header,
    negotiate_request,
    open_tree,
    responses,
    smb1_negotiate,
    write_request,
)

ECHO, CANCEL = 0x0D, 0x0C
ECHO_BODY = b"\x04\x00\x00\x00"


def echo(message_id: int, **fields) -> bytes:
    return header(ECHO, message_id, **fields) + ECHO_BODY


def negotiated(context, credits: int = 32) -> SMBServerConnection:
    """A connection after NEGOTIATE (MessageId 0) that asked for ``credits``: the window is [1, 1 + credits)."""
    conn = SMBServerConnection(context)
    request = bytearray(negotiate_request())
    request[14:16] = credits.to_bytes(2, "little")
    conn.receive_data(framed(bytes(request)), now=1.0)
    (answer,) = responses(conn)
    assert answer.status == 0 and answer.credits == credits
    return conn


def closed_because(conn: SMBServerConnection) -> str:
    (event,) = [e for e in events(conn) if isinstance(e, ConnectionShouldClose)]
    return event.reason


# ----------------------------------------------------------------- the window itself


def test_a_new_window_holds_only_zero():
    window = SequenceWindow(MAX_CREDITS)
    assert not window.consume(1)
    assert window.consume(0)
    assert not window.consume(0)  # used: never again
    assert window.available == 0


def test_grants_extend_the_window_and_numbers_may_arrive_out_of_order():
    window = SequenceWindow(MAX_CREDITS)
    assert window.consume(0)
    assert window.grant(3) == 3  # { 1, 2, 3 }
    assert window.consume(3) and window.consume(1)
    assert (window.low, window.available) == (2, 1)
    assert not window.consume(3) and not window.consume(1) and not window.consume(4)
    assert window.consume(2)
    assert (window.low, window.high, window.available) == (4, 4, 0)


def test_a_charge_uses_the_whole_range_or_nothing():
    window = SequenceWindow(MAX_CREDITS)
    window.consume(0)
    window.grant(8)  # { 1 .. 8 }
    assert not window.consume(5, 5)  # 5 .. 9: 9 was never granted, and nothing is used
    assert window.consume(5, 4)  # 5 .. 8
    assert not window.consume(4, 2)  # 5 is gone
    assert window.consume(1, 0)  # a CreditCharge of 0 uses one number
    assert window.available == 3


def test_the_window_never_spans_more_than_its_limit():
    window = SequenceWindow(8)
    window.consume(0)
    assert window.grant(100) == 8  # { 1 .. 8 }
    window.consume(2)  # 1 is left behind: the window cannot slide past it
    assert window.grant(5) == 0
    assert window.consume(1)  # now it slides to 3
    assert window.grant(5) == 2
    assert window.high - window.low <= 8 and window.available == 8


def test_grants_stop_short_of_the_reserved_last_message_id():
    window = SequenceWindow(MAX_CREDITS)
    window.low = window.high = MAX_SEQUENCE - 2
    assert window.grant(10) == 2
    assert window.consume(MAX_SEQUENCE - 2, 2)
    assert not window.consume(MAX_SEQUENCE)
    assert window.grant(1) == 0


# ----------------------------------------------------------------- the connection


def test_negotiate_uses_message_id_zero_and_grants_the_credits_it_asks_for(context):
    conn = negotiated(context, credits=4)  # { 1 .. 4 }
    conn.receive_data(framed(echo(4)) + framed(echo(1)), now=1.0)
    assert [(r.message_id, r.status) for r in responses(conn)] == [(4, 0), (1, 0)]
    assert events(conn) == []


def test_a_first_request_that_is_not_message_id_zero_closes_the_connection(context):
    conn = SMBServerConnection(context)
    conn.receive_data(framed(header(0, 1) + negotiate_request()[64:]), now=1.0)
    assert responses(conn) == []
    assert "MessageId 1" in closed_because(conn)


def test_a_reused_message_id_closes_the_connection(context):
    conn = negotiated(context)
    conn.receive_data(framed(echo(1)), now=1.0)
    assert [r.status for r in responses(conn)] == [0]
    conn.receive_data(framed(echo(1)) + framed(echo(2)), now=1.0)
    assert responses(conn) == []  # nothing after the close either
    reason = closed_because(conn)
    assert "MessageId 1 " in reason and "used before" in reason


def test_a_message_id_beyond_the_granted_credits_closes_the_connection(context):
    conn = negotiated(context, credits=4)  # { 1 .. 4 }
    conn.receive_data(framed(echo(5)), now=1.0)
    assert responses(conn) == []
    assert "MessageId 5 " in closed_because(conn)


def test_a_multi_credit_request_uses_its_whole_range(context):
    conn = negotiated(context, credits=8)  # 3.1.1: SupportsMultiCredit
    conn.receive_data(framed(echo(1, credit_charge=4)), now=1.0)  # 1 .. 4
    assert [r.status for r in responses(conn)] == [0]
    conn.receive_data(framed(echo(5)), now=1.0)
    assert [r.status for r in responses(conn)] == [0]
    conn.receive_data(framed(echo(3)), now=1.0)  # inside the first request's range
    assert responses(conn) == []
    assert "CreditCharge 1" in closed_because(conn)


def test_a_charge_beyond_the_window_closes_the_connection(context):
    conn = negotiated(context, credits=4)  # { 1 .. 4 }
    conn.receive_data(framed(echo(1, credit_charge=5)), now=1.0)
    assert responses(conn) == []
    assert "CreditCharge 5" in closed_because(conn)


def test_dialect_202_charges_one_number_whatever_credit_charge_says(context):
    conn = SMBServerConnection(context)
    conn.receive_data(framed(negotiate_request((0x0202,))), now=1.0)
    responses(conn)
    conn.receive_data(framed(echo(1, credit_charge=4)) + framed(echo(2)), now=1.0)
    assert [r.status for r in responses(conn)] == [0, 0]
    assert events(conn) == []


def test_cancel_uses_no_sequence_number(context):
    conn = negotiated(context, credits=2)  # { 1, 2 }
    conn.receive_data(framed(echo(1)), now=1.0)
    responses(conn)
    # A CANCEL names what it cancels (here one already answered, or one never sent): it needs no credit.
    conn.receive_data(framed(header(CANCEL, 1) + ECHO_BODY) + framed(header(CANCEL, 9000) + ECHO_BODY), now=1.0)
    assert responses(conn) == [] and events(conn) == []
    conn.receive_data(framed(echo(2)), now=1.0)
    assert [r.status for r in responses(conn)] == [0]


def test_a_compound_uses_one_number_per_member(context):
    conn = negotiated(context, credits=3)  # { 1, 2, 3 }
    conn.receive_data(framed(compound(echo(1), echo(2), header(CANCEL, 1) + ECHO_BODY, echo(3))), now=1.0)
    assert [(r.message_id, r.status) for r in responses(conn)] == [(1, 0), (2, 0), (3, 0)]
    assert events(conn) == []
    conn.receive_data(framed(compound(echo(4), echo(4))), now=1.0)  # a member reusing the one before it
    assert responses(conn) == []
    assert "MessageId 4 " in closed_because(conn)


def test_smb1_negotiate_counts_as_message_id_zero(context):
    conn = SMBServerConnection(context)
    conn.receive_data(framed(smb1_negotiate(b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???")), now=1.0)
    (answer,) = responses(conn)
    assert answer.credits == 1
    conn.receive_data(framed(negotiate_request()), now=1.0)  # MessageId 0 again
    assert responses(conn) == []
    assert "MessageId 0 " in closed_because(conn)


def test_a_deferred_response_grants_its_credits_when_it_is_sent(context):
    context.require_signing = False  # the requests are built by hand, unsigned
    conn = SMBServerConnection(context)
    session_id, tree_id = open_tree(conn, USER, PASSWORD)
    conn.receive_data(framed(create_request(51, session_id, tree_id, "big.bin", disposition=5)), now=2.0)
    (created,) = responses(conn)
    jobs: list = []
    conn.io_executor = lambda work, done: jobs.append((work, done))
    data = os.urandom(256 * 1024)
    write = write_request(52, session_id, tree_id, file_id_of(created), data)  # MessageIds 52 to 55
    conn.receive_data(framed(write), now=3.0)
    conn.receive_data(framed(echo(56, session_id=session_id)), now=3.0)  # held behind the write, in its window
    assert responses(conn) == [] and len(jobs) == 1
    work, done = jobs.pop()
    done(work(), None)
    answers = responses(conn)
    assert [(a.message_id, a.status, a.credits) for a in answers] == [(52, 0, 32), (56, 0, 32)]
    assert events(conn) == []


def test_a_second_smb1_negotiate_closes_the_connection(context):
    conn = SMBServerConnection(context)
    request = framed(smb1_negotiate(b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???"))
    conn.receive_data(request, now=1.0)
    assert len(responses(conn)) == 1
    conn.receive_data(request, now=1.0)
    assert responses(conn) == []
    assert "SMB1 NEGOTIATE" in closed_because(conn)
