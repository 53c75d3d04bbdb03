# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report behind ``smb.alternative_ports.report``: verify results of many hosts as one picture.

This is a private controller-side file: its API may change without notice.

Everything here is pure: ``build_report`` turns what ``verify`` registered on each host into a ``FleetReport``,
and ``render_html``, ``render_nmap_xml`` and ``render_markdown`` turn that into text. No clock is read: a report
made twice from the same results is the same text, which is what lets the action plugin say ``changed=false``.

The pieces of a report:

- a *phase* is one set of verify results (one registered variable), optionally named (``add``, ``remove``);
- within a phase, a *matrix*: one row per inventory host, one column per (transport, port) any host reported,
  one cell per verify row;
- a host that has no verify result in a phase (the task was skipped, failed before probing, or never ran) keeps
  its row, marked with the reason, so a missing host is seen rather than silently left out.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, List, Optional, Sequence, Tuple

REPORT_NAME = "smb.alternative_ports.report"

# Per verify status: (what a person reads, nmap port state, nmap reason). A verify row that answered in any way
# is "open" to nmap; refused is "closed"; silence is "filtered" (nmap's "open|filtered" for UDP, as QUIC is).
_STATUS_MEANING: Dict[str, Tuple[str, str, str]] = {
    "smb": ("SMB2 answered", "open", "syn-ack"),
    "open": ("TCP connection accepted (SMB not checked)", "open", "syn-ack"),
    "not_smb": ("something other than SMB2 answered", "open", "syn-ack"),
    "auth_failed": ("SMB answered, the login was refused", "open", "syn-ack"),
    "share_denied": ("SMB answered, the tree connect was refused", "open", "syn-ack"),
    "tls_failed": ("QUIC answered, its certificate or TLS handshake failed", "open", "udp-response"),
    "alpn_mismatch": ("QUIC answered without ALPN smb", "open", "udp-response"),
    "refused": ("connection refused", "closed", "conn-refused"),
    "timeout": ("no answer within the timeout", "filtered", "no-response"),
    "unreachable": ("host or network unreachable", "filtered", "host-unreach"),
    "unsupported_transport": ("not probed (RDMA)", "unknown", "not-probed"),
}
_UNKNOWN_MEANING = ("a status this report does not know", "unknown", "unknown")

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


class ReportInputError(ValueError):
    """A registered variable that is not a verify result; the message names host, variable and fix."""


@dataclass(frozen=True)
class Cell:
    """One verify row, as the report shows it."""

    transport: str
    port: int
    expect: str
    status: str
    ok: bool
    address: Optional[str] = None
    probed_host: Optional[str] = None
    latency_ms: Optional[float] = None
    dialect: Optional[str] = None
    signing_required: Optional[bool] = None
    tls_validation: Optional[str] = None
    cipher: Optional[str] = None
    error: Optional[str] = None

    @property
    def column(self) -> Tuple[str, int]:
        return (self.transport, self.port)

    @property
    def label(self) -> str:
        return "%s/%d" % (self.transport, self.port)


@dataclass
class HostRow:
    """One inventory host in one phase: its cells, or why it has none."""

    name: str
    cells: List[Cell] = field(default_factory=list)
    missing: Optional[str] = None
    """Why this host has no verify result in this phase (None when it has one)."""

    @property
    def address(self) -> Optional[str]:
        return next((cell.address for cell in self.cells if cell.address), None)

    def cell(self, column: Tuple[str, int]) -> Optional[Cell]:
        return next((cell for cell in self.cells if cell.column == column), None)


@dataclass
class Phase:
    name: str
    """Empty when the report has a single unnamed set of results."""
    hosts: List[HostRow]

    @property
    def columns(self) -> List[Tuple[str, int]]:
        """Every (transport, port) any host reported, TCP first, then QUIC and RDMA, by port."""
        order = {"tcp": 0, "quic": 1, "rdma": 2}
        seen = {cell.column for host in self.hosts for cell in host.cells}
        return sorted(seen, key=lambda column: (order.get(column[0], 9), column[0], column[1]))

    @property
    def failures(self) -> List[Tuple[str, Cell]]:
        return [(host.name, cell) for host in self.hosts for cell in host.cells if not cell.ok]


