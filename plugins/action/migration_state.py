# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side ``migration_state``: reads and records a port migration's state file; never contacts a host."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from ansible.plugins.action import ActionBase

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._migration_state import (
    StateFileError,
    completed,
    forget_hosts,
    load_state,
    record_phase,
    save_state,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "migration", "phase", "outcomes", "forget"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        args = self._task.args
        result["changed"] = False
        path, name = args.get("path"), args.get("migration")
        if not path or not name:
            result.update(failed=True, msg="migration_state needs path (the state file) and migration (its name)")
            return result
        path = Path(str(path)).expanduser()
        try:
            document = load_state(path, str(name))
            before = json.dumps(document, sort_keys=True)
            updated = copy.deepcopy(document)
            done = []
            if args.get("phase"):
                outcomes = {str(row["host"]): row for row in args.get("outcomes") or [] if row and row.get("host")}
                done = record_phase(updated, str(args["phase"]), outcomes)
            forget_hosts(updated, [str(h) for h in args.get("forget") or []])
            changed = json.dumps(updated, sort_keys=True) != before
            if changed and not self._task.check_mode:
                save_state(path, updated)
        except StateFileError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        except OSError as exc:
            result.update(failed=True, msg=f"cannot write the migration state file {path}: {exc}")
            return result
        result.update(changed=changed, path=str(path), state=updated, completed=completed(updated), done=done)
        return result
