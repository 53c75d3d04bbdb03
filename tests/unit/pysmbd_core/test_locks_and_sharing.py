"""Share modes and byte-range locks hold between clients (two connections on one server context), and neither a
LOCK request nor a READ can make one client cost the server more than its answer."""

from __future__ import annotations

import os
import random

from pysmbd.core.context import DEFAULT_MAX_FRAME_SIZE
from pysmbd.core.locks import FileLocks

from .wire_helpers import close_request, framed, lock_request, read_request, write_request

STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_RANGE_NOT_LOCKED = 0xC000007E
STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
STATUS_INVALID_LOCK_RANGE = 0xC00001A1
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_ACCESS_DENIED = 0xC0000022
SHARED, EXCLUSIVE, UNLOCK, FAIL_NOW = 0x1, 0x2, 0x4, 0x10
FULL = 0x001F01FF
READ_ONLY = 0x00120089
ATTRIBUTES_ONLY = 0x00100080  # FILE_READ_ATTRIBUTES | SYNCHRONIZE
DELETE = 0x00010000


# ----------------------------------------------------------------------------- share modes


def test_an_open_without_sharing_refuses_other_clients(clients):
    """A file held with ShareAccess 0 cannot be opened by another client to read, overwrite or delete it."""
    first, second = clients
    status, held = first.open("data.bin", disposition=1, access=FULL, share=0)
    assert status == 0
    for kwargs in (
        {"disposition": 1, "access": READ_ONLY},
        {"disposition": 5, "access": FULL},  # OVERWRITE_IF
        {"disposition": 1, "access": DELETE},
    ):
        assert second.open("data.bin", **kwargs)[0] == STATUS_SHARING_VIOLATION, kwargs
    assert second.open("data.bin", disposition=1, access=ATTRIBUTES_ONLY)[0] == 0  # as on Windows
    first.send(close_request, held)
    assert second.open("data.bin", disposition=1, access=FULL)[0] == 0


def test_share_read_lets_others_read_but_not_write(clients):
    first, second = clients
    assert first.open("data.bin", disposition=1, access=READ_ONLY, share=1)[0] == 0
    assert second.open("data.bin", disposition=1, access=READ_ONLY, share=7)[0] == 0
    assert second.open("data.bin", disposition=1, access=FULL, share=7)[0] == STATUS_SHARING_VIOLATION


def test_a_new_open_may_not_exclude_an_existing_writer(clients):
    """The check runs both ways: asking for ShareAccess READ only fails while another open writes."""
    first, second = clients
    assert first.open("data.bin", disposition=1, access=FULL, share=7)[0] == 0
    assert second.open("data.bin", disposition=1, access=READ_ONLY, share=1)[0] == STATUS_SHARING_VIOLATION
    assert (first.conn.context.shares["share"].path / "data.bin").stat().st_size == 1000


def test_a_fifo_in_the_share_is_refused_without_blocking(clients):
    first, _second = clients
    os.mkfifo(first.conn.context.shares["share"].path / "pipe")
    assert first.open("pipe", disposition=1, access=READ_ONLY)[0] == STATUS_ACCESS_DENIED


# ----------------------------------------------------------------------------- byte-range locks


def test_an_exclusive_lock_keeps_other_clients_out_of_its_range(clients):
    first, second = clients
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    theirs = second.open("data.bin", disposition=1, access=FULL)[1]
    assert first.send(lock_request, mine, (100, 50, EXCLUSIVE | FAIL_NOW)).status == 0
    assert second.send(write_request, theirs, b"x" * 10, 120).status == STATUS_FILE_LOCK_CONFLICT
    assert second.send(read_request, theirs, 10, 140).status == STATUS_FILE_LOCK_CONFLICT
    assert second.send(lock_request, theirs, (149, 1, SHARED | FAIL_NOW)).status == STATUS_LOCK_NOT_GRANTED
    assert second.send(write_request, theirs, b"y" * 10, 150).status == 0  # just after the range
    assert first.send(write_request, mine, b"z" * 10, 120).status == 0  # the owner writes
    first.send(close_request, mine)  # closing releases the lock
    assert second.send(write_request, theirs, b"x" * 10, 120).status == 0


def test_a_shared_lock_refuses_writes_even_by_its_owner(clients):
    first, second = clients
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    theirs = second.open("data.bin", disposition=1, access=FULL)[1]
    assert first.send(lock_request, mine, (0, 10, SHARED | FAIL_NOW)).status == 0
    assert second.send(lock_request, theirs, (5, 10, SHARED | FAIL_NOW)).status == 0
    assert second.send(read_request, theirs, 10, 0).status == 0
    assert first.send(write_request, mine, b"a", 3).status == STATUS_FILE_LOCK_CONFLICT
    assert second.send(lock_request, theirs, (0, 1, EXCLUSIVE | FAIL_NOW)).status == STATUS_LOCK_NOT_GRANTED
    assert second.send(lock_request, theirs, (5, 10, UNLOCK)).status == 0
    assert second.send(lock_request, theirs, (5, 10, UNLOCK)).status == STATUS_RANGE_NOT_LOCKED


