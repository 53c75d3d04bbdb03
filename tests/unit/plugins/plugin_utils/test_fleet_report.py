"""The fleet report's reading and rendering (plugin_utils/_fleet_report*.py), from verify results recorded on
real servers.

``fleet_report_verify_results.json`` holds what ``verify`` registered in tests/integration/report's fleet: two
pysmbd hosts and a Samba host before and after fs1 moved from port ``old`` to ``new`` (``proof_before``,
``proof_after``), and a host with problems (``proof_problems``: an HTTP server, a closed port expected open, an
RDMA endpoint) probed by the same prober.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report import (
    Cell,
    ReportInputError,
    build_report,
    parse_timestamp,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report_html import render_html
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report_markdown import render_markdown
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report_nmap import (
    nmap_state,
    render_nmap_xml,
)
from tests.support.browser import elements

RECORDED = json.loads((Path(__file__).parent / "fleet_report_verify_results.json").read_text())
PORTS = RECORDED["ports"]
HOSTS = ["fs1", "fs2", "samba"]


def hostvars(*variables: str) -> dict:
    """Ansible's hostvars for the recorded hosts, with the given registered variables."""
    merged: dict = {}
    for variable in variables:
        for host, value in RECORDED[variable].items():
            merged.setdefault(host, {})[variable] = copy.deepcopy(value)
    return merged


def migration_report(**kwargs):
    phases = [("before", "proof_before"), ("after", "proof_after")]
    return build_report("Move", phases, HOSTS, hostvars("proof_before", "proof_after"), **kwargs)


def problems_report():
    return build_report("Problems", [("", "proof_problems")], ["fs3"], hostvars("proof_problems"))


# --- reading registered results --------------------------------------------------------------------------------


def test_each_phase_has_a_row_per_host_and_a_column_per_port():
    report = migration_report()
    assert [phase.name for phase in report.phases] == ["before", "after"]
    for phase in report.phases:
        assert [host.name for host in phase.hosts] == HOSTS
        assert phase.columns == sorted(("tcp", port) for port in PORTS.values())
    before, after = (phase.hosts[0] for phase in report.phases)
    assert before.cell(("tcp", PORTS["old"])).status == "smb"
    assert after.cell(("tcp", PORTS["old"])).status == "refused"
    assert after.cell(("tcp", PORTS["fs2"])) is None  # fs1 never probed fs2's port
    assert report.summary() == {"hosts": 3, "ports": 4, "endpoints": 8, "failures": 0, "hosts_without_result": []}
    assert report.summary_line() == "3 hosts, 4 ports, 0 failures"


def test_failures_are_counted_and_worded_with_what_was_expected():
    report = problems_report()
    assert report.summary_line() == "1 host, 3 ports, 3 failures"
    failures = report.phases[0].failures
    assert [(host, cell.status) for host, cell in failures] == [
        ("fs3", "not_smb"),
        ("fs3", "refused"),
        ("fs3", "unsupported_transport"),
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "no variable proof (the verify task did not run on this host)"),
        ({"skipped": True, "skip_reason": "Conditional result was False"}, "verify was skipped on this host"),
        (
            {"failed": True, "msg": "ca_path: /x is not a file"},
            "verify failed before probing: ca_path: /x is not a file",
        ),
    ],
)
def test_a_host_without_results_keeps_its_row_with_the_reason(value, reason):
    variables = {"fs1": {"proof": RECORDED["proof_after"]["fs1"]}, "fs9": {} if value is None else {"proof": value}}
    report = build_report("t", [("", "proof")], ["fs1", "fs9"], variables)
    missing = report.phases[0].hosts[1]
    assert missing.cells == [] and missing.missing.startswith(reason)
    assert report.summary()["hosts_without_result"] == ["fs9"]
    assert report.summary_line().endswith("1 host without a verify result (fs9)")
    assert "fs9" in render_html(report) and "fs9" in render_markdown(report)
    assert 'name="fs9"' not in render_nmap_xml(report)  # nmap leaves out hosts it did not scan


def test_a_verify_task_with_a_loop_gives_the_rows_of_every_item():
    fs1 = RECORDED["proof_after"]["fs1"]
    looped = {"changed": False, "results": [dict(fs1, results=[row]) for row in fs1["results"]]}
    report = build_report("t", [("", "proof")], ["fs1"], {"fs1": {"proof": looped}})
    assert [cell.port for cell in report.phases[0].hosts[0].cells] == [row["port"] for row in fs1["results"]]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a string", r"hostvars\['fs1'\]\.proof: 'a string' is not a registered verify result"),
        ({"changed": True, "stdout": ""}, r"hostvars\['fs1'\]\.proof: has no results; .*\(its keys: changed, stdout\)"),
        ({"results": [{"port": "445", "status": "smb", "transport": "tcp", "ok": True}]}, r"results\[0\]\.port: '445'"),
        ({"results": "nope"}, r"proof\.results: expected a list of verify rows"),
    ],
)
def test_a_variable_that_is_not_a_verify_result_is_refused_naming_host_and_field(value, message):
    with pytest.raises(ReportInputError, match=message):
        build_report("t", [("", "proof")], ["fs1"], {"fs1": {"proof": value}})


