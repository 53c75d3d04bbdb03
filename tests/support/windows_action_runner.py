"""Drive the Windows action plugins in process, with their WinRM session replaced by the emulated host's model.

Used by tests/unit/plugins/action/test_client*.py and test_quic*.py, with tests/support/windows_model_session.py.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

from tests.support.windows_model_session import ModelHost

HOST_VARS = {
    "inventory_hostname": "win1",
    "ansible_connection": "winrm",
    "ansible_host": "192.0.2.10",
    "ansible_port": 5986,
    "ansible_user": "Administrator",
    "ansible_password": "Pa55-w0rd-never-shown",
    "ansible_winrm_transport": "ntlm",
    "ansible_winrm_server_cert_validation": "ignore",
}


class ActionRunner:
    """Builds one action plugin per call, as the task executor would, and records the targets it reached."""

    def __init__(self, module_name: str, runner_name: str, model_host: ModelHost, monkeypatch) -> None:
        self.module = importlib.import_module(f"ansible_collections.smb.alternative_ports.plugins.action.{module_name}")
        self.model_host = model_host
        self.targets = []
        real = getattr(self.module, runner_name)

        def through_model(target, args, check_mode):
            self.targets.append(target)
            return real(target, args, check_mode, session_factory=model_host.session_factory)

        monkeypatch.setattr(self.module, runner_name, through_model)

    def run(self, args: dict, check_mode: bool = False, diff: bool = False, task_vars: dict | None = None) -> dict:
        task = SimpleNamespace(args=dict(args), check_mode=check_mode, diff=diff, async_val=0, action="test")
        connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir="unused"))
        templar = SimpleNamespace(template=lambda value: value)
        action = self.module.ActionModule(task, connection, SimpleNamespace(password=None), None, templar, None)
        return action.run(task_vars=dict(HOST_VARS if task_vars is None else task_vars))
