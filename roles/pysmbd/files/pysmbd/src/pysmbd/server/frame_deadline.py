"""``frame_timeout`` for every connection, shared by the TCP and QUIC adapters.

A connection's deadline starts when the first byte of a frame arrives and ends when the core holds no incomplete
frame, so a client that sends a byte every few seconds cannot keep a connection (and its slot) forever.

One timer for the whole server checks the connections with a frame under way (``FrameDeadlines``), instead of a
timer per connection: a timer is ~250 bytes that each busy connection held for a whole ``frame_timeout`` (the
timer could not be taken back when the frame completed a millisecond later), for a check that almost never fires.
The check runs every ``min(1, frame_timeout / 4)`` seconds, so a connection is closed at most that much late.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, Optional, Protocol


class DeadlineOwner(Protocol):
    """The adapter's connection, as its deadline sees it."""

    def frame_expired(self) -> None:
        """A frame has been arriving for ``frame_timeout`` seconds: close the connection."""

    def frame_paused(self) -> bool:
        """The server is not reading the client now (back-pressure, a delayed login): that time is not the
        client's to pay for."""


class FrameDeadlines:
    """The server's one timer over every connection with a frame under way."""

    def __init__(self, timeout: Callable[[], float]) -> None:
        self._timeout = timeout  # read at each check: a reload may change frame_timeout
        self._watched: Dict[FrameDeadline, None] = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._timer: Optional[asyncio.TimerHandle] = None

    def __len__(self) -> int:
        return len(self._watched)

    def now(self) -> float:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.time()

    def watch(self, deadline: FrameDeadline) -> None:
        self._watched[deadline] = None
        if self._timer is None:
            self._arm()

    def forget(self, deadline: FrameDeadline) -> None:
        self._watched.pop(deadline, None)

    def _arm(self) -> None:
        assert self._loop is not None  # now() ran before any watch()
        self._timer = self._loop.call_later(min(1.0, self._timeout() / 4), self._check)

    def _check(self) -> None:
        self._timer = None
        now = self.now()
        timeout = self._timeout()
        for deadline in list(self._watched):
            deadline.check(now, timeout)  # may forget itself, and may close its connection
        if self._watched:
            self._arm()


class FrameDeadline:
    """One connection's frame deadline: ``owner.frame_expired()`` once a frame has been arriving too long."""

    __slots__ = ("_deadlines", "_frames_seen", "_owner", "_started")

    def __init__(self, deadlines: FrameDeadlines, owner: DeadlineOwner) -> None:
        self._deadlines = deadlines
        self._owner = owner
        self._started: Optional[float] = None  # when the first byte of the frame now arriving came
        self._frames_seen = 0

    def watch(self, core: Any) -> None:
        """After the core took bytes: start the deadline when a frame begins, stop it when none is incomplete.

        Called after every read, so the usual case (the read ended on a frame boundary, and none was under way)
        returns at once.
        """
        if not getattr(core, "partial_frame_bytes", 0):
            if self._started is not None:
                self.cancel()
            return
        frames = getattr(core, "frames_received", 0)
        if frames != self._frames_seen:  # frames were completed since the last look: these bytes begin a newer one
            self._frames_seen = frames
            self._started = None
        if self._started is None:
            self._started = self._deadlines.now()
            self._deadlines.watch(self)

    def restart(self) -> None:
        """Reading resumed: the frame under way gets its whole timeout again."""
        if self._started is not None:
            self._started = self._deadlines.now()

    def cancel(self) -> None:
        """No frame under way any more, or the connection is over."""
        self._started = None
        self._deadlines.forget(self)

    def check(self, now: float, timeout: float) -> None:
        if self._started is None:
            self._deadlines.forget(self)
        elif self._owner.frame_paused():
            self._started = now
        elif now - self._started >= timeout:
            self.cancel()
            self._owner.frame_expired()
