"""Oplocks, durable handles and LockSequence replay in the core (MS-SMB2 3.3.4.6, 3.3.5.9.6-.12, 3.3.5.14,
3.3.5.22.1), driven through two connections of one server with no sockets; time moves by hand (``schedule``)."""

from __future__ import annotations

import struct

from pysmbd.core.connection import SMBServerConnection
from tests.support.accounts import CORE_PASSWORD, CORE_USER

from .test_lock_waiters import cancel_request
from .wire_helpers import (
    Client,
    close_request,
    file_id_of,
    framed,
    header,
    lock_request,
    login,
    responses,
    tree_connect_request,
    write_request,
)

BATCH, EXCLUSIVE, LEVEL_II, NONE = 0x09, 0x08, 0x01, 0x00
STATUS_PENDING = 0x00000103
STATUS_SUCCESS = 0
STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_RANGE_NOT_LOCKED = 0xC000007E
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_INVALID_OPLOCK_PROTOCOL = 0xC00000E3
STATUS_USER_SESSION_DELETED = 0xC0000203
STATUS_CANCELLED = 0xC0000120
EXCLUSIVE_LOCK, UNLOCK, FAIL_NOW = 0x2, 0x4, 0x10
OPLOCK_BREAK = 0x12
FULL = 0x001F01FF
READ_ATTRIBUTES = 0x80


def context_blob(entries: list[tuple[bytes, bytes]]) -> bytes:
    """SMB2_CREATE_CONTEXT entries (MS-SMB2 2.2.13.2), each 8-aligned and chained by Next."""
    out = b""
    for index, (name, data) in enumerate(entries):
        entry = struct.pack("<IHHHHI", 0, 16, len(name), 0, 24, len(data)) + name + bytes(4) + data
        if index + 1 < len(entries):
            entry += bytes((8 - len(entry) % 8) % 8)
            entry = struct.pack("<I", len(entry)) + entry[4:]
        out += entry
    return out


def create_with(
    message_id: int,
    session_id: int,
    tree_id: int,
    name: str,
    *,
    oplock: int = NONE,
    contexts: list[tuple[bytes, bytes]] = (),
    access: int = FULL,
    share: int = 7,
    disposition: int = 3,
) -> bytes:
    encoded = name.encode("utf-16-le")
    blob = context_blob(list(contexts))
    name_field = encoded + bytes((8 - len(encoded) % 8) % 8) if blob else (encoded or b"\x00")
    ctx_offset = 120 + len(name_field) if blob else 0
    body = struct.pack(
        "<HBBIQQIIIIIHHII",
        57,
        0,
        oplock,
        2,
        0,
        0,
        access,
        0x80,
        share,
        disposition,
        0,
        120,
        len(encoded),
        ctx_offset,
        len(blob),
    )
    return header(5, message_id, session_id=session_id, tree_id=tree_id) + body + name_field + blob


def oplock_of(answer) -> int:
    return answer.body[2]


def contexts_of(answer) -> bytes:
    offset, length = struct.unpack_from("<II", answer.body, 80)
    return answer.raw[offset : offset + length] if length else b""


def ack_request(message_id: int, session_id: int, tree_id: int, file_id: bytes, level: int = NONE) -> bytes:
    return header(OPLOCK_BREAK, message_id, session_id=session_id, tree_id=tree_id) + struct.pack(
        "<HBBI16s", 24, level, 0, 0, file_id
    )


def send_all(client, build, *args, **kwargs) -> list:
    """Send one request; every message the core produced for this connection (interim answers included)."""
    client.message_id += 1
    message = build(client.message_id, client.session_id, client.tree_id, *args, **kwargs)
    client.conn.receive_data(framed(message), now=5.0)
    return responses(client.conn)


