"""Remake docs/fleet-report.png, the README's picture of smb.alternative_ports.report.

The page is rendered from verify results recorded on real servers (the unit tests' fixture), with a fourth host
whose endpoints fail, and photographed by headless Chromium exactly as the tests do. The recording used free
ports the kernel picked; here they are renumbered to 4445 (old) and 14445 (new), the ports a real fleet would
share, so the picture shows a dense matrix. Nothing else in the rows is changed. Run from the repository root:

    .venv/bin/python docs/screenshot_fleet_report.py
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / ".tmp" / "collections")]

importlib.import_module("tests.conftest")  # lays the collection link that the import below needs
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report import build_report  # noqa: E402
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report_html import render_html  # noqa: E402
from tests.support.browser import screenshot  # noqa: E402

RECORDED = json.loads((ROOT / "tests/unit/plugins/plugin_utils/fleet_report_verify_results.json").read_text())


def renumbered(value: dict, ports: dict) -> dict:
    rows = []
    for row in value["results"]:
        port = ports.get(row["port"], row["port"])
        error = (row["error"] or "").replace("port %d/" % row["port"], "port %d/" % port) or None
        rows.append(dict(row, port=port, error=error))
    return dict(value, results=rows)


def main() -> None:
    recorded = RECORDED["ports"]
    problems = [row["port"] for row in RECORDED["proof_problems"]["fs3"]["results"]]
    ports = {
        recorded["old"]: 4445,
        recorded["new"]: 14445,
        recorded["fs2"]: 4445,
        recorded["samba"]: 4445,
        problems[0]: 4445,  # an HTTP server where SMB was expected
        problems[1]: 14445,  # nothing listening where SMB was expected
    }
    hostvars: dict = {}
    for variable in ("proof_before", "proof_after"):
        for host, value in RECORDED[variable].items():
            hostvars.setdefault(host, {})[variable] = renumbered(value, ports)
    fs3 = renumbered(RECORDED["proof_problems"]["fs3"], ports)
    hostvars["fs3"] = {"proof_before": fs3, "proof_after": fs3}
    report = build_report(
        "Moving fs1 to a new port",
        [("before", "proof_before"), ("after", "proof_after")],
        ["fs1", "fs2", "samba", "fs3"],
        hostvars,
    )
    with tempfile.TemporaryDirectory() as work:
        page = Path(work) / "fleet.html"
        page.write_text(render_html(report))
        screenshot(page, ROOT / "docs" / "fleet-report.png", size=(900, 640))


if __name__ == "__main__":
    main()
