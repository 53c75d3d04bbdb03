"""The client_mapping_move action plugin: a mapping it cannot recreate fails the task cleanly, naming it, with
nothing changed; the credentials it is given never show in its result."""

from __future__ import annotations

import json

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_mapping import run_client_mapping
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget
from tests.support.windows_action_runner import HOST_VARS, ActionRunner
from tests.support.windows_model_session import ModelHost

FS1 = "\\\\fs1\\data"
SECRET = "Mapping-Secret-3"
TARGET = WinRMTarget(host="win1", port=5986, user="Administrator", password="unused", scheme="https")
MOVE = {"server": "fs1", "from": {"transport": "tcp", "port": 445}, "to": {"transport": "tcp", "port": 4445}}


@pytest.fixture
def model_host() -> ModelHost:
    host = ModelHost()
    for local in ("Z:", "X:"):
        args = {"local_path": local, "remote_path": FS1, "tcp_port": 445, "username": "svc", "password": SECRET}
        run_client_mapping(TARGET, args, False, session_factory=host.session_factory)
    host.reset_counts()
    return host


@pytest.fixture
def action(model_host, monkeypatch) -> ActionRunner:
    return ActionRunner("client_mapping_move", "run_client_mapping_move", model_host, monkeypatch)


MODEL = [{"local_path": "Z:", "remote_path": FS1, "tcp_port": 445, "username": "svc", "password": SECRET}]


def test_an_undescribed_mapping_fails_the_task_naming_it_and_nothing_changes(action, model_host):
    result = action.run({"moves": [MOVE], "mappings": MODEL})
    assert result["failed"] is True and result["changed"] is False
    assert "X: -> \\\\fs1\\data on tcp/445" in result["msg"] and "192.0.2.10" in result["msg"]
    assert [row["local_path"] for row in result["unknown"]] == ["X:"]
    assert model_host.changing_calls() == []
    assert SECRET not in json.dumps(result) and HOST_VARS["ansible_password"] not in json.dumps(result)


def test_with_skip_the_described_one_moves_and_a_warning_names_the_other(action, model_host):
    result = action.run({"moves": [MOVE], "mappings": MODEL, "on_unknown": "skip"})
    assert result["changed"] is True and not result.get("failed")
    assert [row["local_path"] for row in result["moved"]] == ["Z:"]
    assert "X:" in result["warnings"][0]
    assert sorted((m["LocalPath"], m["TcpPort"]) for m in model_host.state.global_mappings) == [
        ("X:", 445),
        ("Z:", 4445),
    ]
    assert SECRET not in json.dumps(result)
