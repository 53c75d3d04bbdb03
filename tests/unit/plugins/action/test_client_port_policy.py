"""The client_port_policy action plugin end to end against the cmdlet model."""

from __future__ import annotations

import pytest

from tests.support.windows_action_runner import ActionRunner
from tests.support.windows_model_session import ModelHost

FS1 = {"server": "fs1.contoso.com", "transport": "tcp", "port": 4445}


@pytest.fixture
def model_host() -> ModelHost:
    return ModelHost()


@pytest.fixture
def action(model_host, monkeypatch) -> ActionRunner:
    return ActionRunner("client_port_policy", "run_client_port_policy", model_host, monkeypatch)


def test_entries_and_quic_in_one_task(action, model_host):
    result = action.run({"entries": [FS1], "quic": "disabled"}, diff=True)
    assert result["after"] == {"entries": ["fs1.contoso.com:tcp:4445"], "quic": "disabled"}
    assert result["diff"]["after"] == "fs1.contoso.com:tcp:4445\nEnableSMBQUIC: False\n"
    assert (model_host.shells, model_host.commands) == (1, 2)
    again = action.run({"entries": [FS1], "quic": "disabled"})
    assert again["changed"] is False


def test_entry_suboptions_are_checked(action):
    from ansible.errors import AnsibleActionFail

    with pytest.raises(AnsibleActionFail, match="transport"):
        action.run({"entries": [{"server": "fs1", "transport": "udp", "port": 1}]})


def test_invalid_entries_fail_cleanly(action, model_host):
    result = action.run({"entries": [FS1, dict(FS1, port=9)]})
    assert result["failed"] is True and "listed twice" in result["msg"] and model_host.commands == 0
