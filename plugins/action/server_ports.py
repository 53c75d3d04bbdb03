# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``server_ports``: Windows work runs here over WinRM; Linux work runs as the module on the target.

Both reach the same backend interface (``module_utils/backends``): here ``WindowsBackend`` with a WinRM shell,
on the target the module's pysmbd or Samba backend. ``server_ports_info``'s action plugin reuses this class.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.smb.alternative_ports.plugins.module_utils._winrm_options import WINRM_ARGUMENT_SPEC
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._hosts import is_windows_host

# Options only the windows backend understands; they never reach the Linux module.
_WINDOWS_ONLY = frozenset(WINRM_ARGUMENT_SPEC)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    MODULE = "smb.alternative_ports.server_ports"
    CHANGES_STATE = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        backend = args.get("backend", "auto")
        if backend == "windows" or (backend == "auto" and is_windows_host(task_vars)):
            result.update(self._run_windows(args, task_vars))
            return result
        linux_args = {key: value for key, value in args.items() if key not in _WINDOWS_ONLY}
        result.update(self._execute_module(module_name=self.MODULE, module_args=linux_args, task_vars=task_vars))
        return result

    def _run_windows(self, args: dict, task_vars: dict) -> dict:
        # Imported here: only Windows work needs pywinrm, and a missing pywinrm must not break Linux hosts.
        try:
            from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_backend import (
                run_windows_server_ports,
            )
            from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import target_from_task
        except ImportError as exc:
            return {"failed": True, "msg": f"the windows backend needs pywinrm on the controller: {exc}"}
        options = {key: value for key, value in args.items() if key.startswith("winrm_")}
        return run_windows_server_ports(
            lambda: target_from_task(task_vars, options, self._templar.template),
            args,
            check_mode=bool(self._task.check_mode) if self.CHANGES_STATE else None,
            diff_mode=bool(self._task.diff),
        )
