"""Waiting for a condition the test cannot be told about (a server closing a connection, a file appearing)."""

from __future__ import annotations

import time
from typing import Callable


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll ``condition`` every 50 ms until it is true or ``timeout`` seconds pass; return its last answer, so
    ``assert wait_until(...)`` fails with the state at the deadline rather than a timeout error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())
