# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report as Markdown, for a pull request or a change ticket.

This is a private controller-side file: its API may change without notice.
"""

from __future__ import annotations

import re
from typing import Optional

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report import (
    Cell,
    FleetReport,
    failure_text,
    phase_title,
)


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, no line breaks."""
    return re.sub(r"\s+", " ", str(text)).replace("|", "\\|").strip()


def _md_cell(cell: Optional[Cell]) -> str:
    if cell is None:
        return ""
    text = "%s %s" % ("\u2705" if cell.ok else "\u274c", cell.status)
    if cell.dialect:
        text += " %s" % cell.dialect
    if not cell.ok:
        text += " (expected %s)" % cell.expect
    return _md(text)


def render_markdown(report: FleetReport) -> str:
    """For a pull request or a change ticket: the summary, one table per phase, then every failure.

    Latency is left out (it is on the HTML page): the same fleet state gives the same text run after run.
    """
    out = ["## %s" % _md(report.title), "", "**%s**" % _md(report.summary_line()), ""]
    if report.timestamp:
        out += ["Results of %s." % report.timestamp.isoformat(), ""]
    for phase in report.phases:
        columns = phase.columns
        if len(report.phases) > 1 or phase.name:
            out += ["### %s" % _md(phase_title(phase)), ""]
        out.append("| Host | " + " | ".join("%s/%d" % column for column in columns) + " |")
        out.append("|---|" + "---|" * len(columns))
        for host in phase.hosts:
            if host.missing:
                cells = ["no result: %s" % _md(host.missing)] + [""] * max(len(columns) - 1, 0)
            else:
                cells = [_md_cell(host.cell(column)) for column in columns]
            out.append("| %s | %s |" % (_md(host.name), " | ".join(cells)))
        failures = phase.failures
        if failures:
            out += ["", "Failures:", ""]
            out += ["- %s" % _md(failure_text(name, cell)) for name, cell in failures]
        out.append("")
    return "\n".join(out)
