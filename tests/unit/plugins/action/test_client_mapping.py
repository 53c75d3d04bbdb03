"""The client_mapping action plugin: arguments, connection variables, diff and check mode, clean failures."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMError
from tests.support.windows_action_runner import HOST_VARS, ActionRunner
from tests.support.windows_model_session import ModelHost

REMOTE = "\\\\fs1.contoso.com\\data"


@pytest.fixture
def model_host() -> ModelHost:
    return ModelHost()


@pytest.fixture
def action(model_host, monkeypatch) -> ActionRunner:
    return ActionRunner("client_mapping", "run_client_mapping", model_host, monkeypatch)


def test_maps_through_the_hosts_connection_variables(action, model_host):
    result = action.run(
        {"local_path": "Z:", "remote_path": REMOTE, "tcp_port": 4445, "username": "svc", "password": "Map-Pw-9"}
    )
    assert "Map-Pw-9" not in json.dumps(result) and model_host.state.global_mappings
    assert result["changed"] is True and not result.get("failed")
    assert result["after"]["port"] == 4445
    assert "diff" not in result  # not in diff mode
    (target,) = action.targets
    assert (target.host, target.port, target.user, target.password) == (
        "192.0.2.10",
        5986,
        "Administrator",
        HOST_VARS["ansible_password"],
    )
    assert target.cert_validation == "ignore"
    assert HOST_VARS["ansible_password"] not in json.dumps(result)


def test_diff_mode_returns_before_and_after_text(action):
    result = action.run({"local_path": "Z:", "remote_path": REMOTE, "quic_port": 8443, "scope": "user"}, diff=True)
    assert result["diff"] == {"before": "", "after": f"Z: -> {REMOTE} over quic/8443\n"}


def test_check_mode_changes_nothing(action, model_host):
    result = action.run({"local_path": "Z:", "remote_path": REMOTE, "tcp_port": 4445, "scope": "user"}, check_mode=True)
    assert result["changed"] is True and model_host.state.smb_mappings == [] and model_host.commands == 1


def test_winrm_options_override_the_variables(action):
    action.run(
        {
            "remote_path": REMOTE,
            "tcp_port": 4445,
            "scope": "user",
            "winrm_host": "127.0.0.1",
            "winrm_port": 15986,
            "winrm_password": "other",
        }
    )
    (target,) = action.targets
    assert (target.host, target.port, target.password) == ("127.0.0.1", 15986, "other")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"remote_path": REMOTE, "tcp_port": 4445, "tcp_prot": 1}, "tcp_prot"),
        ({"remote_path": REMOTE, "tcp_port": "many"}, "tcp_port"),
        ({"tcp_port": 4445}, "remote_path"),
        ({"remote_path": REMOTE, "tcp_port": 4445, "state": "gone"}, "state"),
    ],
)
def test_bad_arguments_fail_the_task_before_any_connection(action, model_host, args, message):
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(args)
    assert model_host.commands == 0


def test_a_connection_error_is_a_failed_result_without_traceback(action, monkeypatch):
    def unreachable(target, args, check_mode):
        raise WinRMError(f"cannot open a shell on {target.label}: no WinRM answer")

    monkeypatch.setattr(action.module, "run_client_mapping", unreachable)
    result = action.run({"remote_path": REMOTE, "tcp_port": 4445})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "cannot open a shell on Administrator@192.0.2.10:5986: no WinRM answer"
    assert "exception" not in result
