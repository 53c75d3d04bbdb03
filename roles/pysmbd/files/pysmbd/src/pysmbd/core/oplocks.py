"""Oplocks: which open may cache a file, and breaking that when another open comes (MS-SMB2 3.3.4.6, 3.3.5.9,
3.3.5.22.1; MS-FSA 2.1.5.17).

The rules kept here, deliberately fewer than Windows has:

* A CREATE that asks for an EXCLUSIVE or BATCH oplock gets it only when no other open of the file exists; any
  other request (LEVEL_II included) gets no oplock. There are no LEVEL_II oplocks and no leases, so a break is
  always to NONE, and a WRITE never has anything to break: the READ/WRITE path is untouched.
* A later open that wants data (not only attributes) of a file whose open holds one breaks it: the holder's
  connection gets an OPLOCK_BREAK notification, and the new CREATE goes asynchronous (STATUS_PENDING) until the
  holder acknowledges, closes its open, or ``ServerContext.oplock_break_timeout`` passes; then it is handled as
  if it had just arrived. A BATCH oplock is broken before the share-mode check (its holder may close and so
  remove the conflict); an EXCLUSIVE one only when that check passes, as MS-FSA 2.1.5.1.2.1 orders them.
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


def granted_level(requested: int, others_open: bool, enabled: bool) -> int:
    """The oplock a new open gets: EXCLUSIVE or BATCH as asked when it is the file's only open, else none."""
    if not enabled or others_open or requested not in CACHING_LEVELS:
        return LEVEL_NONE
    return requested


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


def start_break(handle: Any, schedule: Optional[Callable[[float, Callable[[], None]], Any]], timeout: float) -> None:
    """Tell the holder to give up its oplock (once), and end the break after ``timeout`` if it never answers."""
    if handle.oplock_breaking:
        return
    handle.oplock_breaking = True
    handle.break_generation += 1
    generation = handle.break_generation
    if handle.notify_break is not None:
        handle.notify_break(handle, LEVEL_NONE)
    if schedule is not None:

        def expired() -> None:
            if handle.oplock_breaking and handle.break_generation == generation:
                end_break(handle)

        schedule(timeout, expired)


def end_break(handle: Any) -> None:
    """The holder acknowledged, closed or never answered: its oplock is gone and the waiting CREATEs go on."""
    handle.oplock = LEVEL_NONE
    handle.oplock_breaking = False
    waiters, handle.break_waiters = handle.break_waiters, []
    for waiter in waiters:  # ended like a waiting LOCK: its connection sends the answer
        end(waiter, STATUS_SUCCESS)
