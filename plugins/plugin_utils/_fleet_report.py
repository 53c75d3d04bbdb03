# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report behind ``smb.alternative_ports.report``: verify results of many hosts as one picture.

This is a private controller-side file: its API may change without notice.

Everything here is pure: ``build_report`` turns what ``verify`` registered on each host into a ``FleetReport``,
and ``render_html`` (``_fleet_report_html``), ``render_nmap_xml`` (``_fleet_report_nmap``) and ``render_markdown``
(``_fleet_report_markdown``) turn that into text. No clock is read: a report made twice from the same results is
the same text, which is what lets the action plugin say ``changed=false``.

The pieces of a report:

- a *phase* is one set of verify results (one registered variable), optionally named (``add``, ``remove``);
- within a phase, a *matrix*: one row per inventory host, one column per (transport, port) any host reported,
  one cell per verify row;
- a host that has no verify result in a phase (the task was skipped, failed before probing, or never ran) keeps
  its row, marked with the reason, so a missing host is seen rather than silently left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, List, Optional, Sequence, Tuple

REPORT_NAME = "smb.alternative_ports.report"

# Per verify status: (what a person reads, nmap port state, nmap reason). A verify row that answered in any way
# is "open" to nmap; refused is "closed"; silence is "filtered" (nmap's "open|filtered" for UDP, as QUIC is).
STATUS_MEANING: Dict[str, Tuple[str, str, str]] = {
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
UNKNOWN_MEANING = ("a status this report does not know", "unknown", "unknown")


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


def signing_text(cell: Cell) -> Optional[str]:
    if cell.signing_required is None:
        return None
    return "signing required" if cell.signing_required else "signing optional"


def cell_details(cell: Cell) -> str:
    """Everything a person wants on hover: expectation, status, dialect, signing, latency, TLS, error."""
    parts = [
        "%s expect %s: %s (%s)"
        % (cell.label, cell.expect, cell.status, STATUS_MEANING.get(cell.status, UNKNOWN_MEANING)[0]),
        "ok" if cell.ok else "FAILED",
    ]
    if cell.dialect:
        parts.append("dialect %s" % cell.dialect)
    if signing_text(cell):
        parts.append(signing_text(cell))
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


def phase_title(phase: Phase) -> str:
    return "Phase %s" % phase.name if phase.name else "Results"


def meaning(status: str) -> Tuple[str, str, str]:
    """(what a person reads, nmap state, nmap reason) for a verify status; a status unknown here still renders."""
    return STATUS_MEANING.get(status, UNKNOWN_MEANING)
