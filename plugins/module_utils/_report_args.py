# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of ``smb.alternative_ports.report``, shared by its module stub (documentation checks) and its
action plugin (which does the work on the controller).

This is a private module_utils file: its API may change without notice.
"""

from __future__ import annotations

REPORT_ARGUMENT_SPEC = dict(
    results_var=dict(type="str"),
    phase=dict(type="str", default=""),
    phases=dict(
        type="list",
        elements="dict",
        options=dict(name=dict(type="str", required=True), results_var=dict(type="str", required=True)),
    ),
    hosts=dict(type="list", elements="str"),
    title=dict(type="str", default="SMB ports of the fleet"),
    html=dict(type="path"),
    nmap_xml=dict(type="path"),
    markdown=dict(type="path"),
    timestamp=dict(type="raw"),
    fail_on_failures=dict(type="bool", default=False),
)
REPORT_MUTUALLY_EXCLUSIVE = [("results_var", "phases")]
REPORT_REQUIRED_ONE_OF = [("results_var", "phases")]
