# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test-only callback: writes every task result, by task name and host, to the JSON file named by
``SMB_TEST_RESULTS_FILE``, so tests assert on structured results rather than on screen output."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: results_file
type: aggregate
short_description: Write task results to a JSON file for tests
description:
  - "Writes one mapping, task name to host to result, to the file named by the environment variable C(SMB_TEST_RESULTS_FILE)."
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "results_file"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.results: dict = {}

    def _record(self, result, **status) -> None:
        data = dict(result._result)  # pylint: disable=protected-access
        data.update(status)
        self.results.setdefault(result._task.get_name(), {})[result._host.get_name()] = data  # pylint: disable=protected-access

    def v2_runner_on_ok(self, result, **kwargs) -> None:
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._record(result, failed=True)

    def v2_runner_on_unreachable(self, result) -> None:
        self._record(result, unreachable=True)

    def v2_runner_on_skipped(self, result) -> None:
        self._record(result, skipped=True)

    def v2_playbook_on_stats(self, stats) -> None:
        path = os.environ.get("SMB_TEST_RESULTS_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(self.results, handle, default=str)
