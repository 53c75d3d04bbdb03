"""What tests can see of the host: every cmdlet call, counters per client user, a JSON state file.

Counters (in total and per authenticated user, ``DOMAIN\\user`` or ``user``):

- ``shells_created`` / ``shells_deleted``: WinRS shells (the collection opens one per task);
- ``commands``: Command requests, whatever they ran (the "command executions" of a round-trip budget);
- ``executions``: commands that passed the command-line check and ran once their stdin was complete;
- ``refused``: commands refused because they were not the collection's executor (command line or stdin).

The state file (when configured) is rewritten atomically after every change, so a test in another
process (molecule starts the host as its own process) reads a consistent snapshot:
``{"url", "pid", "state", "calls", "counters"}``.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from .request_runner import CallRecord

COUNTER_NAMES = (
    "shells_created",
    "shells_deleted",
    "commands",
    "executions",
    "refused",
    "console_mode_stdin",  # commands started with WINRS_CONSOLEMODE_STDIN=TRUE (stdin is a console, not a pipe)
)


class Observer:
    """Thread-safe record of the host's activity."""

    def __init__(self, snapshot_state: Callable[[], dict[str, Any]], state_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._snapshot_state = snapshot_state
        self._state_file = state_file
        self._calls: list[CallRecord] = []
        self._totals: Counter[str] = Counter()
        self._per_user: dict[str, Counter[str]] = {}
        self.url = ""

    def count(self, user: str, name: str) -> int:
        """Add one to a counter; return the new total."""
        assert name in COUNTER_NAMES, name
        with self._lock:
            self._totals[name] += 1
            self._per_user.setdefault(user, Counter())[name] += 1
            return self._totals[name]

    def record_call(self, record: CallRecord) -> None:
        with self._lock:
            self._calls.append(record)

    @property
    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [record.to_json() for record in self._calls]

    @property
    def counters(self) -> dict[str, Any]:
        with self._lock:
            totals = {name: self._totals[name] for name in COUNTER_NAMES}
            totals["per_user"] = {
                user: {name: counts[name] for name in COUNTER_NAMES} for user, counts in sorted(self._per_user.items())
            }
            return totals

    def reset(self) -> None:
        """Forget calls and counters (between test phases); the model's state is kept."""
        with self._lock:
            self._calls.clear()
            self._totals.clear()
            self._per_user.clear()
        self.write_state_file()

    def write_state_file(self) -> None:
        if self._state_file is None:
            return
        snapshot = {
            "url": self.url,
            "pid": os.getpid(),
            "state": self._snapshot_state(),
            "calls": self.calls,
            "counters": self.counters,
        }
        temporary = self._state_file.with_name(self._state_file.name + ".tmp")
        with self._lock:  # one writer at a time, so the rename never publishes a half-written file
            temporary.write_text(json.dumps(snapshot, indent=1), encoding="utf-8")
            os.replace(temporary, self._state_file)


def read_state_file(path: str | Path) -> dict[str, Any]:
    """Read a host's state file (for tests running in another process than the host)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