@dataclass
class FleetReport:
    title: str
    phases: List[Phase]
    timestamp: Optional[datetime] = None
    """When the results were taken, only when the caller gives it (the renderers never read a clock)."""

    def summary(self) -> dict:
        hosts = {host.name for phase in self.phases for host in phase.hosts}
        columns = {column for phase in self.phases for column in phase.columns}
        endpoints = sum(len(host.cells) for phase in self.phases for host in phase.hosts)
        failures = sum(len(phase.failures) for phase in self.phases)
        without = sorted({host.name for phase in self.phases for host in phase.hosts if host.missing})
        return {
            "hosts": len(hosts),
            "ports": len(columns),
            "endpoints": endpoints,
            "failures": failures,
            "hosts_without_result": without,
        }

    def summary_line(self) -> str:
        return summary_line(self.summary())


def _plural(count: int, word: str) -> str:
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def summary_line(summary: dict) -> str:
    """``3 hosts, 4 ports, 1 failure`` (plus the hosts without a result, when there are some)."""
    line = "%s, %s, %s" % (
        _plural(summary["hosts"], "host"),
        _plural(summary["ports"], "port"),
        _plural(summary["failures"], "failure"),
    )
    if summary["hosts_without_result"]:
        line += ", %s without a verify result (%s)" % (
            _plural(len(summary["hosts_without_result"]), "host"),
            ", ".join(summary["hosts_without_result"]),
        )
    return line


# ---------------------------------------------------------------------------------------------------------------
# Reading what verify registered on each host
# ---------------------------------------------------------------------------------------------------------------


def _cell_from_row(row, where: str) -> Cell:
    if not isinstance(row, dict):
        raise ReportInputError("%s: expected a verify row (a mapping), got %r" % (where, row))
    for key, kind in (("transport", str), ("port", int), ("status", str), ("ok", bool)):
        value = row.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ReportInputError(
                "%s.%s: %r is not a %s; give the variable that the verify task registered"
                % (where, key, value, kind.__name__)
            )
    latency = row.get("latency_ms")
    return Cell(
        transport=row["transport"],
        port=row["port"],
        expect=str(row.get("expect") or "open"),
        status=row["status"],
        ok=row["ok"],
        address=row.get("address"),
        probed_host=row.get("host"),
        latency_ms=float(latency) if isinstance(latency, (int, float)) and not isinstance(latency, bool) else None,
        dialect=row.get("dialect"),
        signing_required=row.get("signing_required"),
        tls_validation=row.get("tls_validation"),
        cipher=row.get("cipher"),
        error=row.get("error"),
    )


def _looks_like_row(item) -> bool:
    return isinstance(item, dict) and "port" in item and "status" in item


def _rows_of(value, where: str) -> Tuple[List[Cell], Optional[str]]:
    """The cells in one registered value, or why there are none. Loop registrations are flattened."""
    if not isinstance(value, dict):
        raise ReportInputError(
            "%s: %r is not a registered verify result; register the verify task (register: NAME) and give NAME"
            % (where, value)
        )
    if value.get("skipped"):
        return [], "verify was skipped on this host (%s)" % (value.get("skip_reason") or "when condition false")
    results = value.get("results")
    if results is None:
        if value.get("failed"):
            return [], "verify failed before probing: %s" % (value.get("msg") or "no message")
        raise ReportInputError(
            "%s: has no results; give the variable that the verify task registered (its keys: %s)"
            % (where, ", ".join(sorted(value)) or "none")
        )
    if not isinstance(results, list):
        raise ReportInputError("%s.results: expected a list of verify rows, got %r" % (where, results))
    if results and all(isinstance(item, dict) and not _looks_like_row(item) for item in results):
        cells: List[Cell] = []
        reasons = []
        for index, item in enumerate(results):  # a verify task with a loop: one result per item
            item_cells, reason = _rows_of(item, "%s.results[%d]" % (where, index))
            cells.extend(item_cells)
            if reason:
                reasons.append(reason)
        return cells, (None if cells else "; ".join(reasons) or "the loop produced no rows")
    return [_cell_from_row(row, "%s.results[%d]" % (where, index)) for index, row in enumerate(results)], None


def host_row(name: str, value, variable: str, defined: bool = True) -> HostRow:
    """One host's row from the value of its registered variable (``defined=False`` when it has none)."""
    if not defined:
        return HostRow(name, missing="no variable %s (the verify task did not run on this host)" % variable)
    cells, missing = _rows_of(value, "hostvars[%r].%s" % (name, variable))
    unique: List[Cell] = []
    for cell in cells:  # one cell per endpoint: the first row of an endpoint probed twice wins
        if all(other.column != cell.column for other in unique):
            unique.append(cell)
    return HostRow(name, unique, missing)


