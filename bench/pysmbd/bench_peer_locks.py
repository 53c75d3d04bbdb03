"""What cross-worker share modes and byte-range locks (``pysmbd/core/peer_locks.py``) add per request (not a test).

Measured in one process, as a worker sees it (a second ``PeerLocks`` stands for the other worker):

* READ/WRITE range check of an open file: one process (no mirror) against two workers with no lock anywhere,
  and with the other worker holding a lock on the same file (the kernel is asked);
* the share-mode part of an open and its close (mutex, checks, the worker's bytes, release);
* a LOCK and its UNLOCK of one range.

    .venv/bin/python bench/pysmbd/bench_peer_locks.py
"""

from __future__ import annotations

import os
import tempfile
import timeit
from pathlib import Path

from pysmbd.core.locks import FileLocks
from pysmbd.core.peer_locks import PeerLocks, prepare_directory

READ, SHARE_ALL = 0x1, 0x7
ROUNDS = 200_000


def per_call(statement, rounds: int = ROUNDS) -> float:
    """Best of 5 runs, in microseconds per call."""
    return min(timeit.repeat(statement, number=rounds, repeat=5)) / rounds * 1e6


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="peer-locks-"))
    prepare_directory(directory, 2)
    mine, theirs = PeerLocks(directory, 0, 2), PeerLocks(directory, 1, 2)
    key, other_key = (os.stat(directory).st_dev, 1234), (os.stat(directory).st_dev, 5678)
    alone = FileLocks()
    mirrored = FileLocks()
    mirrored.mirror = mine.ranges(key)
    print(
        f"READ check, one process:                      {per_call(lambda: alone.io_conflicts(0, 65536, 1, False)):.3f} us"
    )
    print(
        f"READ check, two workers, no lock anywhere:    {per_call(lambda: mirrored.io_conflicts(0, 65536, 1, False)):.3f} us"
    )
    elsewhere = FileLocks()
    elsewhere.mirror = theirs.ranges(key)
    elsewhere.add(1 << 40, 10, 2, exclusive=True)  # far from the range read
    print(
        f"READ check, the other worker locks the file:  {per_call(lambda: mirrored.io_conflicts(0, 65536, 1, False), 50_000):.3f} us"
    )

    def open_and_close() -> None:
        mode = (READ, SHARE_ALL)
        mine.check_mode(other_key, mode)
        mine.sync_modes(other_key, [mode])
        mine.release_mutexes()
        mine.sync_modes(other_key, [])

    print(f"share modes of one open and its close:        {per_call(open_and_close, 20_000):.3f} us")

    def lock_and_unlock() -> None:
        entry = mirrored.add(100, 10, 1, exclusive=True)
        mirrored.remove(entry)

    def lock_and_unlock_alone() -> None:
        entry = alone.add(100, 10, 1, exclusive=True)
        alone.remove(entry)

    print(f"LOCK + UNLOCK, one process:                   {per_call(lock_and_unlock_alone, 50_000):.3f} us")
    print(f"LOCK + UNLOCK, two workers:                   {per_call(lock_and_unlock, 20_000):.3f} us")


if __name__ == "__main__":
    main()
