"""The migration state file: phases recorded per host, resume data, refusals of a foreign or broken file."""

from __future__ import annotations

import json

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._migration_state import (
    StateFileError,
    completed,
    forget_hosts,
    load_state,
    record_phase,
    save_state,
)

ADD_RESULT = {"before": [{"transport": "tcp", "port": 445, "instances": "default"}], "changed": True}


def test_a_missing_file_is_an_empty_migration(tmp_path):
    assert completed(load_state(tmp_path / "state.json", "tcp-445-to-tcp-4445")) == {}


def test_only_done_marks_a_phase_completed_and_results_survive_a_reload(tmp_path):
    path = tmp_path / "state.json"
    document = load_state(path, "m")
    record_phase(document, "preflight", {"fs1": {"status": "done"}, "fs2": {"status": "failed"}})
    record_phase(document, "add", {"fs1": {"status": "done", "result": ADD_RESULT}})
    record_phase(document, "add", {"fs1": {"status": "done", "result": ADD_RESULT}})
    save_state(path, document)
    again = load_state(path, "m")
    assert completed(again) == {"fs1": ["preflight", "add"], "fs2": []}
    assert again["hosts"]["fs1"]["phases"]["add"]["result"] == ADD_RESULT
    assert [event["phase"] for event in again["events"]] == ["preflight", "add", "add"]


def test_forgotten_hosts_start_over(tmp_path):
    document = load_state(tmp_path / "state.json", "m")
    record_phase(document, "preflight", {"fs1": {"status": "done"}, "fs2": {"status": "done"}})
    forget_hosts(document, ["fs1"])
    assert completed(document) == {"fs2": ["preflight"]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read the migration state file"),
        (json.dumps({"format": 99}), "is not a migration state file"),
        (json.dumps({"format": 1, "migration": "other", "hosts": {}, "events": []}), "records the migration 'other'"),
    ],
)
def test_a_broken_or_foreign_file_is_refused_with_what_to_do(tmp_path, content, message):
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(StateFileError, match=message):
        load_state(path, "mine")


def test_an_unknown_phase_is_refused(tmp_path):
    with pytest.raises(StateFileError, match="unknown phase 'move'"):
        record_phase(load_state(tmp_path / "s.json", "m"), "move", {})