def parse_timestamp(value) -> Optional[datetime]:
    """An ISO 8601 text or a Unix time as a timezone-aware datetime (UTC when none is given); None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReportInputError(
            "timestamp: %r is not ISO 8601 (for example 2026-12-02T14:00:00Z) nor a Unix time" % value
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def build_report(
    title: str,
    phases: Sequence[Tuple[str, str]],
    hosts: Sequence[str],
    hostvars: dict,
    timestamp=None,
) -> FleetReport:
    """The report of ``hosts`` for each (phase name, registered variable) in ``phases``.

    ``hostvars`` maps a host name to its variables (Ansible's ``hostvars``); a host missing from it, or without
    the variable, gets a row that says so.
    """
    built = []
    for phase_name, variable in phases:
        rows = []
        for name in hosts:
            variables = hostvars.get(name) or {}
            defined = variable in variables
            rows.append(host_row(name, variables[variable] if defined else None, variable, defined))
        built.append(Phase(phase_name, rows))
    return FleetReport(title, built, parse_timestamp(timestamp))


# ---------------------------------------------------------------------------------------------------------------
# Text for a cell, shared by the renderers
# ---------------------------------------------------------------------------------------------------------------


def _signing(cell: Cell) -> Optional[str]:
    if cell.signing_required is None:
        return None
    return "signing required" if cell.signing_required else "signing optional"


def cell_details(cell: Cell) -> str:
    """Everything a person wants on hover: expectation, status, dialect, signing, latency, TLS, error."""
    parts = [
        "%s expect %s: %s (%s)"
        % (cell.label, cell.expect, cell.status, _STATUS_MEANING.get(cell.status, _UNKNOWN_MEANING)[0]),
        "ok" if cell.ok else "FAILED",
    ]
    if cell.dialect:
        parts.append("dialect %s" % cell.dialect)
    if _signing(cell):
        parts.append(_signing(cell))
    if cell.cipher:
        parts.append("cipher %s" % cell.cipher)
    if cell.tls_validation:
        parts.append("certificate %s" % ("validated" if cell.tls_validation == "on" else "NOT validated"))
    if cell.latency_ms is not None:
        parts.append("latency %.1f ms" % cell.latency_ms)
    if cell.address:
        parts.append("address %s" % cell.address)
    if cell.error and not cell.ok:
        parts.append(cell.error)
    return "; ".join(parts)


def failure_text(host: str, cell: Cell) -> str:
    text = "%s %s: expected %s, found %s" % (host, cell.label, cell.expect, cell.status)
    return text + (
        " (%s)" % cell.error
        if cell.error and cell.error != "expected %s, found %s" % (cell.expect, cell.status)
        else ""
    )


def _phase_title(phase: Phase) -> str:
    return "Phase %s" % phase.name if phase.name else "Results"


# ---------------------------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------------------------

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
        out.append("<h2>%s</h2>" % html.escape(_phase_title(phase)))
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
            html.escape(_STATUS_MEANING.get(status, _UNKNOWN_MEANING)[0]),
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


# ---------------------------------------------------------------------------------------------------------------
# nmap XML
# ---------------------------------------------------------------------------------------------------------------

NMAP_STYLESHEET = "file:///usr/share/nmap/nmap.xsl"


def nmap_state(cell: Cell) -> Tuple[str, str]:
    """(state, reason) as nmap would write them for this endpoint; QUIC is UDP, where silence is open|filtered."""
    _meaning, state, reason = _STATUS_MEANING.get(cell.status, _UNKNOWN_MEANING)
    if cell.transport == "quic":
        if cell.status == "timeout":
            return "open|filtered", "no-response"
        if cell.status == "refused":
            return "closed", "port-unreach"
    return state, reason


def _nmap_service(cell: Cell) -> dict:
    # The endpoint was configured as SMB; only an answer that is something else makes it "unknown".
    attributes = {"name": "unknown" if cell.status in ("not_smb", "alpn_mismatch") else "microsoft-ds"}
    if cell.status == "smb":
        attributes["product"] = "SMB2"
        if cell.dialect:
            attributes["version"] = cell.dialect
        extra = [text for text in (_signing(cell), cell.cipher and "cipher %s" % cell.cipher) if text]
        if extra:
            attributes["extrainfo"] = ", ".join(extra)
        attributes["method"] = "probed"
        attributes["conf"] = "10"
    elif cell.status in ("tls_failed", "alpn_mismatch", "not_smb"):
        attributes["extrainfo"] = cell.status
        attributes["method"] = "probed"
        attributes["conf"] = "3"
    else:
        attributes["method"] = "table"
        attributes["conf"] = "3"
    if cell.transport == "quic":
        attributes["tunnel"] = "ssl"
    return attributes


def _address_type(address: str) -> str:
    return "ipv6" if ":" in address else "ipv4"


def _scaninfo(phase: Phase) -> List[dict]:
    by_protocol: Dict[str, List[int]] = {}
    for transport, port in phase.columns:
        protocol = "udp" if transport == "quic" else "tcp"
        by_protocol.setdefault(protocol, [])
        if port not in by_protocol[protocol]:
            by_protocol[protocol].append(port)
    return [
        {
            "type": "udp" if protocol == "udp" else "connect",
            "protocol": protocol,
            "numservices": str(len(ports)),
            "services": ",".join(str(port) for port in sorted(ports)),
        }
        for protocol, ports in sorted(by_protocol.items())
    ]


def render_nmap_xml(report: FleetReport, phase: Optional[Phase] = None) -> str:
    """The results of one phase (the last by default) in nmap's XML format, for ndiff, xsltproc and SIEM tools.

    ndiff matches hosts across files by address and name, so each host carries its address (from verify) and its
    inventory name as a ``user`` hostname. A host without a result is left out, as nmap leaves out what it did not
    scan; hosts where nothing answered are ``down``.
    """
    phase = phase if phase is not None else report.phases[-1]
    args = "smb.alternative_ports.verify%s" % (" (phase %s)" % phase.name if phase.name else "")
    run = ET.Element("nmaprun", scanner="smb.alternative_ports", args=args)
    if report.timestamp:
        run.set("start", str(int(report.timestamp.timestamp())))
        run.set("startstr", report.timestamp.strftime("%a %b %d %H:%M:%S %Y"))
    run.set("version", "1.0")
    run.set("xmloutputversion", "1.05")
    for info in _scaninfo(phase):
        ET.SubElement(run, "scaninfo", info)
    ET.SubElement(run, "verbose", level="0")
    ET.SubElement(run, "debugging", level="0")
    up = down = 0
    for host in phase.hosts:
        if host.missing:
            continue
        answered = any(nmap_state(cell)[0] not in ("filtered", "open|filtered", "unknown") for cell in host.cells)
        up, down = (up + 1, down) if answered else (up, down + 1)
        element = ET.SubElement(run, "host")
        ET.SubElement(element, "status", state="up" if answered else "down", reason="user-set", reason_ttl="0")
        address = host.address or next((cell.probed_host for cell in host.cells if cell.probed_host), None)
        if address:
            ET.SubElement(element, "address", addr=address, addrtype=_address_type(address))
        names = ET.SubElement(element, "hostnames")
        ET.SubElement(names, "hostname", name=host.name, type="user")
        ports = ET.SubElement(element, "ports")
        for cell in sorted(host.cells, key=lambda c: ("udp" if c.transport == "quic" else "tcp", c.port)):
            port = ET.SubElement(
                ports, "port", protocol="udp" if cell.transport == "quic" else "tcp", portid=str(cell.port)
            )
            state, reason = nmap_state(cell)
            ET.SubElement(port, "state", state=state, reason=reason, reason_ttl="0")
            ET.SubElement(port, "service", _nmap_service(cell))
            if not cell.ok:
                ET.SubElement(port, "script", id="smb-alternative-ports-verify", output=failure_text(host.name, cell))
    stats = ET.SubElement(run, "runstats")
    finished = {"summary": "%s; %s" % (REPORT_NAME, report.summary_line()), "exit": "success"}
    if report.timestamp:
        finished.update(time=str(int(report.timestamp.timestamp())), timestr=run.get("startstr", ""))
    ET.SubElement(stats, "finished", finished)
    ET.SubElement(stats, "hosts", up=str(up), down=str(down), total=str(up + down))
    ET.indent(run)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
        '<?xml-stylesheet href="%s" type="text/xsl"?>\n' % NMAP_STYLESHEET + ET.tostring(run, encoding="unicode") + "\n"
    )


# ---------------------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------------------


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
            out += ["### %s" % _md(_phase_title(phase)), ""]
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