def test_an_endpoint_probed_twice_is_shown_once():
    fs1 = copy.deepcopy(RECORDED["proof_after"]["fs1"])
    fs1["results"].append(dict(fs1["results"][0], status="timeout", ok=False))
    report = build_report("t", [("", "proof")], ["fs1"], {"fs1": {"proof": fs1}})
    assert [cell.status for cell in report.phases[0].hosts[0].cells] == ["smb", "refused"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-12-02T14:00:00Z", datetime(2026, 12, 2, 14, tzinfo=timezone.utc)),
        ("2026-12-02T15:00:00+01:00", datetime(2026, 12, 2, 14, tzinfo=timezone.utc)),
        (1796220000, datetime.fromtimestamp(1796220000, tz=timezone.utc)),
        ("1796220000", datetime.fromtimestamp(1796220000, tz=timezone.utc)),
        (None, None),
    ],
)
def test_timestamps(given, expected):
    assert parse_timestamp(given) == expected


def test_a_timestamp_that_is_not_one_says_what_to_give():
    with pytest.raises(ReportInputError, match=r"timestamp: 'yesterday' is not ISO 8601 \(for example"):
        parse_timestamp("yesterday")


# --- HTML -------------------------------------------------------------------------------------------------------


def test_the_page_is_one_matrix_per_phase_with_details_on_hover():
    page = render_html(migration_report())
    dom = elements(page)
    rows = [e for e in dom if e["tag"] == "tr" and e.get("data-host")]
    assert [e["data-host"] for e in rows] == HOSTS * 2
    cells = [e for e in dom if e["tag"] == "td"]
    assert len(cells) == 2 * 3 * 4
    fs1_new_after = next(e for e in cells if e.get("data-port") == str(PORTS["new"]) and e.get("data-status") == "smb")
    assert fs1_new_after["class"] == "status-smb ok"
    assert re.fullmatch(
        r"tcp/\d+ expect open: smb \(SMB2 answered\); ok; dialect 3\.1\.1; signing required; cipher AES-128-GCM; "
        r"latency \d+\.\d ms; address 127\.0\.3\.1",
        fs1_new_after["title"],
    )
    assert [e["_text"] for e in dom if e["tag"] == "h2"] == ["Phase before", "Phase after"]
    assert next(e for e in dom if e.get("id") == "summary")["_text"] == "3 hosts, 4 ports, 0 failures"


def test_a_failed_cell_is_framed_and_says_why_on_hover():
    dom = elements(render_html(problems_report()))
    cells = {e["data-status"]: e for e in dom if e["tag"] == "td" and e.get("data-status")}
    assert cells["not_smb"]["class"] == "status-not_smb fail"
    assert cells["not_smb"]["_text"] == "\u2717 not_smbexpected open"  # the status, then its small second line
    assert "answered with an HTML page (an HTTP server), not SMB" in cells["not_smb"]["title"]
    assert cells["unsupported_transport"]["data-transport"] == "rdma"
    summary = next(e for e in dom if e.get("id") == "summary")
    assert summary["class"] == "summary failed"
    failures = [e["_text"] for e in dom if e["tag"] == "li" and "expected" in e["_text"] and "found" in e["_text"]]
    assert len(failures) == 3 and failures[1].startswith("fs3 tcp/%d: expected open, found refused" % _problem_port(1))


def test_one_unnamed_phase_has_no_phase_heading():
    dom = elements(render_html(problems_report()))
    assert [e for e in dom if e["tag"] == "h2"] == []


def test_every_status_has_its_colour_and_the_page_needs_nothing_from_elsewhere():
    page = render_html(migration_report())
    for status in ("smb", "refused", "timeout", "tls_failed", "not_smb", "unreachable", "auth_failed"):
        assert re.search(r"td\.status-%s \{ background: #[0-9a-f]{6}; \}" % status, page)
    assert "<script" not in page
    assert not re.search(r"(src|href)\s*=|@import|url\(|@font-face|https?://", page)


def test_names_are_escaped():
    variables = {"<b>x</b>": {"proof": RECORDED["proof_after"]["fs1"]}}
    report = build_report("<i>title</i>", [("a&b", "proof")], ["<b>x</b>"], variables)
    page = render_html(report)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<i>title</i>" not in page and "a&amp;b" in page


def test_the_same_results_give_the_same_text_and_no_clock_is_read():
    assert render_html(migration_report()) == render_html(migration_report())
    assert render_nmap_xml(migration_report()) == render_nmap_xml(migration_report())
    assert render_markdown(migration_report()) == render_markdown(migration_report())
    assert 'start="' not in render_nmap_xml(migration_report())
    stamped = migration_report(timestamp="2026-12-02T14:00:00Z")
    assert "Results of 2026-12-02T14:00:00+00:00" in render_html(stamped)


# --- nmap XML ---------------------------------------------------------------------------------------------------


