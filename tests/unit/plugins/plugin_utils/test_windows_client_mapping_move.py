"""client_mapping_move against the cmdlet model: global mappings follow their server to its new port, with the
credential the model gives; a mapping the model does not describe stops the task (or is left, on_unknown=skip)."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_mapping import run_client_mapping
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_mapping_move import (
    run_client_mapping_move,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import WindowsTaskError

FS1 = "\\\\FS1.contoso.com\\data"
FS2 = "\\\\fs2.contoso.com\\home"
SECRET = "Map-Secret-7"
MOVE = {
    "server": "fs1.contoso.com",
    "from": {"transport": "quic", "port": 8443},
    "to": {"transport": "quic", "port": 9443},
}
MODEL = [
    {"local_path": "z:", "remote_path": FS1, "quic_port": 8443, "username": "CONTOSO\\svc", "password": SECRET},
    {"remote_path": FS1 + "2", "quic_port": 8443, "username": "CONTOSO\\svc2", "password": SECRET, "persistent": True},
]


def _map(model_host, target, remote, port, local=None):
    args = {"remote_path": remote, "quic_port": port, "username": "CONTOSO\\svc", "password": SECRET}
    if local:
        args["local_path"] = local
    run_client_mapping(target, args, False, session_factory=model_host.session_factory)


def _ports(model_host):
    return sorted(
        (m["LocalPath"], m["RemotePath"], m["QuicPort"], m["UserName"]) for m in model_host.state.global_mappings
    )


def move(model_host, target, check_mode=False, **args):
    args.setdefault("moves", [MOVE])
    args.setdefault("mappings", MODEL)
    return run_client_mapping_move(target, args, check_mode, session_factory=model_host.session_factory)


def test_mappings_to_the_moved_server_are_recreated_on_its_new_port_with_the_models_credential(model_host, target):
    _map(model_host, target, FS1, 8443, "Z:")
    _map(model_host, target, FS1 + "2", 8443)
    _map(model_host, target, FS2, 8443, "H:")  # another server: stays
    _map(model_host, target, FS1, 7443, "Y:")  # fs1 on another port than the old one: stays
    model_host.reset_counts()

    checked = move(model_host, target, check_mode=True)
    assert checked["changed"] is True and model_host.changing_calls() == []
    assert [row["remote_path"] for row in checked["moved"]] == [FS1, FS1 + "2"]

    result = move(model_host, target)
    assert result["changed"] is True and result["unknown"] == []
    assert _ports(model_host) == [
        ("", FS1 + "2", 9443, "CONTOSO\\svc2"),
        ("H:", FS2, 8443, "CONTOSO\\svc"),
        ("Y:", FS1, 7443, "CONTOSO\\svc"),
        ("Z:", FS1, 9443, "CONTOSO\\svc"),
    ]
    persistent = {m["RemotePath"]: m["Persistent"] for m in model_host.state.global_mappings if not m["LocalPath"]}
    assert persistent == {FS1 + "2": True}
    assert SECRET not in str(result) and SECRET not in str(model_host.calls)
    assert move(model_host, target)["changed"] is False


def test_a_mapping_the_model_does_not_describe_stops_before_any_change_or_is_left_with_skip(model_host, target):
    _map(model_host, target, FS1, 8443, "Z:")
    _map(model_host, target, FS1, 8443, "X:")  # not in the model: its credential cannot be known
    model_host.reset_counts()
    with pytest.raises(WindowsTaskError, match=r"cannot recreate without credentials.*X: -> .*quic/8443"):
        move(model_host, target)
    assert model_host.changing_calls() == []

    result = move(model_host, target, on_unknown="skip")
    assert [row["local_path"] for row in result["moved"]] == ["Z:"]
    assert result["unknown"] == [
        {"server": "fs1.contoso.com", "local_path": "X:", "remote_path": FS1, "transport": "quic", "port": 8443}
    ]
    assert "X:" in result["warnings"][0]
    assert sorted((m["LocalPath"], m["QuicPort"]) for m in model_host.state.global_mappings) == [
        ("X:", 8443),
        ("Z:", 9443),
    ]


def test_the_reversed_move_puts_them_back(model_host, target):
    _map(model_host, target, FS1, 8443, "Z:")
    move(model_host, target)
    back = {"server": MOVE["server"], "from": MOVE["to"], "to": MOVE["from"]}
    assert move(model_host, target, moves=[back])["changed"] is True
    assert _ports(model_host) == [("Z:", FS1, 8443, "CONTOSO\\svc")]


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"server": "", "from": MOVE["from"], "to": MOVE["to"]}, r"moves\[0\]\.server is empty"),
        ({"server": "fs1", "from": {"transport": "udp", "port": 1}, "to": MOVE["to"]}, r"moves\[0\]\.from must be"),
        ({"server": "fs1", "from": MOVE["from"], "to": {"transport": "tcp", "port": 70000}}, r"moves\[0\]\.to must be"),
    ],
)
def test_a_malformed_move_is_refused_before_the_host_is_reached(model_host, target, bad, message):
    with pytest.raises(WindowsTaskError, match=message):
        move(model_host, target, moves=[bad])
    assert model_host.calls == []
