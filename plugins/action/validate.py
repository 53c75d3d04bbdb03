# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side ``validate``: checks the model and never contacts the host."""

from __future__ import annotations

import copy

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.smb.alternative_ports.plugins.module_utils._model import ModelIssue, validate_model
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._hosts import is_windows_host
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._schema import load_schema

_FIXED_VANTAGE_POINTS = ("controller", "target")

# Loaded once by Ansible's main process, which imports this plugin before it forks a worker per host: each worker
# then finds jsonschema and the schema document in memory instead of reading them again.
try:
    import jsonschema  # noqa: F401  pylint: disable=unused-import

    load_schema()
except (ImportError, OSError, ValueError):
    pass  # run() reports what is missing, for each host


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("model", "host_is_windows"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        host = task_vars.get("inventory_hostname", "?")

        model = self._task.args.get("model")
        if model is None:
            if "smb_alternative_ports" not in task_vars:
                result.update(failed=True, msg=f"host {host}: no model: set smb_alternative_ports or pass model")
                return result
            model = self._templar.template(task_vars["smb_alternative_ports"])

        host_is_windows = self._task.args.get("host_is_windows")
        if host_is_windows is None:
            host_is_windows = self._looks_like_windows(task_vars)

        try:
            outcome = validate_model(model, load_schema(), host_is_windows=bool(host_is_windows))
        except (OSError, ValueError) as exc:
            raise AnsibleError(f"cannot load the model schema: {to_native(exc)}") from exc

        errors = list(outcome.errors)
        if outcome.ok:
            errors.extend(self._vantage_point_errors(outcome.normalized, task_vars))

        result["model_warnings"] = [str(w) for w in outcome.warnings]
        if outcome.warnings:
            result["warnings"] = [f"host {host}: {w}" for w in outcome.warnings]
        if errors:
            lines = "\n".join(f"  - {e}" for e in errors)
            count = f"{len(errors)} problem{'s' if len(errors) > 1 else ''}"
            result.update(
                failed=True,
                errors=[e.as_dict() for e in errors],
                msg=f"host {host}: smb_alternative_ports has {count}; nothing was changed:\n{lines}",
            )
            return result

        backend = outcome.normalized["backend"]
        if backend == "auto" and host_is_windows:
            backend = "windows"
        result.update(model=_without_secrets(outcome.normalized), backend=backend, msg=f"host {host}: model is valid")
        return result

    def _looks_like_windows(self, task_vars) -> bool:
        return is_windows_host(task_vars, getattr(self._connection, "transport", ""), self._templar.template)

    @staticmethod
    def _vantage_point_errors(model, task_vars) -> list:
        vantage = model["verify"]["from"]
        inventory = (task_vars.get("groups") or {}).get("all", [])
        if vantage in _FIXED_VANTAGE_POINTS or vantage in inventory:
            return []
        return [
            ModelIssue(
                "verify.from",
                f"{vantage!r} is not an inventory host",
                "use controller, target, or the name of a host in the inventory",
            )
        ]


def _without_secrets(model: dict) -> dict:
    """The model to return: a task result is printed (-v) and handed to every callback, so no password in it."""
    shown = copy.deepcopy(model)
    credentials = (shown.get("verify") or {}).get("credentials") or {}
    if credentials.get("password"):
        credentials["password"] = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    for mapping in (shown.get("client") or {}).get("mappings") or []:
        if mapping.get("password"):
            mapping["password"] = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    return shown
