"""verify from the controller runs its probes in the action plugin, and returns exactly what the module returns.

Each case runs one playbook twice against the same servers: once where the action plugin probes in its own process
(a local connection with the controller's Python), once where the module is shipped (the same Python behind a
wrapper script, which the action plugin must not take for its own). The in-process run gets a remote temporary
directory that cannot exist, so a module shipped by mistake fails it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support.accounts import THREADED_PASSWORD, THREADED_USER
from tests.support.ansible_run import run_playbook
from tests.support.net import free_port, free_tcp_ports
from tests.support.threaded_pysmbd import serve_core


@pytest.fixture
def smb_port(tmp_path):
    (tmp_path / "server").mkdir()
    for server in serve_core(tmp_path / "server"):
        yield server.port


def _run(
    tmp_path: Path, name: str, verify_args: dict, *, in_process: bool, task_keys: dict | None = None, check_rc=True
) -> dict:
    work = tmp_path / name
    work.mkdir()
    if in_process:
        interpreter = sys.executable
    else:
        interpreter = str(work / "python")
        Path(interpreter).write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        Path(interpreter).chmod(0o755)
    (work / "inventory").write_text(f"controller ansible_connection=local ansible_python_interpreter={interpreter}\n")
    task = {"name": "verify", "smb.alternative_ports.verify": verify_args, "ignore_errors": True, **(task_keys or {})}
    (work / "play.yml").write_text(json.dumps([{"hosts": "all", "gather_facts": False, "tasks": [task]}]))
    env = {"ANSIBLE_REMOTE_TMP": "/dev/null/no-module-runs-here"} if in_process else {}
    run = run_playbook(work / "play.yml", work / "inventory", env=env)
    assert run.returncode == 0 or not check_rc, run.stdout[-3000:] + run.stderr[-2000:]
    return run.results["verify"]["controller"]


def _without_timings(result: dict) -> dict:
    """Latencies differ from run to run; so do the columns of the table that print them."""
    result = dict(result)
    result["results"] = [{k: v for k, v in row.items() if k != "latency_ms"} for row in result.get("results", [])]
    for key in ("table", "msg", "exception"):
        result.pop(key, None)
    return result


def _both(tmp_path: Path, verify_args: dict) -> tuple:
    here = _run(tmp_path, "here", verify_args, in_process=True)
    module = _run(tmp_path, "module", verify_args, in_process=False)
    return here, module


def test_the_rows_summary_and_reports_are_the_modules(tmp_path, smb_port):
    closed, also_closed = free_tcp_ports(2)
    args = {
        "endpoints": [{"port": smb_port}, {"port": closed, "expect": "closed"}, {"port": also_closed}],
        "fail_on_mismatch": False,
        "report_json": str(tmp_path / "report.json"),
    }
    here, module = _both(tmp_path, args)
    assert [row["status"] for row in here["results"]] == ["smb", "refused", "refused"]
    assert here["summary"] == {"total": 3, "ok": 2, "failed": 1}
    assert not here.get("failed") and _without_timings(here) == _without_timings(module)
    assert here["warnings"] == module["warnings"]
    assert [line.split()[:4] for line in here["table"]] == [line.split()[:4] for line in module["table"]]


def test_a_mismatch_fails_with_the_modules_message(tmp_path):
    closed = free_port()
    here, module = _both(tmp_path, {"endpoints": [{"port": closed}], "timeout": 1})
    assert here["failed"] and module["failed"]
    assert (
        here["msg"].splitlines()[0]
        == module["msg"].splitlines()[0]
        == ("1 of 1 endpoints of 127.0.0.1 do not match their expectation:")
    )
    assert _without_timings(here) == _without_timings(module)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"endpoints": [{"port": 4445}], "level": "session", "username": "u"}, "level session needs password, share"),
        ({"endpoints": [{"port": 4445}], "previous": [{"transport": "tcp", "port": 1}]}, "previous: only used with"),
        ({"endpoints": [{"port": 4445}], "timeout": 0}, "timeout: 0.0 must be greater than 0"),
        ({"endpoints": [{"port": 70000}]}, "endpoints[0].port"),
        ({"endpoints": [{"port": 4445}], "level": "fast"}, "value of level must be one of: tcp, negotiate, session"),
        ({"endpoints": [{"port": 4445}], "model": {}}, "mutually exclusive: endpoints|model"),
    ],
)
def test_a_mistake_fails_with_the_modules_message(tmp_path, args, words):
    here, module = _both(tmp_path, args)
    assert here["failed"] and module["failed"]
    assert words in here["msg"] and here["msg"] == module["msg"]


def test_the_models_password_is_masked_and_the_session_works(tmp_path, smb_port):
    model = {
        "server": {"ports": [{"transport": "tcp", "port": smb_port}], "standard_ports": "keep"},
        "verify": {"level": "session", "share": "share", "credentials": {"username": THREADED_USER}},
    }
    model["verify"]["credentials"]["password"] = THREADED_PASSWORD
    here, module = _both(tmp_path, {"model": model, "fail_on_mismatch": False})
    assert [row["status"] for row in here["results"]] == ["smb"]
    assert _without_timings(here) == _without_timings(module)
    assert THREADED_PASSWORD not in json.dumps(here)


def test_an_environment_for_the_task_runs_the_module(tmp_path):
    # The module would see the variables; the controller's process does not, so the module must run (and it cannot,
    # here: the remote temporary directory does not exist).
    args = {"endpoints": [{"port": free_port(), "expect": "closed"}]}
    here = _run(tmp_path, "plain", args, in_process=True)
    environment = {"environment": {"SSL_CERT_FILE": "/x"}}
    shipped = _run(tmp_path, "environment", args, in_process=True, task_keys=environment, check_rc=False)
    assert not here.get("failed") and here["summary"]["ok"] == 1
    assert shipped.get("unreachable") and "Failed to create temporary directory" in shipped["msg"]
