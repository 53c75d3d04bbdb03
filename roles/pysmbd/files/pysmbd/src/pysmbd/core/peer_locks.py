"""Share modes and byte-range locks seen by every worker process of one server (``[server] workers`` above 1).

Each worker keeps its own tables (``files.SharedFile.modes``, ``locks.FileLocks``) and decides conflicts between
its own opens there, exactly as a single process does. This module makes the other workers' opens count too. It
mirrors what this worker holds as open-file-description locks (``fcntl`` ``F_OFD_SETLK``) on small files in the
state directory, one descriptor per worker, so:

* a lock held by a worker is visible to the others at once (``F_OFD_GETLK`` names it), a worker's own locks never
  conflict with one another in the kernel (one descriptor), and a worker that dies drops all of them (the kernel
  closes its descriptors): a restarted worker inherits nothing stale;
* the kernel decides races between workers: two workers setting conflicting locks at once, one of them fails.

Share modes: file ``modes-<st_dev>``, eight bytes per inode at ``st_ino * 8``. A worker read-locks byte ``HAS_x``
while one of its opens has access x (read, write, delete) and ``DENY_x`` while one of its opens does not share
x. A new open conflicts with another worker when that worker holds ``DENY_x`` for an access x it asks for, or
``HAS_x`` for an x it does not share (MS-FSA 2.1.5.1.2). Byte 7 is a mutex held from the check until the open
holds its bytes, so two workers cannot both pass the check. An open for attributes alone takes part in nothing.

Byte-range locks: file ``ranges-<st_dev>-<st_ino>``, whose byte offsets are the SMB file's. A worker holds a write
lock where one of its opens holds an exclusive SMB lock, a read lock where only shared ones are: the kernel's
conflict rules are then the SMB rules between owners of different workers (MS-FSA 2.1.4.10). The
kernel's offsets end at 2**63 - 1, so ranges beyond are clipped there (two locks above 2**63 may meet in the
kernel where they would not in SMB); zero-length locks are enforced within their worker only.

READ and WRITE stay cheap when nothing is locked: a shared table of one byte per (slot of the file, worker)
says which workers hold byte-range locks on a file of that slot; only when another worker's byte is set does a
READ ask the kernel (0.3 us per READ check in one process, 0.8 us with two workers and no lock anywhere, 6 us
when the other worker holds a lock on the file: ``bench/pysmbd/bench_peer_locks.py``). Files here are created on demand and removed when the server starts.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import struct
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

from .locks import PeerConflict

F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", 36)
F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)
F_OFD_SETLKW = getattr(fcntl, "F_OFD_SETLKW", 38)
_FLOCK = struct.Struct("hhqqi")  # struct flock on Linux x86-64/arm64: type, whence, start, len, pid (+ padding)
_FLOCK_SIZE = 32
OFFSET_LIMIT = (1 << 63) - 1
FLAG_SLOTS = 1 << 16
"""Slots of the shared "who holds byte-range locks" table, per worker."""
FLAGS_FILE = "range-flags"

FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA, FILE_EXECUTE, DELETE = 0x1, 0x2, 0x4, 0x20, 0x10000
_ACCESS_BITS = ((FILE_READ_DATA | FILE_EXECUTE, 0), (FILE_WRITE_DATA | FILE_APPEND_DATA, 1), (DELETE, 2))
_SHARE_BITS = ((0x1, 0), (0x2, 1), (0x4, 2))  # FILE_SHARE_READ, _WRITE, _DELETE
_DENY = 3
_MUTEX = 7

Key = Tuple[int, int]


def _flock(kind: int, start: int, length: int) -> bytes:
    return _FLOCK.pack(kind, os.SEEK_SET, start, length, 0).ljust(_FLOCK_SIZE, b"\0")


def _set(fd: int, kind: int, start: int, length: int, *, wait: bool = False) -> bool:
    """Set (or clear, F_UNLCK) a lock of this worker's descriptor; False when another descriptor's lock refuses it."""
    try:
        fcntl.fcntl(fd, F_OFD_SETLKW if wait else F_OFD_SETLK, _flock(kind, start, length))
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _held_elsewhere(fd: int, kind: int, start: int, length: int) -> bool:
    """Does another descriptor hold a lock that refuses a lock of ``kind`` over the range?"""
    answer = fcntl.fcntl(fd, F_OFD_GETLK, _flock(kind, start, length))
    return _FLOCK.unpack_from(answer)[0] != fcntl.F_UNLCK


def mode_bytes(access: int, share: int) -> frozenset:
    """The bytes (0-5) an open with this (access, ShareAccess) holds."""
    held = {index for bits, index in _ACCESS_BITS if access & bits}
    held |= {_DENY + index for bit, index in _SHARE_BITS if not share & bit}
    return frozenset(held)


def refused_by(access: int, share: int) -> frozenset:
    """The bytes whose holder refuses an open with this (access, ShareAccess)."""
    refused = {_DENY + index for bits, index in _ACCESS_BITS if access & bits}
    refused |= {index for bit, index in _SHARE_BITS if not share & bit}
    return frozenset(refused)


def clip(offset: int, end: int) -> Tuple[int, int]:
    """An SMB range ``[offset, end)`` as a kernel range (start, length), never empty, within OFFSET_LIMIT."""
    start = min(offset, OFFSET_LIMIT - 1)
    return start, max(min(end, OFFSET_LIMIT) - start, 1)


def prepare_directory(directory: Path, workers: int) -> None:
    """Called once by the supervisor before it starts the workers: an empty directory and the flag table."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        entry.unlink(missing_ok=True)
    with open(directory / FLAGS_FILE, "wb") as stream:
        stream.truncate(workers * FLAG_SLOTS)