class Clock:
    """``ServerContext.schedule`` with time moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, object]] = []

    def __call__(self, delay: float, callback) -> None:
        self.timers.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [timer for timer in self.timers if timer[0] <= self.now]
        self.timers = [timer for timer in self.timers if timer[0] > self.now]
        for _when, callback in due:
            callback()


def durable_open(client, name: str = "data.bin", *, v2: bool = False):
    if v2:
        request = (b"DH2Q", struct.pack("<II8s16s", 0, 0, bytes(8), b"G" * 16))
    else:
        request = (b"DHnQ", bytes(16))
    (answer,) = send_all(client, create_with, name, oplock=BATCH, contexts=[request], share=0)
    assert answer.status == STATUS_SUCCESS, hex(answer.status)
    return answer


# ----------------------------------------------------------------- oplocks


def test_the_only_open_gets_the_batch_oplock_it_asks_and_a_second_open_gets_none(clients):
    first, second = clients
    (mine,) = send_all(first, create_with, "data.bin", oplock=BATCH)
    assert oplock_of(mine) == BATCH
    first.send(close_request, file_id_of(mine))
    (again,) = send_all(first, create_with, "data.bin", oplock=EXCLUSIVE)
    assert oplock_of(again) == EXCLUSIVE
    (stat_open,) = send_all(second, create_with, "data.bin", oplock=BATCH, access=READ_ATTRIBUTES)
    assert stat_open.status == STATUS_SUCCESS and oplock_of(stat_open) == NONE  # attribute opens break nothing
    assert not responses(first.conn)


def test_level_ii_is_shared_broken_by_a_write_and_oplocks_can_be_turned_off(clients, context):
    first, second = clients
    (mine,) = send_all(first, create_with, "data.bin", oplock=LEVEL_II)
    (theirs,) = send_all(second, create_with, "data.bin", oplock=BATCH)
    assert (oplock_of(mine), oplock_of(theirs)) == (LEVEL_II, LEVEL_II)  # a second open shares LEVEL_II
    answers = {answer.command: answer for answer in send_all(first, write_request, file_id_of(mine), b"new")}
    assert answers[0x09].status == STATUS_SUCCESS
    assert answers[OPLOCK_BREAK].body[2] == NONE  # the writer's own cache is stale too
    (notification,) = responses(second.conn)
    assert notification.body[8:24] == file_id_of(theirs)
    (unexpected,) = send_all(second, ack_request, file_id_of(theirs))  # a break to NONE wants no acknowledgment
    assert unexpected.status == STATUS_INVALID_OPLOCK_PROTOCOL
    first.send(close_request, file_id_of(mine))
    second.send(close_request, file_id_of(theirs))
    context.oplocks = False
    (answer,) = send_all(first, create_with, "data.bin", oplock=BATCH)
    assert answer.status == STATUS_SUCCESS and oplock_of(answer) == NONE


def test_a_second_open_breaks_the_batch_oplock_and_waits_for_the_acknowledgment(clients):
    first, second = clients
    (mine,) = send_all(first, create_with, "data.bin", oplock=BATCH)
    second_woken: list = []
    second.conn.on_output = lambda: second_woken.append(True)
    (interim,) = send_all(second, create_with, "data.bin", oplock=BATCH)
    assert interim.status == STATUS_PENDING
    (notification,) = responses(first.conn)
    assert notification.command == OPLOCK_BREAK and notification.message_id == 0xFFFFFFFFFFFFFFFF
    assert notification.session_id == 0 and notification.body[2] == LEVEL_II
    assert notification.body[8:24] == file_id_of(mine)
    (ack,) = send_all(first, ack_request, file_id_of(mine), LEVEL_II)
    assert ack.status == STATUS_SUCCESS and ack.body[2] == LEVEL_II
    (final,) = responses(second.conn)
    assert second_woken and final.status == STATUS_SUCCESS and oplock_of(final) == LEVEL_II
    assert struct.unpack_from("<Q", final.raw, 32)[0] == struct.unpack_from("<Q", interim.raw, 32)[0]
    (late,) = send_all(first, ack_request, file_id_of(mine))  # nothing left to acknowledge
    assert late.status == STATUS_INVALID_OPLOCK_PROTOCOL


def test_a_create_waiting_for_a_break_can_be_cancelled(clients):
    first, second = clients
    (mine,) = send_all(first, create_with, "data.bin", oplock=BATCH)
    (interim,) = send_all(second, create_with, "data.bin")
    async_id = struct.unpack_from("<Q", interim.raw, 32)[0]
    second.message_id += 1
    second.conn.receive_data(framed(cancel_request(second.message_id, second.session_id, async_id)), now=5.0)
    (cancelled,) = responses(second.conn)
    assert cancelled.status == STATUS_CANCELLED
    responses(first.conn)
    assert send_all(first, ack_request, file_id_of(mine))[0].status == STATUS_SUCCESS
    assert not responses(second.conn)  # nothing more for the cancelled CREATE


def test_a_holder_that_closes_instead_of_acknowledging_lets_the_waiting_open_through(clients):
    first, second = clients
    (mine,) = send_all(first, create_with, "data.bin", oplock=BATCH, share=0)
    (interim,) = send_all(second, create_with, "data.bin", share=0)
    assert interim.status == STATUS_PENDING
    responses(first.conn)
    assert first.send(close_request, file_id_of(mine)).status == STATUS_SUCCESS
    (final,) = responses(second.conn)
    assert final.status == STATUS_SUCCESS  # the batch holder closed: no sharing violation left


def test_a_holder_that_never_answers_is_passed_after_the_break_timeout(clients, context):
    clock = Clock()
    context.schedule = clock
    first, second = clients
    send_all(first, create_with, "data.bin", oplock=BATCH, share=0)
    (interim,) = send_all(second, create_with, "data.bin", share=7)
    assert interim.status == STATUS_PENDING
    clock.advance(context.oplock_break_timeout - 1)
    assert not responses(second.conn)
    clock.advance(1)
    (final,) = responses(second.conn)
    assert final.status == STATUS_SHARING_VIOLATION  # the holder still has the file, with ShareAccess 0


def test_an_exclusive_oplock_is_not_broken_by_an_open_refused_for_sharing(clients):
    first, second = clients
    send_all(first, create_with, "data.bin", oplock=EXCLUSIVE, share=0)
    (refused,) = send_all(second, create_with, "data.bin")
    assert refused.status == STATUS_SHARING_VIOLATION
    assert not responses(first.conn)  # no break was sent


# ----------------------------------------------------------------- durable handles


def test_a_durable_open_survives_its_connection_and_is_reclaimed_with_its_locks(clients, context):
    first, second = clients
    answer = durable_open(first)
    assert oplock_of(answer) == BATCH and b"DHnQ" in contexts_of(answer)
    file_id = file_id_of(answer)
    assert first.send(lock_request, file_id, (0, 10, EXCLUSIVE_LOCK | FAIL_NOW)).status == STATUS_SUCCESS
    opens_before = context.open_count
    first.conn.close()  # the TCP connection dropped
    assert context.open_count == opens_before  # still held: descriptor, lock, share mode
    (stat_open,) = send_all(second, create_with, "data.bin", access=READ_ATTRIBUTES)  # breaks nothing
    assert stat_open.status == STATUS_SUCCESS
    third = Client(context, CORE_USER, CORE_PASSWORD)
    (back,) = send_all(third, create_with, "ignored-name", contexts=[(b"DHnC", file_id)], disposition=0x1234)
    assert back.status == STATUS_SUCCESS and file_id_of(back) == file_id and oplock_of(back) == BATCH
    assert third.send(lock_request, file_id, (0, 10, UNLOCK)).status == STATUS_SUCCESS  # the lock came back too
    (twice,) = send_all(second, create_with, "x", contexts=[(b"DHnC", file_id)])
    assert twice.status == STATUS_OBJECT_NAME_NOT_FOUND  # it is attached again


def test_a_kept_durable_open_is_closed_after_its_timeout(clients, context):
    clock = Clock()
    context.schedule = clock
    context.durable_handle_timeout = 60
    first, second = clients
    file_id = file_id_of(durable_open(first))
    opens_before = context.open_count
    first.conn.close()
    clock.advance(59)
    assert context.open_count == opens_before
    clock.advance(1)
    assert context.open_count == opens_before - 1
    (gone,) = send_all(second, create_with, "x", contexts=[(b"DHnC", file_id)])
    assert gone.status == STATUS_OBJECT_NAME_NOT_FOUND
    (opened,) = send_all(second, create_with, "data.bin", share=0)
    assert opened.status == STATUS_SUCCESS


def test_an_open_that_would_break_a_kept_durable_open_closes_it(clients, context):
    first, second = clients
    file_id = file_id_of(durable_open(first))
    first.conn.close()
    (opened,) = send_all(second, create_with, "data.bin", share=0)
    assert opened.status == STATUS_SUCCESS  # nobody could acknowledge the break: the kept open was purged
    (gone,) = send_all(second, create_with, "x", contexts=[(b"DHnC", file_id)])
    assert gone.status == STATUS_OBJECT_NAME_NOT_FOUND


def test_kept_durable_opens_are_bounded_oldest_first(context):
    context.require_signing = False
    share = context.shares["share"].path
    context.kept_durable_opens.limit = 2
    ids = []
    for name in ("a.bin", "b.bin", "c.bin"):
        (share / name).write_bytes(b"x")
        client = Client(context, CORE_USER, CORE_PASSWORD)
        ids.append(file_id_of(durable_open(client, name)))
        client.conn.close()
    assert len(context.kept_durable_opens) == 2
    reclaimer = Client(context, CORE_USER, CORE_PASSWORD)
    statuses = [send_all(reclaimer, create_with, "x", contexts=[(b"DHnC", fid)])[0].status for fid in ids]
    assert statuses == [STATUS_OBJECT_NAME_NOT_FOUND, STATUS_SUCCESS, STATUS_SUCCESS]


def test_a_durable_v2_open_needs_its_create_guid_to_be_reclaimed(clients, context):
    first, second = clients
    answer = durable_open(first, v2=True)
    assert b"DH2Q" in contexts_of(answer)
    file_id = file_id_of(answer)
    first.conn.close()
    wrong = (b"DH2C", struct.pack("<16s16sI", file_id, b"H" * 16, 0))
    assert send_all(second, create_with, "x", contexts=[wrong])[0].status == STATUS_OBJECT_NAME_NOT_FOUND
    right = (b"DH2C", struct.pack("<16s16sI", file_id, b"G" * 16, 0))
    (back,) = send_all(second, create_with, "x", contexts=[right])
    assert back.status == STATUS_SUCCESS and oplock_of(back) == BATCH


def test_without_durable_handles_the_open_is_closed_with_its_connection(clients, context):
    context.durable_handles = False
    first, _second = clients
    answer = durable_open(first)
    assert contexts_of(answer) == b""
    opens_before = context.open_count
    first.conn.close()
    assert context.open_count == opens_before - 1


def test_a_login_naming_the_previous_session_ends_it_and_keeps_its_durable_opens(clients, context):
    first, _second = clients
    file_id = file_id_of(durable_open(first))
    comeback = SMBServerConnection(context)  # the client is back; the server still thinks its old connection alive
    _seen, session_id = login(comeback, CORE_USER, CORE_PASSWORD, previous_session_id=first.session_id)
    comeback.receive_data(framed(tree_connect_request(50, session_id, "\\\\srv\\share")), now=1.0)
    (tree,) = responses(comeback)
    (gone,) = send_all(first, create_with, "data.bin")  # the old connection stays, its session does not
    assert gone.status == STATUS_USER_SESSION_DELETED
    reconnect = create_with(60, session_id, tree.tree_id, "x", contexts=[(b"DHnC", file_id)])
    comeback.receive_data(framed(reconnect), now=1.0)
    (back,) = responses(comeback)
    assert back.status == STATUS_SUCCESS and file_id_of(back) == file_id


# ----------------------------------------------------------------- LockSequence replay


def lock_with_sequence(message_id, session_id, tree_id, file_id, sequence, offset, length, flags):
    body = struct.pack("<HHI16s", 48, 1, sequence, file_id) + struct.pack("<QQII", offset, length, flags, 0)
    return header(10, message_id, session_id=session_id, tree_id=tree_id) + body


def test_a_replayed_lock_on_a_durable_open_succeeds_without_being_done_again(clients):
    first, _second = clients
    file_id = file_id_of(durable_open(first))
    take = (file_id, 0x11, 100, 100, EXCLUSIVE_LOCK | FAIL_NOW)
    assert first.send(lock_with_sequence, *take).status == STATUS_SUCCESS
    assert first.send(lock_with_sequence, *take).status == STATUS_SUCCESS  # a replay: not a second lock
    assert first.send(lock_with_sequence, file_id, 0x12, 100, 100, EXCLUSIVE_LOCK | FAIL_NOW).status == (
        STATUS_LOCK_NOT_GRANTED
    )
    assert first.send(lock_with_sequence, file_id, 0x13, 100, 100, UNLOCK).status == STATUS_SUCCESS
    assert first.send(lock_with_sequence, file_id, 0x14, 100, 100, UNLOCK).status == STATUS_RANGE_NOT_LOCKED


def test_lock_sequences_are_ignored_on_an_open_that_is_not_durable(clients):
    first, _second = clients
    _status, file_id = first.open("data.bin", disposition=1, access=FULL)
    take = (file_id, 0x11, 100, 100, EXCLUSIVE_LOCK | FAIL_NOW)
    assert first.send(lock_with_sequence, *take).status == STATUS_SUCCESS
    assert first.send(lock_with_sequence, *take).status == STATUS_LOCK_NOT_GRANTED
