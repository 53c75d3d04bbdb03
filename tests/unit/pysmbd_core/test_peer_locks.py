"""Share modes and byte-range locks across worker processes (``core/peer_locks.py``).

Two ``PeerLocks`` of one directory stand for two workers: each has its own descriptors, and open-file-description
locks of different descriptors conflict in the kernel as locks of different processes do, so one process is
enough to test the rules. A real two-worker server is tested in tests/integration/pysmbd_runtime.
"""

from __future__ import annotations

import os

import pytest

from pysmbd.core.locks import FileLocks, PeerConflict
from pysmbd.core.peer_locks import PeerLocks, prepare_directory

READ, WRITE, DELETE = 0x1, 0x2, 0x10000
SHARE_READ, SHARE_WRITE, SHARE_DELETE = 0x1, 0x2, 0x4
KEY = (os.stat("/").st_dev, 4242)


@pytest.fixture()
def workers(tmp_path):
    prepare_directory(tmp_path, 2)
    first, second = PeerLocks(tmp_path, 0, 2), PeerLocks(tmp_path, 1, 2)
    yield first, second
    first.close()
    second.close()


def held_files(peers: PeerLocks) -> FileLocks:
    locks = FileLocks()
    locks.mirror = peers.ranges(KEY)
    return locks


def test_an_open_that_shares_nothing_refuses_a_reader_of_another_worker(workers):
    first, second = workers
    first.check_mode(KEY, (READ, 0))
    first.sync_modes(KEY, [(READ, 0)])
    first.release_mutexes()
    with pytest.raises(PeerConflict):
        second.check_mode(KEY, (READ, SHARE_READ | SHARE_WRITE | SHARE_DELETE))
    second.release_mutexes()


def test_compatible_modes_of_two_workers_both_open(workers):
    first, second = workers
    first.check_mode(KEY, (READ, SHARE_READ))
    first.sync_modes(KEY, [(READ, SHARE_READ)])
    first.release_mutexes()
    second.check_mode(KEY, (READ, SHARE_READ))  # reads shared with readers: no conflict
    second.release_mutexes()
    with pytest.raises(PeerConflict):  # but a writer is refused: the first does not share writing
        second.check_mode(KEY, (WRITE, SHARE_READ | SHARE_WRITE))
    second.release_mutexes()


def test_a_close_gives_the_file_back_to_the_other_worker(workers):
    first, second = workers
    first.sync_modes(KEY, [(WRITE | DELETE, 0)])
    with pytest.raises(PeerConflict):
        second.check_mode(KEY, (DELETE, SHARE_DELETE))
    second.release_mutexes()
    first.sync_modes(KEY, [])
    second.check_mode(KEY, (DELETE, SHARE_DELETE))
    second.release_mutexes()


def test_an_exclusive_lock_refuses_the_other_workers_io_and_locks_until_unlocked(workers):
    first, second = workers
    mine, theirs = held_files(first), held_files(second)
    entry = mine.add(100, 10, "a", exclusive=True)
    assert theirs.io_conflicts(105, 1, "b", write=False)
    assert theirs.io_conflicts(95, 10, "b", write=True)
    assert not theirs.io_conflicts(110, 10, "b", write=True)
    assert theirs.lock_conflicts(109, 5, "b", exclusive=False)
    with pytest.raises(PeerConflict):  # the kernel refuses even when the check before was skipped
        theirs.add(100, 1, "b", exclusive=False)
    assert theirs.count == 0
    mine.remove(entry)
    assert not theirs.io_conflicts(105, 1, "b", write=True)
    theirs.add(100, 1, "b", exclusive=True)


def test_shared_locks_of_two_workers_allow_reads_and_refuse_writes(workers):
    first, second = workers
    mine, theirs = held_files(first), held_files(second)
    mine.add(0, 50, "a", exclusive=False)
    theirs.add(10, 10, "b", exclusive=False)
    assert not theirs.io_conflicts(0, 50, "b", write=False)
    assert theirs.io_conflicts(40, 1, "b", write=True)
    assert mine.lock_conflicts(15, 1, "a", exclusive=True)


def test_a_workers_own_locks_stack_and_stay_until_the_last_one_goes(workers):
    """An exclusive and a shared lock of one worker over one range: unlocking the shared one keeps the exclusive."""
    first, second = workers
    mine, theirs = held_files(first), held_files(second)
    exclusive = mine.add(0, 100, "a", exclusive=True)
    shared = mine.add(0, 100, "a", exclusive=False)
    mine.remove(shared)
    assert theirs.io_conflicts(50, 1, "b", write=False)
    mine.remove(exclusive)
    assert not theirs.io_conflicts(50, 1, "b", write=True)


def test_ranges_beyond_the_kernels_offsets_still_conflict(workers):
    first, second = workers
    mine, theirs = held_files(first), held_files(second)
    mine.add(0xFFFFFFFFFFFFFFF0, 0xF, "a", exclusive=True)
    assert theirs.lock_conflicts(0xFFFFFFFFFFFFFFF0, 1, "b", exclusive=False)


def test_no_lock_anywhere_costs_no_system_call(workers, monkeypatch):
    """READ and WRITE ask the kernel only when another worker holds locks on a file of the same slot."""
    _first, second = workers
    theirs = held_files(second)
    from pysmbd.core import peer_locks

    monkeypatch.setattr(peer_locks, "_held_elsewhere", lambda *args: pytest.fail("asked the kernel"))
    assert not theirs.io_conflicts(0, 4096, "b", write=True)


def test_a_restarted_worker_starts_with_nothing_held(tmp_path):
    prepare_directory(tmp_path, 2)
    first = PeerLocks(tmp_path, 0, 2)
    mine = held_files(first)
    mine.add(0, 10, "a", exclusive=True)
    mine.mirror.close()  # the worker died: the kernel drops its locks with its descriptors
    first.close()
    second = PeerLocks(tmp_path, 1, 2)
    again = PeerLocks(tmp_path, 0, 2)
    assert not held_files(second).io_conflicts(0, 10, "b", write=True)
    second.close()
    again.close()


def test_overlapping_locks_of_one_worker_are_mirrored_piece_by_piece(workers):
    """Two shared locks of one worker that overlap in part, then an exclusive one inside: the kernel copy follows
    each change (smbtorture smb2.lock.overlap found the partial overlap)."""
    first, second = workers
    mine, theirs = held_files(first), held_files(second)
    low = mine.add(10, 4, "a", exclusive=False)
    mine.add(12, 4, "b", exclusive=False)
    assert theirs.io_conflicts(15, 1, "c", write=True)
    mine.remove(low)
    assert not theirs.io_conflicts(10, 2, "c", write=True)
    assert theirs.io_conflicts(12, 1, "c", write=True)
    mine.add(13, 1, "b", exclusive=True)
    assert theirs.io_conflicts(13, 1, "c", write=False)
    assert not theirs.io_conflicts(12, 1, "c", write=False)
