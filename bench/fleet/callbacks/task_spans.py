# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bench-only callback: per task, how long each host took and how long the task held the whole play.

A task that fans out well keeps ``forks`` hosts busy at once: the sum of its host durations is close to
``span x forks``. A serial step (a lock, a controller-side loop) shows as a sum close to the span itself.
Written as JSON to the file named by ``FLEET_SPANS_FILE``.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_spans
type: aggregate
short_description: Per-task host durations and spans, for the fleet benchmark
description:
  - Writes, for every task, the hosts it ran on, the sum of their durations and the task's span to the file
    named by the environment variable C(FLEET_SPANS_FILE).
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_spans"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.started: dict = {}
        self.tasks: dict = {}
        self.play_start = time.monotonic()

    def _task(self, task) -> dict:
        key = task._uuid  # pylint: disable=protected-access
        if key not in self.tasks:
            self.tasks[key] = {"name": task.get_name(), "hosts": 0, "host_seconds": 0.0, "first": None, "last": None}
        return self.tasks[key]

    def v2_runner_on_start(self, host, task) -> None:
        now = time.monotonic()
        self.started[(task._uuid, host.get_name())] = now  # pylint: disable=protected-access
        entry = self._task(task)
        entry["first"] = now if entry["first"] is None else min(entry["first"], now)

    def _done(self, result) -> None:
        now = time.monotonic()
        task, host = result._task, result._host.get_name()  # pylint: disable=protected-access
        start = self.started.pop((task._uuid, host), None)  # pylint: disable=protected-access
        entry = self._task(task)
        entry["last"] = now if entry["last"] is None else max(entry["last"], now)
        if start is not None:
            entry["hosts"] += 1
            entry["host_seconds"] += now - start

    def v2_runner_on_ok(self, result) -> None:
        self._done(result)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._done(result)

    def v2_runner_on_skipped(self, result) -> None:
        self._done(result)

    def v2_runner_on_unreachable(self, result) -> None:
        self._done(result)

    def v2_playbook_on_stats(self, stats) -> None:
        path = os.environ.get("FLEET_SPANS_FILE")
        if not path:
            return
        rows = []
        for entry in self.tasks.values():
            if entry["first"] is None or entry["last"] is None:
                continue
            rows.append(
                {
                    "name": entry["name"],
                    "hosts": entry["hosts"],
                    "host_seconds": round(entry["host_seconds"], 3),
                    "span_seconds": round(entry["last"] - entry["first"], 3),
                    "start_offset": round(entry["first"] - self.play_start, 3),
                }
            )
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"wall_seconds": round(time.monotonic() - self.play_start, 3), "tasks": rows}, handle, indent=1)
