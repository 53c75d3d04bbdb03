"""Byte-range locks of one file, shared by every open of it on every connection (MS-FSA 2.1.5.8, 2.1.4.10).

The rules (MS-FSA 2.1.4.10), for a range that overlaps a held lock. Ranges ``[offset, offset + length)``
overlap as usual; a zero-length range at ``o`` overlaps a range that holds both ``o - 1`` and ``o`` (so
0/0 overlaps nothing), and two zero-length ranges never overlap one another (smbtorture
smb2.lock.zerobytelength, errorcode):

* an exclusive lock refuses exclusive locks (its owner's too), shared locks and IO of any open but its owner;
* a shared lock refuses exclusive locks and writes, its owner's included, and allows reads and shared locks.

Its owner may stack shared locks on an exclusive lock, as Windows and Samba allow (smbtorture
smb2.lock.valid-request). Exclusive locks never overlap one another: they are kept as disjoint ranges sorted
by offset, and the ones a range meets are found by bisection. Shared locks may overlap one another; the only
question asked of them is "does any shared lock overlap this range", answered from blocks of ranges sorted
by offset, each knowing its largest end, so the cost grows with the number of blocks, not of locks. Caps
per open and per file keep even that bounded: a LOCK request costs at most a few milliseconds of the event
loop, however many ranges it carries (a list scan per range once took 79 s for 65,535 ranges).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Hashable, Optional

MAX_LOCKS_PER_OPEN = 4096
"""Locks one open may hold; more are refused with STATUS_INSUFFICIENT_RESOURCES."""
MAX_LOCKS_PER_FILE = 65536
"""Locks all opens of one file may hold together."""
_BLOCK = 256
"""Shared ranges per block before it is split in two."""

Owner = Hashable


class PeerConflict(Exception):
    """A lock another worker process holds refuses this one (it won a race the checks before ``add`` lost)."""


@dataclass(frozen=True, order=True)
class LockRange:
    """One held lock: ``[offset, end)``; ``serial`` tells apart identical ranges of one owner."""

    offset: int
    end: int
    serial: int
    owner: Owner = field(compare=False)
    exclusive: bool = field(compare=False)
    length: int = field(compare=False)


class _SharedRanges:
    """Possibly overlapping ranges, in blocks sorted by offset; answers "does any overlap [start, end)"."""

    __slots__ = ("blocks", "firsts", "max_ends")

    def __init__(self) -> None:
        self.blocks: list[list[LockRange]] = []
        self.firsts: list[int] = []
        self.max_ends: list[int] = []

    def add(self, entry: LockRange) -> None:
        if not self.blocks:
            self.blocks.append([entry])
            self.firsts.append(entry.offset)
            self.max_ends.append(entry.end)
            return
        index = max(bisect.bisect_right(self.firsts, entry.offset) - 1, 0)
        block = self.blocks[index]
        bisect.insort(block, entry)
        self.firsts[index] = block[0].offset
        self.max_ends[index] = max(self.max_ends[index], entry.end)
        if len(block) > 2 * _BLOCK:
            upper = block[_BLOCK:]
            del block[_BLOCK:]
            self.blocks.insert(index + 1, upper)
            self.firsts.insert(index + 1, upper[0].offset)
            self.max_ends[index] = max(e.end for e in block)
            self.max_ends.insert(index + 1, max(e.end for e in upper))

    def remove(self, entry: LockRange) -> None:
        index = max(bisect.bisect_right(self.firsts, entry.offset) - 1, 0)
        # equal offsets may straddle a block boundary: look from the block where the offset starts
        while index > 0 and self.firsts[index] == entry.offset:
            index -= 1
        while index < len(self.blocks):
            block = self.blocks[index]
            position = bisect.bisect_left(block, entry)
            if position < len(block) and block[position] == entry:
                del block[position]
                if block:
                    self.firsts[index] = block[0].offset
                    self.max_ends[index] = max(e.end for e in block)
                else:
                    del self.blocks[index], self.firsts[index], self.max_ends[index]
                return
            index += 1

    def meeting(self, start: int, end: int) -> list[LockRange]:
        """The ranges of the set that meet ``[start, end)``."""
        last = bisect.bisect_left(self.firsts, end)
        return [
            e
            for index in range(last)
            if self.max_ends[index] > start
            for e in self.blocks[index]
            if e.offset < end and e.end > start
        ]

    def overlaps(self, start: int, end: int) -> bool:
        """True when a range of the set meets ``[start, end)`` (``end > start``)."""
        last = bisect.bisect_left(self.firsts, end)  # blocks[:last] begin before ``end``
        for index in range(last):
            if self.max_ends[index] <= start:
                continue
            block = self.blocks[index]
            if index + 1 < last or block[-1].offset < end:
                return True  # every range of the block begins before ``end``; the longest ends after ``start``
            return any(e.offset < end and e.end > start for e in block)
        return False


class FileLocks:
    """The byte-range locks of one file."""

    # Every open file has one (a server may hold thousands): slots keep it small.
    __slots__ = (
        "_by_owner",
        "_exclusive",
        "_exclusive_points",
        "_serial",
        "_shared",
        "_shared_points",
        "count",
        "mirror",
    )

    def __init__(self) -> None:
        self._exclusive: list[LockRange] = []  # disjoint, sorted by offset
        self._shared = _SharedRanges()
        self._exclusive_points: list[LockRange] = []  # zero-length locks, sorted by offset
        self._shared_points: list[LockRange] = []
        self._by_owner: dict[Owner, list[LockRange]] = {}
        self._serial = 0
        self.count = 0
        self.mirror: Optional[Any] = None
        """``peer_locks.RangeMirror`` when other worker processes must see these locks (``workers`` above 1)."""

    def __bool__(self) -> bool:
        return self.count > 0

    def held_by(self, owner: Owner) -> int:
        return len(self._by_owner.get(owner, ()))

    # ----------------------------------------------------------------- questions

    @staticmethod
    def _points_inside(points: list[LockRange], start: int, end: int) -> list[LockRange]:
        """Zero-length locks at an offset ``o`` with ``start < o < end``."""
        low = bisect.bisect_left(points, LockRange(start + 1, 0, 0, None, True, 0))
        high = bisect.bisect_left(points, LockRange(end, 0, 0, None, True, 0))
        return points[low:high]

    def _exclusive_meeting(self, start: int, end: int) -> list[LockRange]:
        """Exclusive locks that overlap ``[start, end)`` (``start == end``: a zero-length range)."""
        found = self._points_inside(self._exclusive_points, start, end) if end > start else []
        ranges = self._exclusive
        index = bisect.bisect_left(ranges, LockRange(start, 0, 0, None, True, 0))
        if index and ranges[index - 1].end > start:
            index -= 1
        while index < len(ranges) and ranges[index].offset < end:
            found.append(ranges[index])
            index += 1
        return found

    def lock_conflicts(self, offset: int, length: int, owner: Owner, exclusive: bool) -> bool:
        """Would a new lock of ``owner`` conflict with a held one?"""
        end = offset + length
        if exclusive:
            return bool(
                self._exclusive_meeting(offset, end)
                or self._shared.overlaps(offset, end)
                or (length and self._points_inside(self._shared_points, offset, end))
                or (self.mirror is not None and self.mirror.conflicts(offset, end, exclusive=True))
            )
        return any(held.owner != owner for held in self._exclusive_meeting(offset, end)) or (
            self.mirror is not None and self.mirror.conflicts(offset, end, exclusive=False)
        )

    def io_conflicts(self, offset: int, length: int, owner: Owner, write: bool) -> bool:
        """Would a READ (``write`` False) or WRITE of the range through ``owner`` meet a lock that refuses it?"""
        if length == 0:
            return False
        end = offset + length
        if self.mirror is not None and self.mirror.conflicts(offset, end, exclusive=write):
            return True
        if not self.count:
            return False
        if any(held.owner != owner for held in self._exclusive_meeting(offset, end)):
            return True
        return write and bool(
            self._shared.overlaps(offset, end) or self._points_inside(self._shared_points, offset, end)
        )

    def _sync_mirror(self, offset: int, end: int) -> bool:
        """Give the other workers this worker's locks over the range; False when one of theirs refused it."""
        held = self._exclusive_meeting(offset, end) + self._shared.meeting(offset, end)
        return self.mirror.sync(held, offset, end)

    # ----------------------------------------------------------------- changes

    def add(self, offset: int, length: int, owner: Owner, exclusive: bool) -> LockRange:
        """Record a lock (the caller checked ``lock_conflicts`` and the caps)."""
        self._serial += 1
        entry = LockRange(offset, offset + length, self._serial, owner, exclusive, length)
        if length == 0:
            bisect.insort(self._exclusive_points if exclusive else self._shared_points, entry)
        elif exclusive:
            bisect.insort(self._exclusive, entry)
        else:
            self._shared.add(entry)
        self._by_owner.setdefault(owner, []).append(entry)
        self.count += 1
        if self.mirror is not None and length and not self._sync_mirror(offset, offset + length):
            self.remove(entry)
            raise PeerConflict("another worker's client holds a lock that refuses this one")
        return entry

    def remove(self, entry: LockRange) -> None:
        if entry.length == 0:
            points = self._exclusive_points if entry.exclusive else self._shared_points
            del points[bisect.bisect_left(points, entry)]
        elif entry.exclusive:
            index = bisect.bisect_left(self._exclusive, entry)
            del self._exclusive[index]
        else:
            self._shared.remove(entry)
        owned = self._by_owner.get(entry.owner)
        if owned is not None:
            owned.remove(entry)
            if not owned:
                del self._by_owner[entry.owner]
        self.count -= 1
        if self.mirror is not None and entry.length:
            self._sync_mirror(entry.offset, entry.end)

    def find(self, offset: int, length: int, owner: Owner) -> Optional[LockRange]:
        """The owner's lock over exactly this range, an exclusive one first (MS-FSA 2.1.5.9)."""
        matches = [e for e in self._by_owner.get(owner, ()) if e.offset == offset and e.length == length]
        if not matches:
            return None
        return next((e for e in matches if e.exclusive), matches[0])

    def release_owner(self, owner: Owner) -> None:
        """Drop every lock of one open (it is closing)."""
        for entry in list(self._by_owner.get(owner, ())):
            self.remove(entry)
