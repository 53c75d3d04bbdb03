"""``smb.alternative_ports.verify`` over QUIC through ansible-playbook, against pysmbd's QUIC listener."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from tests.support.accounts import QUIC_PASSWORD as PASSWORD
from tests.support.accounts import QUIC_USER as USER
from tests.support.ansible_run import PlayRun, run_playbook
from tests.support.net import free_port

pytestmark = [pytest.mark.timeout(240)]


def run_verify(tmp_path: Path, task_args: dict) -> PlayRun:
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [{"name": "verify", "smb.alternative_ports.verify": task_args}],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play, indent=2))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    return run_playbook(playbook, inventory, timeout=180)


def test_quic_and_tcp_ports_of_pysmbd_prove_smb_with_the_ca(tmp_path, quic_pysmbd) -> None:
    closed = free_port(socket.SOCK_DGRAM)
    run = run_verify(
        tmp_path,
        {
            "host": "localhost",
            "endpoints": [
                {"transport": "quic", "port": quic_pysmbd.quic_port},
                {"transport": "tcp", "port": quic_pysmbd.tcp_port},
                {"transport": "quic", "port": closed, "expect": "closed"},
            ],
            "ca_path": str(quic_pysmbd.certificate.certificate),
        },
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = run.results["verify"]["localhost"]
    rows = [
        (row["transport"], row["port"], row["status"], row["dialect"], row["tls_validation"])
        for row in result["results"]
    ]
    assert rows == [
        ("quic", quic_pysmbd.quic_port, "smb", "3.1.1", "on"),
        ("tcp", quic_pysmbd.tcp_port, "smb", "3.1.1", None),
        ("quic", closed, "refused", None, "on"),
    ]
    assert result["results"][0]["certificate_sha256"] == quic_pysmbd.certificate.fingerprint_sha256
    assert "validated" in result["msg"]


def test_validation_off_is_visible_in_every_quic_row(tmp_path, quic_pysmbd) -> None:
    run = run_verify(
        tmp_path,
        {
            "host": "localhost",
            "endpoints": [{"transport": "quic", "port": quic_pysmbd.quic_port}],
            "validate_certs": False,
        },
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (row,) = run.results["verify"]["localhost"]["results"]
    assert (row["status"], row["ok"], row["tls_validation"]) == ("smb", True, "off")
    assert "NOT-validated" in run.results["verify"]["localhost"]["msg"]


def test_a_wrong_pin_fails_the_task_as_tls_failed(tmp_path, quic_pysmbd) -> None:
    run = run_verify(
        tmp_path,
        {
            "host": "localhost",
            "endpoints": [{"transport": "quic", "port": quic_pysmbd.quic_port}],
            "fingerprint_sha256": "AB" * 32,
        },
    )
    assert run.returncode != 0
    result = run.results["verify"]["localhost"]
    assert result["results"][0]["status"] == "tls_failed"
    assert "not the pinned" in result["msg"]


def test_a_malformed_pin_fails_before_probing(tmp_path, quic_pysmbd) -> None:
    run = run_verify(
        tmp_path,
        {
            "host": "localhost",
            "endpoints": [{"transport": "quic", "port": quic_pysmbd.quic_port}],
            "fingerprint_sha256": "12:34",
        },
    )
    assert run.returncode != 0
    result = run.results["verify"]["localhost"]
    assert "fingerprint_sha256 must be 64 hex digits" in result["msg"]
    assert "results" not in result


def test_level_session_logs_in_over_quic(tmp_path, quic_pysmbd) -> None:
    base = {
        "host": "localhost",
        "endpoints": [{"transport": "quic", "port": quic_pysmbd.quic_port}],
        "ca_path": str(quic_pysmbd.certificate.certificate),
        "level": "session",
        "username": USER,
        "share": "data",
    }
    good = run_verify(tmp_path, {**base, "password": PASSWORD})
    assert good.returncode == 0, good.stdout + good.stderr
    (row,) = good.results["verify"]["localhost"]["results"]
    assert (row["status"], row["ok"], row["dialect"], row["error"]) == ("smb", True, "3.1.1", None)
    bad = run_verify(tmp_path, {**base, "password": "not-the-password"})
    assert bad.returncode != 0
    (row,) = bad.results["verify"]["localhost"]["results"]
    assert row["status"] == "auth_failed"
    assert "not-the-password" not in bad.stdout + bad.stderr
