"""client_mapping against the cmdlet model: exact New/Remove-SmbMapping calls, idempotence, check mode, diff."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_mapping import run_client_mapping
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import WindowsTaskError

REMOTE = "\\\\fs1.contoso.com\\data"


def run(model_host, target, check_mode=False, **args):
    return run_client_mapping(target, args, check_mode, session_factory=model_host.session_factory)


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
        ("New-SmbMapping", {"LocalPath": "Z:", "RemotePath": REMOTE, "QuicPort": 8443, "Persistent": False}),
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
    ],
)
def test_bad_arguments_are_refused_before_any_connection(model_host, target, args, message):
    with pytest.raises(WindowsTaskError, match=message):
        run(model_host, target, **args)
    assert model_host.commands == 0