def test_a_failed_lock_request_releases_what_it_took(clients):
    first, second = clients
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    theirs = second.open("data.bin", disposition=1, access=FULL)[1]
    assert second.send(lock_request, theirs, (500, 1, EXCLUSIVE | FAIL_NOW)).status == 0
    answer = first.send(lock_request, mine, (0, 10, EXCLUSIVE | FAIL_NOW), (500, 1, EXCLUSIVE | FAIL_NOW))
    assert answer.status == STATUS_LOCK_NOT_GRANTED
    assert second.send(write_request, theirs, b"b", 0).status == 0  # [0, 10) was given back


def test_lock_requests_are_checked_as_ms_smb2_says(clients):
    first, _second = clients
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    assert first.send(lock_request, mine, ((1 << 64) - 1, 2, EXCLUSIVE | FAIL_NOW)).status == STATUS_INVALID_LOCK_RANGE
    assert first.send(lock_request, mine, (0, 1, UNLOCK), (5, 1, SHARED | FAIL_NOW)).status == STATUS_RANGE_NOT_LOCKED
    assert first.send(lock_request, mine, (0, 1, SHARED), (5, 1, SHARED)).status == STATUS_INVALID_PARAMETER


def test_a_lock_request_with_65535_ranges_is_refused_whole(clients):
    """The request that froze every client for 79 s is refused before any range is looked at."""
    first, second = clients
    first.conn.context.max_frame_size = DEFAULT_MAX_FRAME_SIZE  # 65,535 ranges take 1.5 MB
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    theirs = second.open("data.bin", disposition=1, access=FULL)[1]
    ranges = [(i * 2, 1, EXCLUSIVE | FAIL_NOW) for i in range(65535)]
    assert first.send(lock_request, mine, *ranges).status == STATUS_INSUFFICIENT_RESOURCES
    assert second.send(write_request, theirs, b"c" * 100, 0).status == 0


def test_an_open_may_hold_only_so_many_locks(clients):
    first, _second = clients
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    for batch in range(4):
        ranges = [((batch * 1024 + i) * 2, 1, SHARED | FAIL_NOW) for i in range(1024)]
        assert first.send(lock_request, mine, *ranges).status == 0
    assert first.send(lock_request, mine, (1 << 40, 1, SHARED | FAIL_NOW)).status == STATUS_INSUFFICIENT_RESOURCES


def test_lock_index_answers_like_a_list_scan():
    """The interval index against the rules of MS-FSA 2.1.4.10 applied by brute force, on random locks."""
    rng = random.Random(14)
    locks = FileLocks()
    held: list[tuple[int, int, int, bool]] = []
    entries = []

    def overlap(offset, length, held_offset, held_length):
        """MS-FSA 2.1.4.10: a zero-length range at o meets a range holding o - 1 and o; two never meet."""
        if length == 0 and held_length == 0:
            return False
        if length == 0:
            return held_offset < offset < held_offset + held_length
        if held_length == 0:
            return offset < held_offset < offset + length
        return offset < held_offset + held_length and held_offset < offset + length

    def naive_lock_conflict(offset, length, owner, exclusive):
        return any(
            overlap(offset, length, h_off, h_len)
            and (exclusive or (h_excl and h_owner != owner))  # an owner stacks shared locks on its exclusive one
            for h_off, h_len, h_owner, h_excl in held
        )

    def naive_io_conflict(offset, length, owner, write):
        return length > 0 and any(
            overlap(offset, length, h_off, h_len) and ((h_excl and h_owner != owner) or (not h_excl and write))
            for h_off, h_len, h_owner, h_excl in held
        )

    for _step in range(3000):
        offset, length = rng.randrange(0, 5000), rng.choice((0, 1, 3, 20, 200))
        owner, exclusive = rng.randrange(4), rng.random() < 0.3
        conflict = naive_lock_conflict(offset, length, owner, exclusive)
        assert locks.lock_conflicts(offset, length, owner, exclusive) == conflict
        write = rng.random() < 0.5
        assert locks.io_conflicts(offset, length, owner, write) == naive_io_conflict(offset, length, owner, write)
        if not conflict:
            entries.append(locks.add(offset, length, owner, exclusive))
            held.append((offset, length, owner, exclusive))
        if entries and rng.random() < 0.2:
            index = rng.randrange(len(entries))
            locks.remove(entries.pop(index))
            held.pop(index)
    assert locks.count == len(held) > 500
    locks.release_owner(1)
    held = [h for h in held if h[2] != 1]
    assert locks.count == len(held)
    for offset in range(0, 5200, 7):
        assert locks.io_conflicts(offset, 30, 2, True) == naive_io_conflict(offset, 30, 2, True)


# ----------------------------------------------------------------------------- memory per READ


def test_large_reads_of_a_small_file_cost_what_the_file_holds(clients):
    """400 READs of 8 MiB from a 1,000-byte file, never read by the client, hold about 400 KB, not 3.2 GiB."""
    first, _second = clients
    mine = first.open("data.bin", disposition=1, access=READ_ONLY)[1]
    held = 0
    for index in range(400):
        first.message_id += 1
        message = read_request(first.message_id, first.session_id, first.tree_id, mine, 8 << 20, 0)
        first.conn.receive_data(framed(message), now=5.0)
        for chunk in first.conn.data_to_send():
            held += len(chunk.obj) if isinstance(chunk, memoryview) else len(chunk)
        assert index or held < 4096
    assert held < 2 * 1024 * 1024