class PeerLocks:
    """This worker's side of the cross-worker share modes and byte-range locks."""

    def __init__(self, directory: Path, worker: int, workers: int) -> None:
        self.directory = directory
        self.worker = worker
        self.workers = workers
        self._mode_fds: Dict[int, int] = {}
        self._modes_held: Dict[Key, frozenset] = {}
        self._mutexes: list = []
        fd = os.open(directory / FLAGS_FILE, os.O_RDWR | os.O_CLOEXEC)
        try:
            self._flags = mmap.mmap(fd, workers * FLAG_SLOTS)
        finally:
            os.close(fd)
        # slot-major: the workers' bytes of one slot are side by side, so a READ compares one short slice
        self._flags[worker::workers] = bytes(FLAG_SLOTS)  # a restarted worker holds nothing yet
        self._nobody = bytes(workers)
        self._me_alone = bytes(1 if index == worker else 0 for index in range(workers))
        self._slot_users: Dict[int, int] = {}

    def close(self) -> None:
        for fd in self._mode_fds.values():
            os.close(fd)
        self._mode_fds.clear()
        self._flags.close()

    # ------------------------------------------------------------------ share modes

    def _modes_fd(self, device: int) -> int:
        fd = self._mode_fds.get(device)
        if fd is None:
            fd = os.open(self.directory / f"modes-{device}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._mode_fds[device] = fd
        return fd

    def check_mode(self, key: Key, mode: Optional[Tuple[int, int]]) -> None:
        """Raise PeerConflict when another worker's opens refuse ``mode``; otherwise keep the file's mutex until
        ``release_mutexes`` (end of the CREATE), so that no other worker passes a check meanwhile."""
        if mode is None:
            return
        fd = self._modes_fd(key[0])
        base = key[1] * 8
        _set(fd, fcntl.F_WRLCK, base + _MUTEX, 1, wait=True)  # held for microseconds by whoever has it
        self._mutexes.append((fd, base + _MUTEX))
        if any(_held_elsewhere(fd, fcntl.F_WRLCK, base + byte, 1) for byte in refused_by(*mode)):
            raise PeerConflict("another worker's open refuses this share mode")

    def release_mutexes(self) -> None:
        for fd, offset in self._mutexes:
            _set(fd, fcntl.F_UNLCK, offset, 1)
        self._mutexes.clear()

    def sync_modes(self, key: Key, modes: Iterable[Tuple[int, int]]) -> None:
        """Hold exactly the bytes the worker's opens of the file need (after an open or a close)."""
        wanted: frozenset = frozenset().union(*(mode_bytes(*mode) for mode in modes))
        held = self._modes_held.get(key, frozenset())
        if wanted == held:
            return
        fd = self._modes_fd(key[0])
        base = key[1] * 8
        for byte in wanted - held:
            _set(fd, fcntl.F_RDLCK, base + byte, 1)  # read locks never refuse one another
        for byte in held - wanted:
            _set(fd, fcntl.F_UNLCK, base + byte, 1)
        if wanted:
            self._modes_held[key] = wanted
        else:
            self._modes_held.pop(key, None)

    # ------------------------------------------------------------------ byte-range locks

    def ranges(self, key: Key) -> RangeMirror:
        return RangeMirror(self, key)

    def slot(self, key: Key) -> int:
        return hash(key) % FLAG_SLOTS  # ints and tuples of ints hash alike in every process

    def others_hold(self, slot: int) -> bool:
        """Might another worker hold byte-range locks on a file of this slot? (False: certainly not.)"""
        row = self._flags[slot * self.workers : (slot + 1) * self.workers]
        return row != self._nobody and row != self._me_alone

    def _flag(self, slot: int, delta: int) -> None:
        users = self._slot_users.get(slot, 0) + delta
        if users:
            self._slot_users[slot] = users
        else:
            self._slot_users.pop(slot, None)
        self._flags[slot * self.workers + self.worker] = 1 if users else 0


class RangeMirror:
    """The kernel copy of one file's byte-range locks held by this worker (``FileLocks.mirror``)."""

    def __init__(self, peers: PeerLocks, key: Key) -> None:
        self.peers = peers
        self.key = key
        self.slot = peers.slot(key)
        self._fd = -1
        self._flagged = False

    def _path(self) -> Path:
        return self.peers.directory / f"ranges-{self.key[0]}-{self.key[1]}"

    def _open(self, create: bool) -> int:
        if self._fd < 0:
            flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
            try:
                self._fd = os.open(self._path(), flags, 0o600)
            except FileNotFoundError:
                return -1
        return self._fd

    def close(self) -> None:
        """The file's last open in this worker closed (it holds no lock any more)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._flagged:
            self._flagged = False
            self.peers._flag(self.slot, -1)

    def conflicts(self, offset: int, end: int, *, exclusive: bool) -> bool:
        """Does another worker hold a lock that refuses a lock (exclusive: a WRITE too; else a READ) of the range?"""
        if end <= offset or not self.peers.others_hold(self.slot):
            return False
        fd = self._open(create=False)
        if fd < 0:
            return False
        start, length = clip(offset, end)
        return _held_elsewhere(fd, fcntl.F_WRLCK if exclusive else fcntl.F_RDLCK, start, length)

    def sync(self, held: Iterable, offset: int, end: int) -> bool:
        """Make the kernel hold, over ``[offset, end)``, the strongest of this worker's locks ``held`` (entries with
        offset, end, exclusive; zero-length ones are ignored). False when another worker's lock refused a part."""
        if end <= offset:
            return True
        if not self._flagged:
            self._flagged = True
            self.peers._flag(self.slot, +1)
        fd = self._open(create=True)
        low, high = clip(offset, end)
        high += low
        edges = {low, high}
        pieces = []
        for entry in held:
            if entry.end <= entry.offset:
                continue
            start, length = clip(entry.offset, entry.end)
            start, stop = max(start, low), min(start + length, high)
            if start < stop:
                pieces.append((start, stop, 2 if entry.exclusive else 1))
        # sweep the edges once: the level of each stretch is the strongest lock covering it
        events: Dict[int, list] = {edge: [0, 0] for edge in edges}
        for start, stop, level in pieces:
            events.setdefault(start, [0, 0])[level - 1] += 1
            events.setdefault(stop, [0, 0])[level - 1] -= 1
        levels: list = []
        shared = exclusive = 0
        bounds = sorted(events)
        for left, right in zip(bounds, bounds[1:]):
            shared += events[left][0]
            exclusive += events[left][1]
            level = 2 if exclusive else 1 if shared else 0
            if levels and levels[-1][2] == level:
                levels[-1][1] = right
            else:
                levels.append([left, right, level])
        kinds = (fcntl.F_UNLCK, fcntl.F_RDLCK, fcntl.F_WRLCK)
        ok = True
        for left, right, level in levels:
            ok = _set(fd, kinds[level], left, right - left) and ok
        return ok
