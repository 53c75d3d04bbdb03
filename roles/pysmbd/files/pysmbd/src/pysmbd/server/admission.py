"""Admission rules that look at a client's address: login-failure delays and log lines that cannot flood.

Both are sans-IO: every call takes ``now`` (the event loop's clock), so tests move time by hand.

* ``LoginThrottle``: after ``failure_limit`` failed logins from one address within ``window`` seconds, each
  further new SESSION_SETUP from that address waits ``1, 2, 4, ...`` seconds, up to ``max_delay``. The waiting is
  done by the adapter with a timer (the connection stops being read meanwhile), never by blocking the event loop,
  so other clients, and a correct login from another address, go on as before. Samba has no such delay; Windows
  has account lockout instead, which lets an attacker lock users out, so a delay is the gentler default.
* ``RateLimitedLog``: a flood of refused or evicted connections from one address writes one line at once, then at
  most one summary line per address per ``interval`` with the number of events it stands for.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Optional, Tuple

from pysmbd.server import eventlog

FIRST_DELAY = 1.0
"""Seconds the first delayed login waits; each further failure doubles it."""
MAX_TRACKED_ADDRESSES = 10_000
"""Addresses remembered at most; past that, the oldest are forgotten (bounded memory under a spread attack)."""


def peer_host(peer: str) -> str:
    """The address part of ``host:port`` or ``[v6]:port`` (``format_peer``'s output)."""
    if peer.startswith("["):
        return peer[1 : peer.find("]")] if "]" in peer else peer
    return peer.rsplit(":", 1)[0] if ":" in peer else peer


class LoginThrottle:
    """Failed logins per client address, and how long that address's next login must wait."""

    def __init__(self, failure_limit: int = 5, window: float = 60.0, max_delay: float = 30.0) -> None:
        self.failure_limit = failure_limit
        """Failures within ``window`` before delays start; 0 turns the delay off."""
        self.window = window
        self.max_delay = max_delay
        self._failures: Dict[str, Deque[float]] = collections.OrderedDict()  # type: ignore[assignment]

    @property
    def enabled(self) -> bool:
        return self.failure_limit > 0 and self.max_delay > 0

    def failed(self, host: str, now: float) -> None:
        """Record a failed login from ``host``."""
        if not self.enabled:
            return
        failures = self._failures.pop(host, None)
        if failures is None:
            failures = collections.deque(maxlen=self.failure_limit + 64)
            if len(self._failures) >= MAX_TRACKED_ADDRESSES:
                self._failures.pop(next(iter(self._failures)))
        self._failures[host] = failures  # most recently failed last
        failures.append(now)
        self._forget_old(failures, now)

    def delay(self, host: str, now: float) -> float:
        """Seconds a new login from ``host`` must wait before it is handled (0: at once)."""
        if not self.enabled:
            return 0.0
        failures = self._failures.get(host)
        if failures is None:
            return 0.0
        self._forget_old(failures, now)
        if not failures:
            del self._failures[host]
            return 0.0
        beyond = len(failures) - self.failure_limit
        if beyond < 0:
            return 0.0
        return min(self.max_delay, FIRST_DELAY * 2 ** min(beyond, 30))

    def _forget_old(self, failures: Deque[float], now: float) -> None:
        while failures and failures[0] <= now - self.window:
            failures.popleft()


@dataclass
class _Window:
    """One address's current interval of one event: when it ends, how many lines it held back, the last fields."""

    ends: float
    suppressed: int = 0
    fields: Dict[str, Any] = field(default_factory=dict)


Scheduler = Callable[[float, Callable[[], None]], Any]
"""``schedule(delay, callback)``: call ``callback`` about ``delay`` seconds from now (``loop.call_later``); a false
answer means it could not, and the summary waits for the next event."""


class RateLimitedLog:
    """Log lines about connections, at most one per (event, address) per ``interval`` plus a summary with a count.

    The first event of an interval is logged as it comes; the ones after it within the interval are counted, and
    when the interval ends one ``<event>_summary`` line says how many there were (``count``) and what the last
    said. ``schedule`` arranges for that summary to be written even if the flood stops; without it (tests) the
    summaries are written by ``flush(now)``.
    """

    def __init__(
        self,
        interval: float = 60.0,
        *,
        level: str = "warning",
        schedule: Optional[Scheduler] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._level = level
        self._schedule = schedule
        self._clock = clock
        self._windows: Dict[Tuple[str, str], _Window] = collections.OrderedDict()  # type: ignore[assignment]
        self._flush_scheduled = False

    def log(self, event: str, host: str, now: float, **fields: Any) -> bool:
        """Log ``event`` about ``host`` now, or count it for the summary; True when a line was written."""
        key = (event, host)
        window = self._windows.get(key)
        if window is not None and now >= window.ends:
            self._write_summary(key, window)
            del self._windows[key]
            window = None
        if window is None or self.interval <= 0:
            if self.interval > 0:
                if len(self._windows) >= MAX_TRACKED_ADDRESSES:
                    oldest = next(iter(self._windows))
                    self._write_summary(oldest, self._windows.pop(oldest))
                self._windows[key] = _Window(now + self.interval)
            self._write(event, fields)
            return True
        window.suppressed += 1
        window.fields = fields
        self._arrange_flush(window.ends - now)
        return False

    def flush(self, now: float) -> None:
        """Write the summary of every interval that has ended, and forget it."""
        for key, window in list(self._windows.items()):
            if now >= window.ends:
                self._write_summary(key, window)
                del self._windows[key]

    def _arrange_flush(self, delay: float) -> None:
        if self._schedule is None or self._flush_scheduled:
            return
        self._flush_scheduled = bool(self._schedule(max(delay, 0.0), self._scheduled_flush))

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        now = self._clock()
        self.flush(now)
        pending = [window.ends - now for window in self._windows.values() if window.suppressed]
        if pending:
            self._arrange_flush(min(pending))

    def _write_summary(self, key: Tuple[str, str], window: _Window) -> None:
        if window.suppressed:
            event, _host = key
            self._write(f"{event}_summary", {**window.fields, "count": window.suppressed, "interval": self.interval})

    def _write(self, event: str, fields: Dict[str, Any]) -> None:
        getattr(eventlog, self._level)(event, **fields)
