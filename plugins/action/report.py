# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side ``report``: reads every play host's registered verify result and writes the fleet report.

It bypasses the host loop (it runs once per play, like ``add_host``) and never contacts a host: the results are
already in ``hostvars``. The rendering is in ``plugin_utils/_fleet_report.py``; this file only gathers inputs,
compares with the files on disk and writes what changed.
"""

from __future__ import annotations

import os
import re

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.smb.alternative_ports.plugins.module_utils._files import ConfigWriteError, write_atomically
from ansible_collections.smb.alternative_ports.plugins.module_utils._report_args import (
    REPORT_ARGUMENT_SPEC,
    REPORT_MUTUALLY_EXCLUSIVE,
    REPORT_REQUIRED_ONE_OF,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report import ReportInputError, build_report
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report_html import render_html
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report_markdown import render_markdown
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report_nmap import render_nmap_xml

PHASE_PLACEHOLDER = "{phase}"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    BYPASS_HOST_LOOP = True
    _VALID_ARGS = frozenset(REPORT_ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(
            argument_spec=REPORT_ARGUMENT_SPEC,
            mutually_exclusive=REPORT_MUTUALLY_EXCLUSIVE,
            required_one_of=REPORT_REQUIRED_ONE_OF,
        )
        phases = [(p["name"], p["results_var"]) for p in args["phases"]] if args["phases"] else []
        if not phases:
            phases = [(args["phase"], args["results_var"])]
        names = [name for name, _variable in phases]
        if len(set(names)) != len(names):
            raise AnsibleActionFail("phases: each phase needs its own name; %s is repeated" % _repeated(names))

        hosts = args["hosts"] if args["hosts"] is not None else task_vars.get("ansible_play_hosts_all") or []
        hostvars = task_vars.get("hostvars") or {}
        try:
            report = build_report(args["title"], phases, list(hosts), _HostvarsView(hostvars), args["timestamp"])
        except ReportInputError as exc:
            raise AnsibleActionFail("%s; nothing was written" % to_native(exc)) from None

        files = [(os.path.abspath(os.path.expanduser(path)), text) for path, text in self._files(args, report)]
        for path, _text in files:  # all checked before any is written: no half-updated set of reports
            if not os.path.isdir(os.path.dirname(path)):
                raise AnsibleActionFail(
                    "cannot write %s: its directory does not exist on the controller (create it first)" % path
                )
        check_mode = bool(self._task.check_mode)
        outcomes = [self._put(path, text, check_mode) for path, text in files]
        summary = report.summary()
        result.update(
            changed=any(outcome["changed"] for outcome in outcomes),
            summary=summary,
            files=[{"path": o["path"], "changed": o["changed"]} for o in outcomes],
            markdown=render_markdown(report),
            msg=report.summary_line(),
        )
        if self._task.diff:
            result["diff"] = [o["diff"] for o in outcomes if o["changed"]]
        if args["fail_on_failures"] and (summary["failures"] or summary["hosts_without_result"]):
            result.update(failed=True, msg="the fleet report shows problems: %s" % report.summary_line())
        return result

    @staticmethod
    def _files(args: dict, report) -> list:
        """(path, text) for every file asked for; an nmap_xml path with {phase} gives one file per phase."""
        files = []
        if args["html"]:
            files.append((args["html"], render_html(report)))
        if args["nmap_xml"]:
            path = args["nmap_xml"]
            if PHASE_PLACEHOLDER in path:
                for phase in report.phases:
                    label = re.sub(r"[^A-Za-z0-9_.-]", "_", phase.name) or "results"  # never a path separator
                    files.append((path.replace(PHASE_PLACEHOLDER, label), render_nmap_xml(report, phase)))
            else:
                files.append((path, render_nmap_xml(report)))
        if args["markdown"]:
            files.append((args["markdown"], render_markdown(report)))
        return files

    @staticmethod
    def _put(path: str, text: str, check_mode: bool) -> dict:
        """Write ``text`` to ``path`` on the controller unless it already holds exactly that."""
        data = text.encode("utf-8")
        try:
            with open(path, "rb") as handle:
                before = handle.read()
        except FileNotFoundError:
            before = None
        except OSError as exc:
            raise AnsibleActionFail("cannot read %s: %s (choose another path)" % (path, to_native(exc))) from None
        changed = before != data
        if changed and not check_mode:
            try:  # a temporary file renamed over the old one: a browser or a pipeline never reads half a report
                write_atomically(path, text)
            except ConfigWriteError as exc:
                raise AnsibleActionFail(to_native(exc)) from None
        diff = {
            "before_header": path if before is not None else "%s (absent)" % path,
            "after_header": path,
            "before": before.decode("utf-8", "replace") if before is not None else "",
            "after": text,
        }
        return {"path": path, "changed": changed, "diff": diff}


class _HostvarsView:
    """``hostvars`` read lazily: only the hosts and the variables the report asks for are templated."""

    def __init__(self, hostvars) -> None:
        self._hostvars = hostvars

    def get(self, name, default=None):
        if name not in self._hostvars:
            return default
        return self._hostvars[name]


def _repeated(names: list) -> str:
    return ", ".join(sorted({repr(name) for name in names if names.count(name) > 1}))
