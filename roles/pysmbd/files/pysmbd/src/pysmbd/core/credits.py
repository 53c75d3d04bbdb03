"""The command sequence window: which MessageIds a client may use next (MS-SMB2 3.3.1.1, 3.3.5.2.3).

A connection starts with the window { 0 }. Every credit the server grants adds the next sequence number
to the window; every request (but CANCEL) removes its MessageId, or its CreditCharge consecutive numbers
starting there, and a number once removed never comes back. A request whose numbers are not all in the
window, or that reuses one, ends the connection (what Windows and Samba do).

The window is kept as ``[low, high)`` plus the numbers in it already used out of order. ``low`` is the
lowest number not yet used, so every number below it is gone; the set never holds more than
``high - low`` entries, and the server never lets ``high - low`` exceed its maximum credits (3.3.1.1:
the server MAY limit the range of acceptable sequence numbers).
"""

from __future__ import annotations

MAX_SEQUENCE = 0xFFFFFFFFFFFFFFFF
"""MessageId is 64 bits and this one is reserved (2.2.1): grants stop short of it, so the sequence never
wraps (3.3.1.1) and a client that used every number is refused like any other out-of-window request."""


class SequenceWindow:
    """The sequence numbers a client may still use on one connection."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        """The widest the window may grow (the server's maximum credits)."""
        self.low = 0
        """The lowest unused sequence number: every number below it was used."""
        self.high = 1
        """One past the highest granted number; a new connection may use { 0 } (3.3.1.1)."""
        self._used: set[int] = set()
        """Numbers in ``(low, high)`` already used, ahead of ``low`` (requests may arrive out of order)."""

    @property
    def available(self) -> int:
        """Granted numbers not yet used: the credits the client holds."""
        return self.high - self.low - len(self._used)

    def room(self) -> int:
        """How many more numbers a grant may add before the window spans ``limit``."""
        return max(0, self.limit - (self.high - self.low))

    def grant(self, count: int) -> int:
        """Add up to ``count`` numbers at the top of the window; returns how many were added."""
        count = max(0, min(count, self.room(), MAX_SEQUENCE - self.high))
        self.high += count
        return count

    def consume(self, message_id: int, charge: int = 1) -> bool:
        """Use ``charge`` consecutive numbers from ``message_id`` (3.3.5.2.3, 3.3.5.2.5).

        False, and nothing used, when any of them lies outside the window or was used before.
        """
        charge = max(1, charge)
        end = message_id + charge
        if message_id < self.low or end > self.high:
            return False
        if message_id == self.low and not self._used:  # the usual case: the client uses the lowest numbers
            self.low = end
            return True
        numbers = range(message_id, end)
        if any(number in self._used for number in numbers):
            return False
        self._used.update(numbers)
        while self.low in self._used:  # slide the bottom of the window past what is now used
            self._used.discard(self.low)
            self.low += 1
        return True
