"""`smb.alternative_ports.verify` end to end through ansible-playbook, against a real smbd."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.accounts import SAMBA_PASSWORD, SAMBA_USER
from tests.support.ansible_run import PlayRun, run_playbook
from tests.support.net import free_tcp_ports

pytestmark = [pytest.mark.peer]


def run_verify(tmp_path: Path, task_args: dict, *args: str) -> PlayRun:
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [{"name": "verify", "smb.alternative_ports.verify": task_args}],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play, indent=2))  # JSON is YAML, and needs no quoting rules
    inventory = "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable
    (tmp_path / "inventory.ini").write_text(inventory)
    return run_playbook(playbook, tmp_path / "inventory.ini", *args, timeout=180)


def test_all_endpoints_match_and_reports_are_written(tmp_path, samba):
    closed = free_tcp_ports(1)[0]
    run = run_verify(
        tmp_path,
        {
            "endpoints": [{"port": samba.ports[0]}, {"port": samba.ports[1]}, {"port": closed, "expect": "closed"}],
            "report_json": str(tmp_path / "verify.json"),
            "report_junit": str(tmp_path / "verify.xml"),
        },
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = run.results["verify"]["localhost"]
    assert result["changed"] is False
    assert result["summary"] == {"total": 3, "ok": 3, "failed": 0}
    assert [(row["port"], row["status"]) for row in result["results"]] == [
        (samba.ports[0], "smb"),
        (samba.ports[1], "smb"),
        (closed, "refused"),
    ]
    assert len(result["table"]) == 5 and result["msg"] == "\n".join(result["table"])
    report = json.loads((tmp_path / "verify.json").read_text())
    assert report["results"] == result["results"]
    cases = ET.parse(tmp_path / "verify.xml").getroot().iter("testcase")
    assert [(case.get("name"), case.find("failure")) for case in cases] == [
        ("tcp/%d expect open" % samba.ports[0], None),
        ("tcp/%d expect open" % samba.ports[1], None),
        ("tcp/%d expect closed" % closed, None),
    ]


def test_a_mismatch_fails_the_task_with_the_table(tmp_path, samba):
    closed = free_tcp_ports(1)[0]
    args = {
        "endpoints": [{"port": samba.ports[0], "expect": "closed"}, {"port": closed}],
        "report_junit": str(tmp_path / "verify.xml"),
    }
    run = run_verify(tmp_path, args)
    assert run.returncode != 0
    result = run.results["verify"]["localhost"]
    assert result["failed"] is True
    assert result["summary"] == {"total": 2, "ok": 0, "failed": 2}
    assert result["msg"].startswith("2 of 2 endpoints of 127.0.0.1 do not match their expectation:")
    assert "refused the connection" in result["msg"]
    suite = ET.parse(tmp_path / "verify.xml").getroot().find("testsuite")
    failures = [case.find("failure") for case in suite.iter("testcase")]
    assert [failure.get("type") for failure in failures] == ["smb", "refused"]


def test_fail_on_mismatch_false_reports_without_failing_and_check_mode_probes_too(tmp_path, samba):
    closed = free_tcp_ports(1)[0]
    args = {"endpoints": [{"port": samba.ports[0]}, {"port": closed}], "fail_on_mismatch": False}
    run = run_verify(tmp_path, args, "--check")
    assert run.returncode == 0, run.stdout + run.stderr
    result = run.results["verify"]["localhost"]
    assert result["summary"] == {"total": 2, "ok": 1, "failed": 1}
    assert [row["status"] for row in result["results"]] == ["smb", "refused"]
    assert result["warnings"] == ["1 of 2 endpoints of 127.0.0.1 do not match their expectation"]


def test_model_derives_open_and_removed_closed_endpoints(tmp_path, samba):
    removed = free_tcp_ports(1)[0]
    model = {
        "backend": "samba",
        "server": {
            "ports": [{"transport": "tcp", "port": port, "instances": "default"} for port in samba.ports],
            "standard_ports": "keep",
        },
    }
    run = run_verify(tmp_path, {"model": model, "previous": [{"transport": "tcp", "port": removed}]})
    assert run.returncode == 0, run.stdout + run.stderr
    rows = run.results["verify"]["localhost"]["results"]
    assert [(row["port"], row["expect"], row["status"]) for row in rows] == [
        (samba.ports[0], "open", "smb"),
        (samba.ports[1], "open", "smb"),
        (removed, "closed", "refused"),
    ]


def test_session_level_with_a_wrong_password_fails_as_auth_failed_and_never_shows_it(tmp_path, samba):
    wrong = "Not-" + SAMBA_PASSWORD
    args = {
        "endpoints": [{"port": samba.ports[0]}],
        "level": "session",
        "username": SAMBA_USER,
        "password": wrong,
        "share": "data",
    }
    run = run_verify(tmp_path, args, "-vvv")
    assert run.returncode != 0
    assert run.results["verify"]["localhost"]["results"][0]["status"] == "auth_failed"
    assert wrong not in run.stdout + run.stderr + json.dumps(run.results)


def test_model_verify_section_drives_a_session_check_and_its_password_stays_hidden(tmp_path, samba):
    model = {
        "server": {"ports": [{"transport": "tcp", "port": samba.ports[1]}], "standard_ports": "keep"},
        "verify": {
            "level": "session",
            "share": "data",
            "credentials": {"username": SAMBA_USER, "password": SAMBA_PASSWORD},
            "report": {"junit": str(tmp_path / "model.xml")},
        },
    }
    run = run_verify(tmp_path, {"model": model}, "-vvv")
    assert run.returncode == 0, run.stdout + run.stderr
    rows = run.results["verify"]["localhost"]["results"]
    assert [(row["port"], row["status"]) for row in rows] == [(samba.ports[1], "smb")]
    assert len(list(ET.parse(tmp_path / "model.xml").getroot().iter("testcase"))) == 1
    assert SAMBA_PASSWORD not in run.stdout + run.stderr + json.dumps(run.results)


def test_session_level_with_the_right_password_is_smb(tmp_path, samba):
    args = {
        "endpoints": [{"port": port} for port in samba.ports],
        "level": "session",
        "username": SAMBA_USER,
        "password": SAMBA_PASSWORD,
        "share": "data",
    }
    run = run_verify(tmp_path, args)
    assert run.returncode == 0, run.stdout + run.stderr
    assert [row["status"] for row in run.results["verify"]["localhost"]["results"]] == ["smb", "smb"]


def test_bad_arguments_name_the_entry(tmp_path):
    run = run_verify(tmp_path, {"endpoints": [{"port": 70000}]})
    assert run.returncode != 0
    assert (
        "endpoints[0].port: 70000 is not a port (use a number from 1 to 65535)"
        in run.results["verify"]["localhost"]["msg"]
    )


def test_module_documentation_renders():
    import subprocess

    bin_dir = Path(sys.executable).parent
    out = subprocess.run(
        [str(bin_dir / "ansible-doc"), "smb.alternative_ports.verify"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "fail_on_mismatch" in out.stdout and "unsupported_transport" in out.stdout
