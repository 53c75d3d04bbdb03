"""LOCK requests that wait for a range (MS-SMB2 3.3.5.14, 3.3.4.2; MS-FSA 2.1.5.8).

A LOCK of one range without SMB2_LOCKFLAG_FAIL_IMMEDIATELY that conflicts with a held lock does not fail: the
connection answers STATUS_PENDING at once (an interim response with an AsyncId) and the request joins the
waiters of the file, which every open of it shares across sessions and connections. Whenever a lock of that
file goes away (an unlock, a close, a tree disconnect, a logoff, a dropped connection), the waiters are looked
at again in arrival order and each one whose range is now free takes it; its connection then sends the final
response (STATUS_SUCCESS). A waiter ends otherwise with:

* STATUS_CANCELLED, when its client sends SMB2 CANCEL for it;
* STATUS_RANGE_NOT_LOCKED, when the open it waits on is closed (as Samba answers; Windows is assumed alike);
* nothing at all, when its connection is gone.

This module keeps only the waiters; granting uses ``FileLocks``, and the connection owns the AsyncIds and the
responses (``LockWaiter.finish``). Nothing here blocks: a waiter costs a small object until it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from .locks import MAX_LOCKS_PER_FILE, MAX_LOCKS_PER_OPEN, FileLocks, PeerConflict
from .status import STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS

MAX_WAITERS_PER_CONNECTION = 1024
"""LOCK requests one connection may have waiting; more fail at once (STATUS_LOCK_NOT_GRANTED)."""


@dataclass(eq=False)
class LockWaiter:
    """One waiting LOCK request: the range it wants, for which open, and how its connection answers it."""

    owner: int
    """``Open.lock_owner`` of the open the lock is for."""
    offset: int
    length: int
    exclusive: bool
    finish: Callable[[int], None] = field(default=lambda status: None)
    """Set by the connection: send the final response with this status (and forget the AsyncId)."""
    queue: Optional[list] = None
    """The file's list of waiters while this one is in it."""


def wait(waiters: list, waiter: LockWaiter) -> None:
    """Queue ``waiter`` behind the file's earlier ones."""
    waiter.queue = waiters
    waiters.append(waiter)


def end(waiter: LockWaiter, status: int) -> None:
    """Take ``waiter`` out of its queue (if still in one) and have its connection answer ``status``."""
    if waiter.queue is not None:
        try:
            waiter.queue.remove(waiter)
        except ValueError:
            pass
        waiter.queue = None
        waiter.finish(status)


def end_for_open(waiters: Optional[list], owner: int, status: int) -> None:
    """End every waiter of one open (it is closing); ``waiters`` is None when none ever waited on the file."""
    if not waiters:
        return
    for waiter in [found for found in waiters if found.owner == owner]:
        end(waiter, status)


def grant_free(waiters: Optional[list], locks: FileLocks) -> None:
    """Give each waiter whose range is now free its lock, in arrival order (a granted one may block a later one)."""
    if not waiters:
        return
    for waiter in list(waiters):
        if waiter.queue is None:
            continue  # ended by an earlier grant's response (its connection closed meanwhile)
        if locks.lock_conflicts(waiter.offset, waiter.length, waiter.owner, waiter.exclusive):
            continue
        if locks.held_by(waiter.owner) >= MAX_LOCKS_PER_OPEN or locks.count >= MAX_LOCKS_PER_FILE:
            end(waiter, STATUS_INSUFFICIENT_RESOURCES)
            continue
        try:
            locks.add(waiter.offset, waiter.length, waiter.owner, waiter.exclusive)
        except PeerConflict:
            continue  # another worker took the range first: wait on (the runtime looks again periodically)
        end(waiter, STATUS_SUCCESS)
