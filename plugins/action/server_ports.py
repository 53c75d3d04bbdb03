# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``server_ports``: Windows work runs here over WinRM; Linux work runs as the module on the target.

``server_ports_info``'s action plugin reuses this class with its own module name.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

_WINDOWS_CONNECTIONS = ("winrm", "psrp", "ansible.builtin.winrm", "ansible.builtin.psrp", "ansible.windows.psrp")
# Options only the windows backend understands; they never reach the Linux module.
_WINDOWS_ONLY = frozenset(
    (
        "firewall",
        "winrm_host",
        "winrm_port",
        "winrm_user",
        "winrm_password",
        "winrm_scheme",
        "winrm_transport",
        "winrm_cert_validation",
        "winrm_ca_trust_path",
        "winrm_message_encryption",
        "winrm_operation_timeout",
    )
)


def host_is_windows(task_vars: dict) -> bool:
    connection = str(task_vars.get("ansible_connection", ""))
    return connection in _WINDOWS_CONNECTIONS or str(task_vars.get("ansible_os_family", "")) == "Windows"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    MODULE = "smb.alternative_ports.server_ports"
    CHANGES_STATE = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        backend = args.get("backend", "auto")
        if backend == "windows" or (backend == "auto" and host_is_windows(task_vars)):
            result.update(self._run_windows(args, task_vars))
            return result
        linux_args = {key: value for key, value in args.items() if key not in _WINDOWS_ONLY}
        result.update(self._execute_module(module_name=self.MODULE, module_args=linux_args, task_vars=task_vars))
        return result

    def _run_windows(self, args: dict, task_vars: dict) -> dict:
        # Imported here: only Windows work needs pywinrm, and a missing pywinrm must not break Linux hosts.
        try:
            from ansible_collections.smb.alternative_ports.plugins.plugin_utils import _windows_server_ports as windows
            from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import WindowsTaskError
            from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import (
                WinRMError,
                target_from_task,
            )
        except ImportError as exc:
            return {"failed": True, "msg": f"the windows backend needs pywinrm on the controller: {exc}"}
        options = {key: value for key, value in args.items() if key.startswith("winrm_")}
        try:
            target = target_from_task(task_vars, options, self._templar.template)
            if self.CHANGES_STATE:
                outcome = windows.run_server_ports(target, args, bool(self._task.check_mode))
                if not self._task.diff:
                    outcome.pop("diff", None)
            else:
                outcome = windows.run_server_ports_info(target, args)
        except WindowsTaskError as exc:
            return dict(exc.result, failed=True, msg=str(exc), backend="windows")
        except WinRMError as exc:
            return {"failed": True, "msg": str(exc), "backend": "windows"}
        return outcome
