# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report as one self-contained HTML page: inline CSS, no script, nothing loaded from elsewhere.

This is a private controller-side file: its API may change without notice.
"""

from __future__ import annotations

import html
import re
from typing import Dict, List, Optional

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report import (
    REPORT_NAME,
    Cell,
    FleetReport,
    Phase,
    cell_details,
    failure_text,
    meaning,
    phase_title,
    summary_line,
)

# Colours by status, readable on white; a failed cell gets a red frame and a cross on top of its colour.
_STATUS_COLOURS: Dict[str, str] = {
    "smb": "#b7e1b0",
    "open": "#d9eec2",
    "not_smb": "#e3c8ef",
    "auth_failed": "#ffd1b3",
    "share_denied": "#ffe0b8",
    "tls_failed": "#f7bfd3",
    "alpn_mismatch": "#f2d0e6",
    "refused": "#dfe3e8",
    "timeout": "#fff0a8",
    "unreachable": "#ffd98a",
    "unsupported_transport": "#c9d3da",
}
_UNKNOWN_COLOUR = "#ffffff"


_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #1d2329; background: #fff; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
.summary { font-size: 1.05em; font-weight: bold; }
.summary.failed { color: #b3261e; }
.generated { color: #59636e; font-size: .9em; }
table.matrix { border-collapse: separate; border-spacing: 3px; }
table.matrix th { text-align: left; font-weight: 600; padding: .25em .6em; white-space: nowrap; }
table.matrix thead th { background: #eef1f4; text-align: center; }
table.matrix tbody th small { color: #59636e; font-weight: normal; }
table.matrix td { min-width: 6.5em; padding: .3em .5em; text-align: center; border: 2px solid transparent;
  border-radius: 4px; white-space: nowrap; }
table.matrix td small { display: block; color: #39424b; font-size: .8em; }
table.matrix td.fail { border-color: #b3261e; font-weight: bold; }
table.matrix td.none { background: repeating-linear-gradient(45deg, #fff, #fff 4px, #f1f3f5 4px, #f1f3f5 8px); }
table.matrix td.missing { text-align: left; color: #b3261e; background: #fdecea; }
ul.legend { list-style: none; padding: 0; margin: .6em 0; display: flex; flex-wrap: wrap; gap: .4em .9em; }
ul.legend li { font-size: .85em; }
ul.legend span { display: inline-block; width: 1em; height: 1em; vertical-align: -.15em; margin-right: .3em;
  border-radius: 3px; border: 1px solid #9aa4ad; }
ol.failures li { margin: .2em 0; }
"""


def _status_css() -> str:
    rules = ["td.status-%s { background: %s; }" % (status, colour) for status, colour in _STATUS_COLOURS.items()]
    return "\n".join(rules)


def _css_name(status: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "_", status.lower())


def _html_cell(cell: Optional[Cell]) -> str:
    if cell is None:
        return '<td class="none" title="not probed on this host"></td>'
    classes = "status-%s %s" % (_css_name(cell.status), "ok" if cell.ok else "fail")
    mark = "\u2713" if cell.ok else "\u2717"
    if not cell.ok:
        detail = "expected %s" % cell.expect  # what the frame means, readable without hovering
    else:
        detail = cell.dialect or ("%.1f ms" % cell.latency_ms if cell.latency_ms is not None else "")
    return '<td class="%s" data-status="%s" data-transport="%s" data-port="%d" title="%s">%s %s%s</td>' % (
        classes,
        html.escape(cell.status),
        html.escape(cell.transport),
        cell.port,
        html.escape(cell_details(cell)),
        mark,
        html.escape(cell.status),
        "<small>%s</small>" % html.escape(detail) if detail else "",
    )


def _phase_summary(phase: Phase) -> dict:
    return {
        "hosts": len(phase.hosts),
        "ports": len(phase.columns),
        "failures": len(phase.failures),
        "hosts_without_result": [host.name for host in phase.hosts if host.missing],
    }


def _html_phase(phase: Phase, titled: bool) -> List[str]:
    """One section; ``titled`` adds the phase's heading and its own summary line (several phases, or a named one)."""
    columns = phase.columns
    failures = phase.failures
    out = ['<section class="phase" data-phase="%s">' % html.escape(phase.name)]
    if titled:
        summary = _phase_summary(phase)
        failed = " failed" if summary["failures"] or summary["hosts_without_result"] else ""
        out.append("<h2>%s</h2>" % html.escape(phase_title(phase)))
        out.append('<p class="summary%s">%s</p>' % (failed, html.escape(summary_line(summary))))
    out.append('<table class="matrix"><thead><tr><th scope="col">Host</th>')
    for transport, port in columns:
        out.append('<th scope="col" data-transport="%s" data-port="%d">%s/%d</th>' % (transport, port, transport, port))
    out.append("</tr></thead><tbody>")
    for host in phase.hosts:
        address = host.address
        out.append(
            '<tr data-host="%s"><th scope="row">%s%s</th>'
            % (
                html.escape(host.name),
                html.escape(host.name),
                " <small>%s</small>" % html.escape(address) if address and address != host.name else "",
            )
        )
        if host.missing:
            out.append('<td class="missing" colspan="%d">%s</td>' % (max(len(columns), 1), html.escape(host.missing)))
        else:
            out.extend(_html_cell(host.cell(column)) for column in columns)
        out.append("</tr>")
    out.append("</tbody></table>")
    if failures:
        out.append('<ol class="failures">')
        out.extend("<li>%s</li>" % html.escape(failure_text(name, cell)) for name, cell in failures)
        out.append("</ol>")
    out.append("</section>")
    return out


def _html_legend(report: FleetReport) -> str:
    used = []
    for phase in report.phases:
        for host in phase.hosts:
            for cell in host.cells:
                if cell.status not in used:
                    used.append(cell.status)
    items = [
        '<li><span class="status-%s" style="background: %s"></span>%s: %s</li>'
        % (
            _css_name(status),
            _STATUS_COLOURS.get(status, _UNKNOWN_COLOUR),
            html.escape(status),
            html.escape(meaning(status)[0]),
        )
        for status in used
    ]
    items.append("<li>\u2713 as expected, \u2717 not as expected (red frame); hover a cell for its details</li>")
    return '<ul class="legend">%s</ul>' % "".join(items)


def render_html(report: FleetReport) -> str:
    """One self-contained page: inline CSS, no script, no external font or image."""
    summary = report.summary()
    failed = summary["failures"] or summary["hosts_without_result"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><meta name="generator" content="%s">' % REPORT_NAME,
        "<title>%s</title>" % html.escape(report.title),
        "<style>%s%s</style></head>" % (_CSS, _status_css()),
        "<body>",
        "<h1>%s</h1>" % html.escape(report.title),
        '<p class="summary%s" id="summary">%s</p>' % (" failed" if failed else "", html.escape(summary_line(summary))),
    ]
    if report.timestamp:
        out.append('<p class="generated">Results of %s</p>' % html.escape(report.timestamp.isoformat()))
    out.append(_html_legend(report))
    for phase in report.phases:
        out.extend(_html_phase(phase, titled=len(report.phases) > 1 or bool(phase.name)))
    out.append("</body></html>")
    return "\n".join(out) + "\n"
