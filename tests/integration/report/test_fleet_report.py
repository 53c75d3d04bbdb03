"""smb.alternative_ports.report end to end: a real fleet verified before and after fs1 moves port, then its report
read with Chromium, ndiff and xsltproc, as a person or a pipeline would."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.browser import dump_dom, elements, hex_colour, png_colours, screenshot
from tests.support.peers import require_tool

pytestmark = [pytest.mark.peer, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[3] / ".tmp" / "artifacts"
NMAP_STYLESHEET = Path("/usr/share/nmap/nmap.xsl")
SMB_GREEN = "#b7e1b0"  # td.status-smb in the page's style sheet
REFUSED_GREY = "#dfe3e8"  # td.status-refused


def test_the_report_covers_both_phases_of_every_host(fleet_run):
    report = fleet_run.result("report")
    assert report["changed"] is True
    assert report["summary"] == {"hosts": 3, "ports": 5, "endpoints": 10, "failures": 0, "hosts_without_result": []}
    assert report["msg"] == "3 hosts, 5 ports, 0 failures"
    written = sorted(Path(entry["path"]).name for entry in report["files"])
    assert written == ["fleet-after.xml", "fleet-before.xml", "fleet.html", "fleet.md"]
    assert [d["after_header"] for d in report["diff"]] == [entry["path"] for entry in report["files"]]
    assert all(d["before"] == "" for d in report["diff"])  # the files were new


def test_the_same_results_again_change_nothing_and_check_mode_writes_nothing(fleet_run):
    again = fleet_run.result("report again")
    assert again["changed"] is False
    assert [entry["changed"] for entry in again["files"]] == [False, False, False, False]

    checked = fleet_run.result("report in check mode")
    assert checked["changed"] is True
    assert [(Path(e["path"]).name, e["changed"]) for e in checked["files"]] == [
        ("fleet.html", True),
        ("fleet-before.xml", False),
        ("fleet-after.xml", False),
        ("fleet.md", False),
    ]
    assert list((fleet_run.out / "check").iterdir()) == []
    assert "<table" in checked["diff"][0]["after"]


def test_chromium_shows_one_row_per_host_and_a_cell_per_port(fleet_run):
    page = fleet_run.out / "fleet.html"
    dom = elements(dump_dom(page))
    sections = [(i, e) for i, e in enumerate(dom) if e["tag"] == "section"]
    assert [e["data-phase"] for _i, e in sections] == ["before", "after"]
    ports = fleet_run.ports
    for index, _section in sections:
        inside = [e for e in dom if index in e["_parents"]]
        headers = [
            (e["data-transport"], int(e["data-port"])) for e in inside if e["tag"] == "th" and e.get("data-port")
        ]
        tcp = sorted([ports["old"], ports["new"], ports["fs2"], ports["samba"]])
        assert headers == [("tcp", port) for port in tcp] + [("quic", ports["quic"])]
        rows = [(i, e) for i, e in enumerate(dom) if index in e["_parents"] and e["tag"] == "tr" and e.get("data-host")]
        assert [e["data-host"] for _i, e in rows] == ["fs1", "fs2", "samba"]
        for row_index, _row in rows:
            cells = [e for e in dom if row_index in e["_parents"] and e["tag"] == "td"]
            assert len(cells) == len(headers)

    def fs1_cells(phase: str) -> dict:
        index = next(i for i, e in sections if e["data-phase"] == phase)
        return {
            int(e["data-port"]): e
            for e in dom
            if index in e["_parents"] and e["tag"] == "td" and e.get("data-port") and "127.0.3.1" in e["title"]
        }

    before, after = fs1_cells("before"), fs1_cells("after")
    assert (before[ports["old"]]["data-status"], before[ports["new"]]["data-status"]) == ("smb", "refused")
    assert (after[ports["old"]]["data-status"], after[ports["new"]]["data-status"]) == ("refused", "smb")
    hover = after[ports["new"]]["title"]  # what a person sees on hover
    assert "dialect 3.1.1" in hover and "signing required" in hover
    assert re.search(r"latency \d+\.\d ms", hover)
    summary = next(e for e in dom if e.get("id") == "summary")
    assert summary["_text"] == "3 hosts, 5 ports, 0 failures"
    quic = next(e for e in dom if e["tag"] == "td" and e.get("data-transport") == "quic")
    assert quic["data-status"] == "smb" and "certificate validated" in quic["title"]

    shot = screenshot(page, ARTIFACTS / "fleet-report.png")
    colours = png_colours(shot)
    # Eight SMB cells and two refused cells, each some 100x40 pixels: the colours are on screen, not only in CSS.
    assert colours[hex_colour(SMB_GREEN)] > 8 * 2000
    assert colours[hex_colour(REFUSED_GREY)] > 2 * 2000


def test_the_page_loads_nothing_from_elsewhere(fleet_run):
    page = (fleet_run.out / "fleet.html").read_text()
    assert "<script" not in page
    assert not re.search(r"(src|href)\s*=|@import|url\(|@font-face", page)


def test_ndiff_reports_the_port_that_moved(fleet_run):
    ndiff = require_tool("ndiff", "ndiff")
    before, after = fleet_run.out / "fleet-before.xml", fleet_run.out / "fleet-after.xml"
    done = subprocess.run([ndiff, str(before), str(after)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stdout + done.stderr  # 1: the scans differ
    old, new = fleet_run.ports["old"], fleet_run.ports["new"]
    lines = [line.split() for line in done.stdout.splitlines() if re.match(r"[-+]\d+/", line)]
    smb = ["open", "microsoft-ds", "SMB2", "3.1.1", "(signing", "required,", "cipher", "AES-128-GCM)"]
    assert sorted(lines) == sorted(  # ndiff sorts by port number, and the free ports came in any order
        [
            [f"-{old}/tcp", *smb],
            [f"+{old}/tcp", "closed", "microsoft-ds"],
            [f"-{new}/tcp", "closed", "microsoft-ds"],
            [f"+{new}/tcp", *smb],
        ]
    ), done.stdout
    assert " fs1 (127.0.3.1):" in done.stdout
    assert "fs2" not in done.stdout and "samba" not in done.stdout  # their ports did not change


def test_xsltproc_renders_the_xml_with_nmaps_stylesheet(fleet_run, tmp_path):
    xsltproc = require_tool("xsltproc", "xsltproc")
    if not NMAP_STYLESHEET.exists():
        pytest.fail(f"{NMAP_STYLESHEET} is missing: install the Debian package nmap (apt-get install nmap)")
    out = tmp_path / "after.html"
    subprocess.run(
        [xsltproc, "-o", str(out), str(NMAP_STYLESHEET), str(fleet_run.out / "fleet-after.xml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    page = out.read_text()
    for host, address in (("fs1", "127.0.3.1"), ("fs2", "127.0.3.2"), ("samba", "127.0.0.1")):
        assert f"{address} / {host}" in page  # each host's heading
    for port in (fleet_run.ports["new"], fleet_run.ports["fs2"], fleet_run.ports["samba"]):
        assert re.search(rf">{port}</td>\s*<td>tcp</td>\s*<td>open</td>\s*<td>microsoft-ds\s*</td>", page), port
    assert re.search(rf">{fleet_run.ports['old']}</td>\s*<td>tcp</td>\s*<td>closed</td>", page)
    assert re.search(rf">{fleet_run.ports['quic']}</td>\s*<td>udp</td>\s*<td>open</td>\s*<td>microsoft-ds", page)


def test_the_markdown_has_a_table_per_phase(fleet_run):
    text = (fleet_run.out / "fleet.md").read_text()
    assert text == fleet_run.result("report")["markdown"]
    ports = sorted(port for name, port in fleet_run.ports.items() if name != "quic")
    header = "| Host | " + " | ".join(f"tcp/{port}" for port in ports) + " | quic/%d |" % fleet_run.ports["quic"]
    assert text.count(header) == 2
    assert "### Phase before" in text and "### Phase after" in text
    fs1_rows = [line for line in text.splitlines() if line.startswith("| fs1 |")]
    column = {port: index for index, port in enumerate(ports)}
    cells = [[cell.strip() for cell in row.strip("|").split("|")[1:]] for row in fs1_rows]
    old, new = fleet_run.ports["old"], fleet_run.ports["new"]
    assert (cells[0][column[old]], cells[0][column[new]]) == ("\u2705 smb 3.1.1", "\u2705 refused")
    assert (cells[1][column[old]], cells[1][column[new]]) == ("\u2705 refused", "\u2705 smb 3.1.1")


def test_the_xml_is_what_nmap_tools_parse(fleet_run):
    root = ET.parse(fleet_run.out / "fleet-after.xml").getroot()
    assert root.tag == "nmaprun"
    hosts = {h.find("hostnames/hostname").get("name"): h for h in root.findall("host")}
    assert sorted(hosts) == ["fs1", "fs2", "samba"]
    fs1 = {int(p.get("portid")): p for p in hosts["fs1"].findall("ports/port")}
    assert fs1[fleet_run.ports["new"]].find("state").get("state") == "open"
    assert fs1[fleet_run.ports["new"]].find("service").attrib["name"] == "microsoft-ds"
    assert fs1[fleet_run.ports["old"]].find("state").get("state") == "closed"
    fs2_quic = next(p for p in hosts["fs2"].findall("ports/port") if p.get("protocol") == "udp")
    assert int(fs2_quic.get("portid")) == fleet_run.ports["quic"]
    assert fs2_quic.find("state").get("state") == "open"
    assert fs2_quic.find("service").get("tunnel") == "ssl"
