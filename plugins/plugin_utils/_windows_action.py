# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The common part of the collection's Windows action plugins.

This is a private plugin_utils file: its API may change without notice.

The action plugin checks its arguments, builds the WinRM target from the host's connection variables (and
``winrm_*`` options), hands the work to a ``run_*`` function of plugin_utils and turns every expected error
into a failed result with a clear message and no traceback.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from ansible.plugins.action import ActionBase

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import ExecutorError
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import WindowsTaskError
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import (
    WinRMError,
    WinRMTarget,
    target_from_task,
)


class WindowsActionBase(ActionBase):
    """Subclasses set ``ARGUMENT_SPEC`` (the module's) and implement ``run_windows``."""

    TRANSFERS_FILES = False
    ARGUMENT_SPEC: Dict[str, Any] = {}

    def run_windows(self, target: WinRMTarget, args: Mapping[str, Any], check_mode: bool) -> Dict[str, Any]:
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp  # nothing is copied to the host
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            target = target_from_task(task_vars, args, self._templar.template)
            if not target.password and getattr(self._play_context, "password", None):
                target = target.with_password(self._play_context.password)  # ansible-playbook -k
            outcome = self.run_windows(target, args, bool(self._task.check_mode))
        except (WinRMError, WindowsTaskError, ExecutorError) as error:
            result.update(getattr(error, "result", None) or {})
            result.update(failed=True, changed=False, msg=str(error))
            return result
        diff = outcome.pop("diff", None)
        result.update(outcome)
        if self._task.diff and diff is not None:
            result["diff"] = diff
        return result