def test_the_xml_has_a_host_per_server_and_nmaps_port_states():
    report = migration_report(timestamp="2026-12-02T14:00:00Z")
    root = ET.fromstring(render_nmap_xml(report).split("\n", 3)[3])
    assert root.tag == "nmaprun" and root.get("start") == "1796220000"
    hosts = root.findall("host")
    assert [h.find("hostnames/hostname").get("name") for h in hosts] == HOSTS
    assert [h.find("address").get("addr") for h in hosts] == ["127.0.3.1", "127.0.3.2", "127.0.0.1"]
    fs1 = {int(p.get("portid")): p for p in hosts[0].findall("ports/port")}
    assert fs1[PORTS["new"]].find("state").attrib == {"state": "open", "reason": "syn-ack", "reason_ttl": "0"}
    assert fs1[PORTS["new"]].find("service").attrib == {
        "name": "microsoft-ds",
        "product": "SMB2",
        "version": "3.1.1",
        "extrainfo": "signing required, cipher AES-128-GCM",
        "method": "probed",
        "conf": "10",
    }
    assert fs1[PORTS["old"]].find("state").get("state") == "closed"
    assert root.find("runstats/hosts").attrib == {"up": "3", "down": "0", "total": "3"}
    services = root.find("scaninfo").get("services")
    assert services == ",".join(str(p) for p in sorted(PORTS.values()))


def test_the_xml_of_a_phase_describes_that_phase():
    report = migration_report()
    before = render_nmap_xml(report, report.phases[0])
    assert re.search(r'portid="%d">\s*<state state="open"' % PORTS["old"], before)
    assert re.search(r'portid="%d">\s*<state state="closed"' % PORTS["old"], render_nmap_xml(report))


def test_a_failed_endpoint_carries_its_failure_as_a_script_result():
    root = ET.fromstring(render_nmap_xml(problems_report()).split("\n", 3)[3])
    ports = root.findall("host/ports/port")
    found = {int(p.get("portid")): (p.find("state").get("state"), p.find("service").get("name")) for p in ports}
    assert found == {
        _problem_port(0): ("open", "unknown"),  # an HTTP server answered
        _problem_port(1): ("closed", "microsoft-ds"),
        5445: ("unknown", "microsoft-ds"),  # RDMA, which verify cannot probe
    }
    assert [int(p.get("portid")) for p in ports] == sorted(found)
    scripts = [p.find("script").get("output") for p in ports]
    assert all(text.startswith("fs3 ") and "expected open, found" in text for text in scripts)


@pytest.mark.parametrize(
    ("transport", "status", "state"),
    [
        ("tcp", "smb", ("open", "syn-ack")),
        ("tcp", "refused", ("closed", "conn-refused")),
        ("tcp", "timeout", ("filtered", "no-response")),
        ("tcp", "unreachable", ("filtered", "host-unreach")),
        ("quic", "timeout", ("open|filtered", "no-response")),
        ("quic", "refused", ("closed", "port-unreach")),
        ("quic", "tls_failed", ("open", "udp-response")),
        ("rdma", "unsupported_transport", ("unknown", "not-probed")),
    ],
)
def test_nmap_states(transport, status, state):
    assert nmap_state(Cell(transport, 443, "open", status, False)) == state


def test_quic_endpoints_are_udp_ports_with_a_tls_tunnel():
    quic = dict(RECORDED["proof_after"]["fs1"]["results"][0], transport="quic", port=8443, tls_validation="on")
    report = build_report("t", [("", "proof")], ["fs1"], {"fs1": {"proof": {"results": [quic]}}})
    root = ET.fromstring(render_nmap_xml(report).split("\n", 3)[3])
    port = root.find("host/ports/port")
    assert (port.get("protocol"), port.get("portid"), port.find("service").get("tunnel")) == ("udp", "8443", "ssl")
    assert root.find("scaninfo").attrib["protocol"] == "udp"
    assert "certificate validated" in render_html(report)


# --- Markdown ---------------------------------------------------------------------------------------------------


def test_the_markdown_is_a_table_per_phase_without_latency():
    text = render_markdown(migration_report())
    ports = sorted(PORTS.values())
    assert text.splitlines()[:7] == [
        "## Move",
        "",
        "**3 hosts, 4 ports, 0 failures**",
        "",
        "### Phase before",
        "",
        "| Host | " + " | ".join("tcp/%d" % p for p in ports) + " |",
    ]
    assert " ms" not in text


def test_the_markdown_lists_failures_and_escapes_pipes():
    variables = {"a|b": {"proof": RECORDED["proof_problems"]["fs3"]}}
    text = render_markdown(build_report("t", [("", "proof")], ["a|b"], variables))
    assert "| a\\|b | " in text
    failures = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(failures) == 3
    assert failures[0].startswith("- a\\|b tcp/%d: expected open, found not_smb (" % _problem_port(0))
    assert "\u274c refused (expected open)" in text


def _problem_port(index: int) -> int:
    return RECORDED["proof_problems"]["fs3"]["results"][index]["port"]
