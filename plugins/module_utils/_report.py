# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reports of a verify run: a fixed-width table for people, JSON and JUnit XML for pipelines.

This is a private module_utils file: its API may change without notice.

Every function takes the result rows as dicts (``ProbeResult.as_dict()``), so the report is exactly what the
module returns. Files are written atomically (temporary file, then rename) so a pipeline never reads half a
report.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from ansible_collections.smb.alternative_ports.plugins.module_utils._files import write_atomically

_COLUMNS = (
    ("transport", "TRANSPORT"),
    ("port", "PORT"),
    ("expect", "EXPECT"),
    ("status", "STATUS"),
    ("ok", "OK"),
    ("latency_ms", "MS"),
    ("dialect", "DIALECT"),
    ("signing_required", "SIGNING"),
    ("tls_validation", "TLS"),
    ("error", "DETAIL"),
)


def summarize(rows: list) -> dict:
    ok = sum(1 for row in rows if row["ok"])
    return {"total": len(rows), "ok": ok, "failed": len(rows) - ok}


def _cell(name: str, row: dict) -> str:
    value = row.get(name)
    if name == "ok":
        return "ok" if value else "FAIL"
    if name == "signing_required":
        return "" if value is None else ("required" if value else "optional")
    if name == "tls_validation":
        return "" if value is None else ("validated" if value == "on" else "NOT-validated")
    if name == "latency_ms":
        return "" if value is None else "%.1f" % value
    if name == "error":
        return "" if row.get("ok") or not value else str(value)
    return "" if value is None else str(value)


def render_table(host: str, rows: list) -> str:
    """One header line and one line per endpoint, columns padded to fixed widths; the detail comes last."""
    cells = [[_cell(name, row) for name, _title in _COLUMNS] for row in rows]
    titles = [title for _name, title in _COLUMNS]
    widths = [max([len(title)] + [len(line[i]) for line in cells]) for i, title in enumerate(titles)]
    lines = []
    for line in [titles, *cells]:
        padded = [text.ljust(width) for text, width in zip(line[:-1], widths[:-1])]
        lines.append(("  ".join(padded) + "  " + line[-1]).rstrip())
    summary = summarize(rows)
    lines.append("%s: %d endpoints, %d ok, %d failed" % (host, summary["total"], summary["ok"], summary["failed"]))
    return "\n".join(lines)


def json_report(host: str, level: str, rows: list) -> dict:
    return {"host": host, "level": level, "summary": summarize(rows), "results": rows}


def write_json_report(path: str, host: str, level: str, rows: list) -> None:
    text = json.dumps(json_report(host, level, rows), indent=2, sort_keys=True) + "\n"
    write_atomically(path, text)


def junit_document(host: str, level: str, rows: list) -> ET.Element:
    """A ``<testsuites>`` with one ``<testsuite>`` per host and one ``<testcase>`` per endpoint."""
    summary = summarize(rows)
    total_seconds = sum((row.get("latency_ms") or 0.0) for row in rows) / 1000.0
    suites = ET.Element("testsuites", name="smb.alternative_ports.verify")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="verify %s (level %s)" % (host, level),
        tests=str(summary["total"]),
        failures=str(summary["failed"]),
        errors="0",
        skipped="0",
        time="%.3f" % total_seconds,
    )
    for row in rows:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="smb.alternative_ports.verify.%s" % host.replace(".", "_"),
            name="%s/%d expect %s" % (row["transport"], row["port"], row["expect"]),
            time="%.3f" % ((row.get("latency_ms") or 0.0) / 1000.0),
        )
        if not row["ok"]:
            failure = ET.SubElement(
                case,
                "failure",
                type=row["status"],
                message="expected %s, found %s" % (row["expect"], row["status"]),
            )
            failure.text = row.get("error") or ""
        details = ["status=%s" % row["status"]]
        details += ["%s=%s" % (key, row[key]) for key in ("dialect", "signing_required", "server_guid") if row.get(key)]
        ET.SubElement(case, "system-out").text = " ".join(details)
    return suites


def write_junit_report(path: str, host: str, level: str, rows: list) -> None:
    text = ET.tostring(junit_document(host, level, rows), encoding="unicode")
    write_atomically(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n")
