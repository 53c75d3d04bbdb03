"""client_mapping against the cmdlet model: exact New/Remove-SmbMapping calls, idempotence, check mode, diff."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_mapping import run_client_mapping
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import WindowsTaskError

REMOTE = "\\\\fs1.contoso.com\\data"


def run(model_host, target, check_mode=False, **args):
    """A user mapping (New-SmbMapping) unless the test names the scope."""
    args.setdefault("scope", "user")
    return run_client_mapping(target, args, check_mode, session_factory=model_host.session_factory)


CREDENTIAL = {"username": "CONTOSO\\svc-files", "password": "Map-Secret-1"}


def test_global_mapping_is_the_default_and_carries_the_port_and_credential(model_host, target):
    args = {"local_path": "Z:", "remote_path": REMOTE, "tcp_port": 4445, "persistent": True, **CREDENTIAL}
    result = run_client_mapping(target, args, False, session_factory=model_host.session_factory)
    assert result["scope"] == "global"
    (mapping,) = model_host.state.global_mappings
    assert (mapping["LocalPath"], mapping["RemotePath"], mapping["TcpPort"]) == ("Z:", REMOTE, 4445)
    assert mapping["UserName"] == "CONTOSO\\svc-files" and model_host.state.smb_mappings == []
    assert result["after"] == {
        "local_path": "Z:",
        "remote_path": REMOTE,
        "transport": "tcp",
        "port": 4445,
        "status": "OK",
    }
    # the password never shows: not in the result, not in the host's call log
    assert CREDENTIAL["password"] not in str(result) and CREDENTIAL["password"] not in str(model_host.calls)
    assert result["commands"] == [
        f"New-SmbGlobalMapping -LocalPath Z: -RemotePath {REMOTE} -TcpPort 4445 -Persistent -Credential <credential>"
    ]
    model_host.reset_counts()
    again = run_client_mapping(target, args, False, session_factory=model_host.session_factory)
    assert again["changed"] is False and model_host.changing_calls() == []
    removed = run_client_mapping(
        target,
        {"local_path": "Z:", "remote_path": REMOTE, "state": "absent"},
        False,
        session_factory=model_host.session_factory,
    )
    assert model_host.changing_calls() == [("Remove-SmbGlobalMapping", {"LocalPath": "Z:", "Force": True})]
    assert removed["after"] is None and model_host.state.global_mappings == []


def test_a_quic_port_is_sent_with_transport_type_quic(model_host, target):
    args = {"remote_path": REMOTE, "quic_port": 8443, **CREDENTIAL}
    run_client_mapping(target, args, False, session_factory=model_host.session_factory)
    (command, parameters) = model_host.changing_calls()[-1]
    assert command == "New-SmbGlobalMapping"
    assert (parameters["QuicPort"], parameters["TransportType"]) == (8443, "QUIC")
    assert model_host.state.global_mappings[0]["TransportType"] == "QUIC"
    model_host.reset_counts()
    assert run_client_mapping(target, args, False, session_factory=model_host.session_factory)["changed"] is False


def test_a_global_mapping_without_a_credential_is_refused_before_any_connection(model_host, target):
    with pytest.raises(WindowsTaskError, match="scope global needs username and password"):
        run_client_mapping(
            target, {"remote_path": REMOTE, "tcp_port": 4445}, False, session_factory=model_host.session_factory
        )
    assert model_host.commands == 0


def test_add_maps_the_drive_with_the_port(model_host, target):
    result = run(model_host, target, local_path="z:", remote_path=REMOTE, tcp_port=4445, persistent=True)
    assert model_host.changing_calls() == [
        ("New-SmbMapping", {"LocalPath": "Z:", "RemotePath": REMOTE, "TcpPort": 4445, "Persistent": True})
    ]
    assert result["changed"] is True and result["before"] is None
    assert result["after"] == {
        "local_path": "Z:",
        "remote_path": REMOTE,
        "transport": "tcp",
        "port": 4445,
        "status": "OK",
    }
    assert result["diff"] == {"before": "", "after": f"Z: -> {REMOTE} over tcp/4445\n"}
    assert (model_host.shells, model_host.commands) == (1, 2)


def test_same_mapping_again_is_a_no_op(model_host, target):
    run(model_host, target, local_path="Z:", remote_path=REMOTE, tcp_port=4445)
    model_host.reset_counts()
    result = run(model_host, target, local_path="Z:", remote_path=REMOTE, tcp_port=4445)
    assert result["changed"] is False and model_host.changing_calls() == []


def test_another_port_removes_then_maps_again(model_host, target):
    run(model_host, target, local_path="Z:", remote_path=REMOTE, tcp_port=4445)
    model_host.reset_counts()
    result = run(model_host, target, local_path="Z:", remote_path=REMOTE, quic_port=8443)
    assert model_host.changing_calls() == [
        ("Remove-SmbMapping", {"LocalPath": "Z:", "Force": True}),
        (
            "New-SmbMapping",
            {"LocalPath": "Z:", "RemotePath": REMOTE, "QuicPort": 8443, "TransportType": "QUIC", "Persistent": False},
        ),
    ]
    assert (
        result["before"]["port"] == 4445 and result["after"]["transport"] == "quic" and result["after"]["port"] == 8443
    )


def test_deviceless_mapping_is_found_by_remote_path(model_host, target):
    run(model_host, target, remote_path=REMOTE, rdma_port=5446)
    assert model_host.changing_calls()[-1] == (
        "New-SmbMapping",
        {"RemotePath": REMOTE, "RdmaPort": 5446, "Persistent": False},
    )
    model_host.reset_counts()
    assert run(model_host, target, remote_path=REMOTE.upper(), rdma_port=5446)["changed"] is False


def test_absent_removes_once(model_host, target):
    run(model_host, target, local_path="Z:", remote_path=REMOTE, tcp_port=4445, persistent=True)
    model_host.reset_counts()
    result = run(model_host, target, local_path="Z:", remote_path=REMOTE, state="absent", persistent=True)
    assert model_host.changing_calls() == [
        ("Remove-SmbMapping", {"LocalPath": "Z:", "Force": True, "UpdateProfile": True})
    ]
    assert result["after"] is None and model_host.state.smb_mappings == []
    assert run(model_host, target, local_path="Z:", remote_path=REMOTE, state="absent")["changed"] is False


def test_check_mode_predicts_and_changes_nothing(model_host, target):
    result = run(model_host, target, check_mode=True, local_path="Z:", remote_path=REMOTE, tcp_port=4445)
    assert result["changed"] is True and result["after"]["port"] == 4445
    assert result["commands"] == [f"New-SmbMapping -LocalPath Z: -RemotePath {REMOTE} -TcpPort 4445 -Persistent $false"]
    assert model_host.changing_calls() == [] and model_host.commands == 1 and model_host.state.smb_mappings == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"remote_path": REMOTE}, "exactly one of tcp_port, quic_port, rdma_port"),
        ({"remote_path": REMOTE, "tcp_port": 1, "quic_port": 2}, "given: tcp_port, quic_port"),
        ({"remote_path": "fs1/data", "tcp_port": 4445}, "is not a UNC path"),
        ({"remote_path": REMOTE, "local_path": "ZZ", "tcp_port": 4445}, "is not a drive letter"),
        ({"remote_path": REMOTE, "tcp_port": 70000}, "out of range"),
        ({"remote_path": REMOTE, "tcp_port": 4445, "transport": "quic"}, "does not agree with tcp_port"),
        ({"remote_path": REMOTE, "tcp_port": 4445, "username": "u"}, "username and password together"),
    ],
)
def test_bad_arguments_are_refused_before_any_connection(model_host, target, args, message):
    with pytest.raises(WindowsTaskError, match=message):
        run(model_host, target, **args)
    assert model_host.commands == 0


def test_a_host_in_constrained_language_mode_gets_a_clear_error_and_no_change(model_host, target):
    from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import ExecutorError

    model_host.state.host["language_mode"] = "ConstrainedLanguage"
    with pytest.raises(ExecutorError, match="runs in ConstrainedLanguage mode"):
        run(model_host, target, local_path="Z:", remote_path=REMOTE, tcp_port=4445)
    assert model_host.changing_calls() == [] and model_host.state.smb_mappings == []
