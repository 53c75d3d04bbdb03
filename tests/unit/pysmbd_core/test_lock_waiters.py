"""A LOCK that conflicts waits for its range (MS-SMB2 3.3.4.2, 3.3.5.14), across connections, and every way it
can end: the range freed (unlock, close, disconnect), SMB2 CANCEL, its own open closed, its connection gone."""

from __future__ import annotations

import struct

from tests.support.accounts import CORE_PASSWORD, CORE_USER

from .wire_helpers import Client, close_request, compound, framed, header, lock_request, responses

STATUS_PENDING = 0x00000103
STATUS_CANCELLED = 0xC0000120
STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_RANGE_NOT_LOCKED = 0xC000007E
SHARED, EXCLUSIVE, UNLOCK, FAIL_NOW = 0x1, 0x2, 0x4, 0x10
FLAG_ASYNC = 0x2
FULL = 0x001F01FF


def async_id_of(answer) -> int:
    return struct.unpack_from("<Q", answer.raw, 32)[0]


def send_raw(client, message: bytes) -> list:
    """Send one frame; every response the core produced (an interim one included)."""
    client.conn.receive_data(framed(message), now=5.0)
    return responses(client.conn)


def start_waiting(client, file_id: bytes, offset: int = 100, length: int = 10, flags: int = EXCLUSIVE):
    """Send a LOCK that must wait; returns its MessageId and interim response."""
    client.message_id += 1
    message_id = client.message_id
    (interim,) = send_raw(
        client, lock_request(message_id, client.session_id, client.tree_id, file_id, (offset, length, flags))
    )
    return message_id, interim


def cancel_request(message_id: int, session_id: int, async_id: int = 0) -> bytes:
    """SMB2 CANCEL (MS-SMB2 2.2.30), in the async form when ``async_id`` is given."""
    raw = bytearray(header(0x0C, message_id, session_id=session_id, flags=FLAG_ASYNC if async_id else 0))
    if async_id:
        raw[32:40] = struct.pack("<Q", async_id)
    return bytes(raw) + struct.pack("<HH", 4, 0)


def two_opens(clients):
    first, second = clients
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    theirs = second.open("data.bin", disposition=1, access=FULL)[1]
    assert first.send(lock_request, mine, (100, 10, EXCLUSIVE)).status == 0
    return first, second, mine, theirs


def test_a_conflicting_lock_is_answered_pending_and_granted_when_the_holder_unlocks(clients):
    first, second, mine, theirs = two_opens(clients)
    woken = []
    second.conn.on_output = lambda: woken.append(True)
    message_id, interim = start_waiting(second, theirs, 105, 1)
    assert interim.status == STATUS_PENDING and interim.flags & FLAG_ASYNC and async_id_of(interim)
    assert interim.message_id == message_id and interim.credits >= 1
    assert interim.signature == bytes(16)  # an interim response is not signed (MS-SMB2 3.3.4.2)

    assert first.send(lock_request, mine, (100, 10, UNLOCK)).status == 0
    assert woken == [True]  # the adapter is told: the answer did not come from second's own request
    (final,) = responses(second.conn)
    assert (final.status, final.message_id, async_id_of(final)) == (0, message_id, async_id_of(interim))
    assert final.flags & FLAG_ASYNC and final.credits == 0  # the interim response granted them (3.3.4.3)
    assert first.send(lock_request, mine, (105, 1, EXCLUSIVE | FAIL_NOW)).status == STATUS_LOCK_NOT_GRANTED


def test_cancel_ends_the_wait_by_async_id_or_by_message_id(clients):
    first, second, mine, theirs = two_opens(clients)
    _message_id, interim = start_waiting(second, theirs)
    second.message_id += 1
    (cancelled,) = send_raw(second, cancel_request(second.message_id, second.session_id, async_id_of(interim)))
    assert cancelled.status == STATUS_CANCELLED and async_id_of(cancelled) == async_id_of(interim)

    message_id, _interim = start_waiting(second, theirs)
    (cancelled,) = send_raw(second, cancel_request(message_id, second.session_id))  # before the interim was seen
    assert cancelled.status == STATUS_CANCELLED and cancelled.message_id == message_id

    assert first.send(lock_request, mine, (100, 10, UNLOCK)).status == 0
    assert responses(second.conn) == []  # nothing was waiting any more
    assert first.send(lock_request, mine, (100, 10, EXCLUSIVE | FAIL_NOW)).status == 0


def test_closing_the_waiting_open_ends_the_wait_with_range_not_locked(clients):
    _first, second, _mine, theirs = two_opens(clients)
    message_id, _interim = start_waiting(second, theirs)
    second.message_id += 1
    answers = send_raw(second, close_request(second.message_id, second.session_id, second.tree_id, theirs))
    assert [(answer.message_id, answer.status) for answer in answers] == [
        (message_id, STATUS_RANGE_NOT_LOCKED),
        (second.message_id, 0),
    ]


def test_the_holder_closing_or_dropping_its_connection_grants_the_waiter(clients):
    first, second, _mine, theirs = two_opens(clients)
    message_id, _interim = start_waiting(second, theirs)
    first.conn.close()  # the holder's client went away
    (final,) = responses(second.conn)
    assert (final.message_id, final.status) == (message_id, 0)


def test_a_waiter_whose_connection_dropped_is_forgotten_and_the_next_one_served(clients, context):
    first, second, mine, theirs = two_opens(clients)
    third = Client(context, CORE_USER, CORE_PASSWORD)
    other = third.open("data.bin", disposition=1, access=FULL)[1]
    start_waiting(second, theirs)
    message_id, _interim = start_waiting(third, other)
    second.conn.close()
    assert first.send(lock_request, mine, (100, 10, UNLOCK)).status == 0
    (final,) = responses(third.conn)
    assert (final.message_id, final.status) == (message_id, 0)


def test_waiters_are_served_in_arrival_order(clients, context):
    first, second, mine, theirs = two_opens(clients)
    third = Client(context, CORE_USER, CORE_PASSWORD)
    other = third.open("data.bin", disposition=1, access=FULL)[1]
    early, _interim = start_waiting(second, theirs)
    late, _interim = start_waiting(third, other)
    assert first.send(lock_request, mine, (100, 10, UNLOCK)).status == 0
    assert [(answer.message_id, answer.status) for answer in responses(second.conn)] == [(early, 0)]
    assert responses(third.conn) == []  # still waiting: the earlier waiter took the range
    assert second.send(lock_request, theirs, (100, 10, UNLOCK)).status == 0
    assert [(answer.message_id, answer.status) for answer in responses(third.conn)] == [(late, 0)]


def test_a_lock_in_a_compound_does_not_wait(clients):
    _first, second, _mine, theirs = two_opens(clients)
    second.message_id += 2
    ids = (second.message_id - 1, second.message_id)
    frame = compound(
        lock_request(ids[0], second.session_id, second.tree_id, theirs, (100, 10, EXCLUSIVE)),
        lock_request(ids[1], second.session_id, second.tree_id, theirs, (0, 1, EXCLUSIVE)),
    )
    answers = send_raw(second, frame)
    assert [answer.status for answer in answers] == [STATUS_LOCK_NOT_GRANTED, 0]
