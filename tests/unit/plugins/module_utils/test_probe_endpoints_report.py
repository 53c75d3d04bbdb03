"""Which endpoints verify derives from a model, when a row counts as ok, and how the reports read."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._probe import Endpoint, is_expected
from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_endpoints import (
    EndpointError,
    endpoints_from_list,
    endpoints_from_model,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._report import (
    render_table,
    write_json_report,
    write_junit_report,
)


def test_model_ports_are_open_removed_ports_and_closed_standard_port_are_closed():
    model = {
        "server": {
            "ports": [{"transport": "tcp", "port": 4445, "instances": "default"}, {"transport": "quic", "port": 8443}],
            "standard_ports": "close",
        }
    }
    previous = [{"transport": "tcp", "port": 5445, "instances": "default"}, {"transport": "tcp", "port": 4445}]
    assert endpoints_from_model(model, previous) == [
        Endpoint("tcp", 4445, "open"),
        Endpoint("quic", 8443, "open"),
        Endpoint("tcp", 5445, "closed"),  # removed, and no longer configured
        Endpoint("tcp", 445, "closed"),  # standard_ports: close
    ]


def test_standard_ports_keep_checks_nothing_extra():
    model = {"server": {"ports": [{"transport": "tcp", "port": 4445}], "standard_ports": "keep"}}
    assert endpoints_from_model(model) == [Endpoint("tcp", 4445, "open")]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"transport": "tcp", "port": 0}], r"endpoints\[0\]\.port: 0 is not a port"),
        ([{"transport": "tcp", "port": "445"}], r"endpoints\[0\]\.port: '445' is not a port"),
        ([{"transport": "udp", "port": 445}], r"endpoints\[0\]\.transport: 'udp' is not one of tcp, quic, rdma"),
        ([{"port": 4445}, {"port": 4445}], r"endpoints\[1\]: tcp/4445 is already listed at endpoints\[0\]"),
        ([{"port": 4445, "expect": "maybe"}], r"endpoints\[0\]\.expect: 'maybe'"),
    ],
)
def test_bad_endpoint_lists_name_the_entry(entries, message):
    with pytest.raises(EndpointError, match=message):
        endpoints_from_list(entries)


def test_bad_model_entry_names_its_path():
    with pytest.raises(EndpointError, match=r"model\.server\.ports\[1\]\.port: 65536 is not a port"):
        endpoints_from_model(
            {"server": {"ports": [{"transport": "tcp", "port": 1}, {"transport": "tcp", "port": 65536}]}}
        )


@pytest.mark.parametrize(
    ("expect", "status", "level", "ok"),
    [
        ("open", "smb", "negotiate", True),
        ("open", "not_smb", "negotiate", False),
        ("open", "open", "tcp", True),
        ("open", "open", "negotiate", False),
        ("open", "auth_failed", "session", False),
        ("open", "unsupported_transport", "negotiate", False),
        ("closed", "refused", "negotiate", True),
        ("closed", "timeout", "negotiate", True),
        ("closed", "unreachable", "tcp", True),
        ("closed", "smb", "negotiate", False),
        ("closed", "not_smb", "negotiate", False),
        ("closed", "unsupported_transport", "negotiate", False),
    ],
)
def test_ok_means_the_status_matches_the_expectation(expect, status, level, ok):
    assert is_expected(expect, status, level) is ok


ROWS = [
    {"transport": "tcp", "port": 4445, "expect": "open", "status": "smb", "ok": True, "latency_ms": 1.5,
     "dialect": "3.1.1", "signing_required": False, "server_guid": "g", "error": None},
    {"transport": "tcp", "port": 445, "expect": "closed", "status": "smb", "ok": False, "latency_ms": 2.0,
     "dialect": "3.1.1", "signing_required": True, "server_guid": "g", "error": "still answers SMB"},
    {"transport": "quic", "port": 443, "expect": "open", "status": "unsupported_transport", "ok": False,
     "latency_ms": None, "dialect": None, "signing_required": None, "server_guid": None, "error": "cannot probe QUIC"},
]  # fmt: skip


def test_table_has_one_fixed_width_line_per_endpoint_and_a_summary():
    lines = render_table("fs1", ROWS).splitlines()
    assert len(lines) == 1 + len(ROWS) + 1
    status_column = lines[0].index("STATUS")
    assert [line[status_column:].split()[0] for line in lines[1:4]] == ["smb", "smb", "unsupported_transport"]
    assert "still answers SMB" in lines[2] and "FAIL" in lines[2]
    assert lines[-1] == "fs1: 3 endpoints, 1 ok, 2 failed"


def test_junit_has_one_testcase_per_endpoint_and_a_failure_per_mismatch(tmp_path):
    path = tmp_path / "verify.xml"
    write_junit_report(str(path), "fs1", "negotiate", ROWS)
    suite = ET.parse(path).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == [
        "tcp/4445 expect open",
        "tcp/445 expect closed",
        "quic/443 expect open",
    ]
    assert [case.find("failure") is not None for case in cases] == [False, True, True]
    assert cases[1].find("failure").get("message") == "expected closed, found smb"
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")


def test_json_report_holds_summary_and_rows(tmp_path):
    path = tmp_path / "verify.json"
    write_json_report(str(path), "fs1", "tcp", ROWS)
    report = json.loads(path.read_text())
    assert report["summary"] == {"total": 3, "ok": 1, "failed": 2}
    assert report["results"] == ROWS
    assert [p.name for p in tmp_path.iterdir()] == ["verify.json"]  # no temporary file left behind
