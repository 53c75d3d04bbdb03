"""Oplocks: which open may cache a file, and breaking that when another open comes (MS-SMB2 3.3.4.6, 3.3.5.9,
3.3.5.22.1; MS-FSA 2.1.5.17).

The rules kept here, fewer than Windows has (no leases):

* A CREATE that asks for an EXCLUSIVE or BATCH oplock gets it when no other open of the file exists; otherwise,
  or when it asks for LEVEL_II, it gets LEVEL_II unless another open holds (or is losing) EXCLUSIVE or BATCH.
* A later open that wants data (not only attributes) of a file whose open holds EXCLUSIVE or BATCH breaks it, to
  LEVEL_II (to NONE when the new open overwrites the file): the holder's connection gets an OPLOCK_BREAK
  notification, and the new CREATE goes asynchronous (STATUS_PENDING) until the holder acknowledges, closes its
  open, or ``ServerContext.oplock_break_timeout`` passes; then it is handled as if it had just arrived. A BATCH
  oplock is broken before the share-mode check (its holder may close and so remove the conflict); an EXCLUSIVE one
  only when that check passes, as MS-FSA 2.1.5.1.2.1 orders them.
* LEVEL_II oplocks break to NONE, with a notification and no acknowledgment, when any open of the file writes,
  takes a byte-range lock, or overwrites it (MS-FSA 2.1.4.12). The WRITE path pays one test of a set for that.
* A CREATE inside a compound does not wait: it sends the break and carries on (its answer is one frame).
* A holder whose connection is gone (a kept durable open) cannot answer: its open is closed at once.

Nothing here blocks: a waiting CREATE costs a small object in the holder's ``break_waiters``.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Optional

from .lock_waiters import end
from .status import STATUS_SUCCESS

LEVEL_NONE = 0x00
LEVEL_II = 0x01
LEVEL_EXCLUSIVE = 0x08
LEVEL_BATCH = 0x09
LEVEL_LEASE = 0xFF
CACHING_LEVELS = frozenset({LEVEL_EXCLUSIVE, LEVEL_BATCH})

BREAK = struct.Struct("<HBBI16s")
"""OPLOCK_BREAK notification, acknowledgment and response (MS-SMB2 2.2.23.1, 2.2.24.1, 2.2.25.1): StructureSize 24,
OplockLevel, Reserved, Reserved2, FileId."""
NOTIFICATION_MESSAGE_ID = 0xFFFFFFFFFFFFFFFF

ATTRIBUTE_ONLY_ACCESS = 0x80 | 0x100 | 0x00100000 | 0x00020000
"""FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES, SYNCHRONIZE, READ_CONTROL: an open asking no more breaks nothing."""


def granted_level(requested: int, others: list, enabled: bool) -> int:
    """The oplock a new open gets, given the file's other opens: EXCLUSIVE or BATCH as asked when it is the only
    one, else LEVEL_II when nobody else caches more."""
    if not enabled or requested not in (LEVEL_II, LEVEL_EXCLUSIVE, LEVEL_BATCH):
        return LEVEL_NONE
    if not others and requested in CACHING_LEVELS:
        return requested
    if any(other.oplock in CACHING_LEVELS or other.oplock_breaking for other in others):
        return LEVEL_NONE
    return LEVEL_II


def set_level(handle: Any, level: int) -> None:
    """Change an open's oplock, keeping its file's set of LEVEL_II holders (what a WRITE looks at)."""
    handle.oplock = level
    shared = handle.shared
    if shared is not None:
        if level == LEVEL_II:
            if shared.level2_opens is None:
                shared.level2_opens = set()
            shared.level2_opens.add(handle.lock_owner)
        elif shared.level2_opens:
            shared.level2_opens.discard(handle.lock_owner)


def break_level2(shared: Any) -> None:
    """A write, lock or overwrite of the file: every LEVEL_II oplock on it goes to NONE (no acknowledgment)."""
    for owner in list(shared.level2_opens or ()):
        handle = shared.handles.get(owner)
        shared.level2_opens.discard(owner)
        if handle is None:
            continue
        handle.oplock = LEVEL_NONE
        if handle.notify_break is not None:
            handle.notify_break(handle, LEVEL_NONE)


def breaks_oplocks(desired_access: int) -> bool:
    """Does an open with this access break another open's oplock (an attribute-only open does not)?"""
    return bool(desired_access & ~ATTRIBUTE_ONLY_ACCESS)


def holder(handles: dict) -> Optional[Any]:
    """The open of a file that holds an EXCLUSIVE or BATCH oplock (there is at most one), if any."""
    for handle in handles.values():
        if handle.oplock in CACHING_LEVELS:
            return handle
    return None


class BreakWaiter:
    """A CREATE waiting for an oplock break to end; the connection sets ``finish`` (as ``LockWaiter``'s)."""

    def __init__(self) -> None:
        self.finish: Callable[[int], None] = lambda status: None
        self.queue: Optional[list] = None


def start_break(
    handle: Any, to_level: int, schedule: Optional[Callable[[float, Callable[[], None]], Any]], timeout: float
) -> None:
    """Tell the holder to go down to ``to_level`` (once), and end the break after ``timeout`` if it never answers."""
    if handle.oplock_breaking:
        if to_level < handle.break_to:
            handle.break_to = to_level  # a later open overwrites: the holder ends with no oplock
        return
    handle.oplock_breaking = True
    handle.break_to = to_level
    handle.break_generation += 1
    generation = handle.break_generation
    if handle.notify_break is not None:
        handle.notify_break(handle, to_level)
    if schedule is not None:

        def expired() -> None:
            if handle.oplock_breaking and handle.break_generation == generation:
                end_break(handle)

        schedule(timeout, expired)


def end_break(handle: Any, level: Optional[int] = None) -> None:
    """The holder acknowledged (``level``), closed or never answered (the level the break named): its oplock is
    lowered and the waiting CREATEs go on."""
    set_level(handle, handle.break_to if level is None else level)
    handle.oplock_breaking = False
    waiters, handle.break_waiters = handle.break_waiters, []
    for waiter in waiters:  # ended like a waiting LOCK: its connection sends the answer
        end(waiter, STATUS_SUCCESS)
