# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``verify``: from the controller the probes run here; from any other vantage point, the module.

The usual vantage point is the controller (``delegate_to: localhost``). Shipping the module there costs a Python
start and the import of Ansible's module runtime and the probes for every host, several times what the probes
themselves cost; here they run in the worker that already exists, with the imports below done once by Ansible's
main process (it loads the action plugin before it forks the workers). The task and its result are the module's:
the same options, checks, rows, reports and messages (``module_utils/_verify_task.py`` is shared by both).

The module still runs when the controller's process is not what the module would get: another connection
(the target or any host over SSH or WinRM), ``become``, ``async``, an ``environment``, or another Python interpreter
for the vantage point.
"""

from __future__ import annotations

import os
import sys

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.smb.alternative_ports.plugins.module_utils._verify_task import (
    ARGUMENT_SPEC,
    MUTUALLY_EXCLUSIVE,
    REQUIRED_ONE_OF,
    VerifyFailed,
    run_verify,
    secret_values,
)

_LOCAL_CONNECTIONS = frozenset(("local", "ansible.builtin.local", "ansible.legacy.local"))
_VALIDATOR = ArgumentSpecValidator(
    ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE, required_one_of=REQUIRED_ONE_OF
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _supports_async = True
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        if not self._runs_in_this_process(task_vars):
            wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
            result.update(self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            return result
        result.update(self._verify_here())
        return result

    def _runs_in_this_process(self, task_vars: dict) -> bool:
        """Whether the module would run on this machine, as this user, with this Python (so, exactly as here)."""
        if self._task.async_val or self._play_context.become or any(self._task.environment or []):
            return False  # the module would run as another user, detached, or with other environment variables
        if self._connection.transport not in _LOCAL_CONNECTIONS:
            return False
        if self._task.delegate_to:
            task_vars = (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to, task_vars)
        interpreter = task_vars.get("ansible_python_interpreter")
        if interpreter is None:
            return False  # interpreter discovery picks a Python of its own: leave the choice to it
        return _same_python(str(self._templar.template(interpreter)), sys.executable)

    def _verify_here(self) -> dict:
        validation = _VALIDATOR.validate(dict(self._task.args))
        secrets = set(validation._no_log_values)  # pylint: disable=protected-access
        if validation.error_messages:
            raise AnsibleActionFail(validation.errors.msg)  # the module's message: its first argument error
        params = validation.validated_parameters
        secrets |= secret_values(params)
        # A module's result carries the options it ran with (no_log values masked): so does this one.
        invocation = {"module_args": params}
        try:
            outcome = run_verify(params)
        except VerifyFailed as exc:
            return remove_values(dict(exc.fields, failed=True, msg=exc.msg, invocation=invocation), secrets)
        result = remove_values(dict(outcome.result, invocation=invocation), secrets)
        if outcome.warnings:
            result["warnings"] = outcome.warnings
        return result


def _same_python(interpreter: str, executable: str) -> bool:
    """The same interpreter in the same place: a virtualenv's python and python3.11 are one, the base Python is not."""
    first, second = os.path.abspath(interpreter), os.path.abspath(executable)
    if first == second:
        return True
    try:
        return os.path.dirname(first) == os.path.dirname(second) and os.path.samefile(first, second)
    except OSError:
        return False
