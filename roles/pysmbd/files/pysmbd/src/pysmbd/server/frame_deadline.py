"""``frame_timeout`` for one connection, shared by the TCP and QUIC adapters.

The deadline starts when the first byte of a frame arrives and ends when the core holds no incomplete frame, so
a client that sends a byte every few seconds cannot keep a connection (and its slot) forever.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional


class FrameDeadline:
    """Calls ``expired`` once a frame has been arriving for ``timeout`` seconds.

    ``stopped``: the connection is over, so nothing is checked any more. ``paused``: the server is not reading
    the client (back-pressure, a delayed login); that time is not the client's to pay for.
    """

    __slots__ = ("_expired", "_frames_seen", "_loop", "_paused", "_started", "_stopped", "_timeout", "_timer")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        expired: Callable[[], None],
        stopped: Callable[[], bool],
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._expired = expired
        self._stopped = stopped
        self._paused = paused
        self._timer: Optional[asyncio.TimerHandle] = None
        self._started: Optional[float] = None  # when the first byte of the frame now arriving came
        self._frames_seen = 0

    def watch(self, core: Any) -> None:
        """After the core took bytes: start the deadline when a frame begins, stop it when none is incomplete.

        Called after every read, so the usual case (the read ended on a frame boundary) returns at once: with no
        frame under way the count of frames seen does not matter, as the next partial frame starts a new deadline
        either way, and the timer armed earlier (if any) finds nothing to check.
        """
        if not getattr(core, "partial_frame_bytes", 0):
            self._started = None
            return
        frames = getattr(core, "frames_received", 0)
        if frames != self._frames_seen:  # frames were completed since the last look: these bytes begin a newer one
            self._frames_seen = frames
            self._started = None
        if self._started is None:
            self._started = self._loop.time()
            if self._timer is None:
                self._timer = self._loop.call_later(self._timeout, self._check)

    def restart(self) -> None:
        """Reading resumed: the frame under way gets its whole timeout again."""
        if self._started is not None:
            self._started = self._loop.time()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._stopped() or self._started is None:
            return
        now = self._loop.time()
        if self._paused():
            self._started = now
        elapsed = now - self._started
        if elapsed < self._timeout:
            self._timer = self._loop.call_later(self._timeout - elapsed, self._check)
            return
        self._expired()
