"""Memory held for clients, bounded per connection and server-wide (``[server] max_memory*``).

Each connection has a ``MemoryAccount``; its adapter reports what the connection holds (request bytes read and
not yet handled, responses queued at their full size, read buffers) with ``update``, and the core asks
``may_grow(cost)`` before it handles a frame whose answer may take ``cost`` bytes. A refusal holds the frame:
the adapter stops reading that client until ``on_wake`` says memory may be there again.

The rules, with ``u`` what this connection holds, ``T`` the server's total, ``L`` the per-connection limit and
``B`` the server-wide one:

* a connection never grows past ``L``; one that holds no answers is always served, since what it holds then is its
  own input (frames read, pooled buffers), which only handling frees: so every client progresses;
* while ``T + cost`` fits in ``B`` every connection may grow;
* past ``B`` only a connection that stays within its fair share ``B / n`` (``n``: connections holding memory)
  may grow, so the biggest consumers wait first and a light client's small READ is still answered. The total
  then stays below ``2 B`` even in the worst case (each connection within its share, plus those already paused).

Nothing here does IO: waking the waiting accounts is handed to ``schedule`` (the event loop's ``call_soon``), so
an account's callback never runs inside another account's ``update``.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Set

Schedule = Callable[[Callable[[], None]], object]


class MemoryBudget:
    """The server-wide budget and every connection's account."""

    def __init__(self, per_connection: int, total: int, schedule: Optional[Schedule] = None) -> None:
        self.per_connection = per_connection
        self.total = total
        self._schedule = schedule
        self.in_use = 0
        self._consumers = 0  # accounts holding more than nothing
        self._accounts: Set[MemoryAccount] = set()
        self._waiting: Set[MemoryAccount] = set()
        self._wake_scheduled = False

    def configure(self, per_connection: int, total: int) -> None:
        """New limits (a reload); waiting connections look again, as a raised limit may let them go on."""
        self.per_connection = per_connection
        self.total = total
        self._wake_waiting()

    def open_account(self, on_wake: Callable[[], None]) -> MemoryAccount:
        account = MemoryAccount(self, on_wake)
        self._accounts.add(account)
        return account

    @property
    def paused(self) -> int:
        """Connections waiting for memory (their own queue to drain, or the server's total to fall)."""
        return len(self._waiting)

    def status(self) -> Dict[str, int]:
        """What ``pysmbd status --json`` shows under ``memory`` (bytes)."""
        largest = max((account.in_use for account in self._accounts), default=0)
        return {
            "in_use": self.in_use,
            "limit": self.total,
            "per_connection_limit": self.per_connection,
            "largest_connection": largest,
            "paused_connections": self.paused,
        }

    def _fair_share(self, account: MemoryAccount) -> int:
        consumers = self._consumers + (0 if account.in_use else 1)
        return self.total // max(1, consumers)

    def _changed(self, account: MemoryAccount, before: int, after: int) -> None:
        self.in_use += after - before
        if bool(before) != bool(after):
            self._consumers += 1 if after else -1
        if after < before and self._waiting:
            self._wake_waiting()

    def _wake_waiting(self) -> None:
        if self._wake_scheduled or not self._waiting:
            return
        if self._schedule is None:
            self._wake_now()
            return
        self._wake_scheduled = True
        self._schedule(self._wake_now)

    def _wake_now(self) -> None:
        """Let the waiting connections try again, the lightest first (they are the ones the rules let through)."""
        self._wake_scheduled = False
        for account in sorted(self._waiting, key=lambda waiting: waiting.in_use):
            if account in self._waiting:  # a callback before it may have closed it
                self._waiting.discard(account)
                account.on_wake()

    def _close(self, account: MemoryAccount) -> None:
        self._waiting.discard(account)
        self._accounts.discard(account)


class MemoryAccount:
    """What one connection holds; owned by its adapter."""

    def __init__(self, budget: MemoryBudget, on_wake: Callable[[], None]) -> None:
        self._budget = budget
        self.on_wake = on_wake
        self.in_use = 0
        self._closed = False

    def update(self, in_use: int) -> None:
        """The connection now holds ``in_use`` bytes."""
        if self._closed or in_use == self.in_use:
            return
        before, self.in_use = self.in_use, in_use
        self._budget._changed(self, before, in_use)

    def may_grow(self, cost: int, *, holds_answers: bool = True) -> bool:
        """May the connection take up to ``cost`` more bytes now? If not, it waits and ``on_wake`` follows.

        ``holds_answers``: some of what the connection holds are answers its client has still to take.
        """
        budget, used = self._budget, self.in_use
        if self._closed:
            return False
        if not holds_answers:
            budget._waiting.discard(self)
            return True
        allowed = not used or used + cost <= budget.per_connection
        if allowed and budget.in_use + cost > budget.total:
            allowed = used + cost <= budget._fair_share(self)
        if allowed:
            budget._waiting.discard(self)
        else:
            budget._waiting.add(self)
        return allowed

    @property
    def over_own_limit(self) -> bool:
        """Past the per-connection limit: only this client reading its responses can help."""
        return self.in_use > self._budget.per_connection

    def close(self) -> None:
        """The connection is gone: what it held is free."""
        if self._closed:
            return
        self.update(0)
        self._closed = True
        self._budget._close(self)
