"""The report task's behaviour in a play, from verify results recorded on real servers (no server needed here):
one run for the whole play, errors that name host, variable and fix, fail_on_failures, hosts without a result."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.support.ansible_run import run_playbook

RECORDED = json.loads(
    (Path(__file__).resolve().parents[2] / "unit/plugins/plugin_utils/fleet_report_verify_results.json").read_text()
)


def run_report(tmp_path: Path, report: dict, proofs: dict, extra_tasks: tuple = ()):
    """A play over the hosts of ``proofs`` ({host: registered value or None}); each host sets ``proof`` to its
    value (as ``register`` would have), then the report task runs."""
    hosts = {name: {"recorded": value} for name, value in proofs.items()}
    inventory = {
        "all": {
            "hosts": hosts,
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        }
    }
    tasks = [
        {
            "name": "register",
            "ansible.builtin.set_fact": {"proof": "{{ recorded }}"},
            "when": "recorded is not none",
        },
        *extra_tasks,
        {"name": "report", "smb.alternative_ports.report": report, "ignore_errors": True},
    ]
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    (tmp_path / "play.yml").write_text(json.dumps([{"hosts": "all", "gather_facts": False, "tasks": tasks}]))
    run = run_playbook(tmp_path / "play.yml", tmp_path / "inventory.json", timeout=120)
    assert "report" in run.results, run.stdout[-3000:]
    return run


def test_it_runs_once_for_the_play_and_shows_a_host_without_a_result(tmp_path):
    proofs = {"fs1": RECORDED["proof_after"]["fs1"], "fs2": RECORDED["proof_after"]["fs2"], "fs4": None}
    run = run_report(tmp_path, {"results_var": "proof", "markdown": str(tmp_path / "fleet.md")}, proofs)
    assert list(run.results["report"]) == ["fs1"]  # once, not once per host
    result = run.results["report"]["fs1"]
    assert result.get("failed") is not True, result
    assert result["msg"] == "3 hosts, 3 ports, 0 failures, 1 host without a verify result (fs4)"
    text = (tmp_path / "fleet.md").read_text()
    assert "| fs4 | no result: no variable proof (the verify task did not run on this host) |" in text


def test_fail_on_failures_fails_after_writing_the_report(tmp_path):
    proofs = {"fs3": RECORDED["proof_problems"]["fs3"]}
    report = {"results_var": "proof", "html": str(tmp_path / "fleet.html"), "fail_on_failures": True}
    result = run_report(tmp_path, report, proofs).results["report"]["fs3"]
    assert result["failed"] is True
    assert result["msg"] == "the fleet report shows problems: 1 host, 3 ports, 3 failures"
    assert (tmp_path / "fleet.html").exists()


def test_a_variable_that_is_not_a_verify_result_fails_naming_host_and_variable(tmp_path):
    proofs = {"fs1": RECORDED["proof_after"]["fs1"], "fs2": {"stdout": "hello", "changed": True}}
    result = run_report(tmp_path, {"results_var": "proof", "html": str(tmp_path / "fleet.html")}, proofs)
    result = result.results["report"]["fs1"]
    assert result["failed"] is True
    assert result["msg"] == (
        "hostvars['fs2'].proof: has no results; give the variable that the verify task registered "
        "(its keys: changed, stdout); nothing was written"
    )
    assert not (tmp_path / "fleet.html").exists()


def test_a_missing_directory_and_bad_options_are_named(tmp_path):
    proofs = {"fs1": RECORDED["proof_after"]["fs1"]}
    report = {"results_var": "proof", "markdown": str(tmp_path / "f.md"), "html": str(tmp_path / "no" / "f.html")}
    missing_dir = run_report(tmp_path, report, proofs)
    assert missing_dir.results["report"]["fs1"]["msg"] == (
        "cannot write %s: its directory does not exist on the controller (create it first)"
        % (tmp_path / "no" / "f.html")
    )
    assert not (tmp_path / "f.md").exists()  # all or nothing
    both = run_report(tmp_path, {"results_var": "proof", "phases": [{"name": "a", "results_var": "proof"}]}, proofs)
    assert "mutually exclusive: results_var|phases" in both.results["report"]["fs1"]["msg"]
    twice = [{"name": "a", "results_var": "proof"}, {"name": "a", "results_var": "proof"}]
    repeated = run_report(tmp_path, {"phases": twice}, proofs)
    assert repeated.results["report"]["fs1"]["msg"] == "phases: each phase needs its own name; 'a' is repeated"
