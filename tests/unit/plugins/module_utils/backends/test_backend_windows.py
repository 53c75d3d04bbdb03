"""The windows backend of server_ports against the cmdlet model: exact calls, check mode, firewall, refusals."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import RefusedError
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.windows import WINDOWS_REFUSAL
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_backend import (
    windows_server_ports,
    windows_server_ports_info,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import WindowsTaskError

RULE_8443 = (
    "New-NetFirewallRule",
    {
        "Name": "smb-alternative-port-quic-8443",
        "DisplayName": "SMB over QUIC alternative port 8443 (UDP-In)",
        "Direction": "Inbound",
        "Protocol": "UDP",
        "LocalPort": "8443",
        "Action": "Allow",
    },
)


def run(model_host, target, check_mode=False, **args):
    return windows_server_ports(target, args, check_mode, diff_mode=True, session_factory=model_host.session_factory)


def seed(model_host, *ports, rules=True):
    for port, instances in ports:
        model_host.state.alternative_ports.append({"TransportType": "Quic", "Port": port, "EnableInstances": instances})
        if rules:
            model_host.state.firewall_rules.append(
                {
                    "Name": f"smb-alternative-port-quic-{port}",
                    "DisplayName": "x",
                    "Direction": "Inbound",
                    "Action": "Allow",
                    "Enabled": "True",
                    "Protocol": "UDP",
                    "LocalPort": [str(port)],
                }
            )


def test_add_opens_the_firewall_then_adds_the_port(model_host, target):
    result = run(model_host, target, ports=[{"transport": "quic", "port": 8443}])
    assert model_host.changing_calls() == [
        RULE_8443,
        (
            "New-SmbServerAlternativePort",
            {"TransportType": "QUIC", "Port": 8443, "EnableInstances": "Default", "Force": True},
        ),
    ]
    assert result["changed"] is True
    assert result["before"] == []
    assert result["after"] == [{"transport": "quic", "port": 8443, "instances": "default"}]
    assert result["plan"] == [{"action": "add", "transport": "quic", "port": 8443, "instances": "default"}]
    assert result["firewall_rules"] == ["smb-alternative-port-quic-8443"]
    assert "quic/8443" in result["diff"]["after"] and result["diff"]["before"] == ""
    assert model_host.state.firewall_rules[0]["Protocol"] == "UDP" and model_host.state.firewall_rules[0][
        "LocalPort"
    ] == ["8443"]
    assert (model_host.shells, model_host.commands) == (1, 2)


def test_second_run_changes_nothing_in_one_command(model_host, target):
    run(model_host, target, ports=[{"transport": "quic", "port": 8443}])
    model_host.reset_counts()
    result = run(model_host, target, ports=[{"transport": "quic", "port": 8443}])
    assert result["changed"] is False and result["plan"] == []
    assert model_host.changing_calls() == []
    assert model_host.commands == 1


def test_change_of_instances_uses_set(model_host, target):
    seed(model_host, (8443, "Default"))
    result = run(model_host, target, ports=[{"transport": "quic", "port": 8443, "instances": "none"}])
    assert model_host.changing_calls() == [
        (
            "Set-SmbServerAlternativePort",
            {"TransportType": "QUIC", "Port": 8443, "EnableInstances": "None", "Force": True},
        )
    ]
    assert result["after"] == [{"transport": "quic", "port": 8443, "instances": "none"}]
    assert result["plan"][0]["action"] == "change"


def test_remove_removes_the_port_then_its_rule(model_host, target):
    seed(model_host, (8443, "Default"))
    result = run(model_host, target, ports=[{"transport": "quic", "port": 8443}], state="absent")
    assert model_host.changing_calls() == [
        ("Remove-SmbServerAlternativePort", {"TransportType": "QUIC", "Port": 8443, "Force": True}),
        ("Remove-NetFirewallRule", {"Name": "smb-alternative-port-quic-8443"}),
    ]
    assert result["after"] == [] and model_host.state.firewall_rules == []
    again = run(model_host, target, ports=[{"transport": "quic", "port": 8443}], state="absent")
    assert again["changed"] is False


def test_exclusive_adds_first_and_removes_the_unlisted_last(model_host, target):
    seed(model_host, (8443, "Default"), (9443, "Default"))
    result = run(model_host, target, ports=[{"transport": "quic", "port": 10443}], exclusive=True)
    assert [(c, p.get("Port"), p.get("Name")) for c, p in model_host.changing_calls()] == [
        ("New-NetFirewallRule", None, "smb-alternative-port-quic-10443"),
        ("New-SmbServerAlternativePort", 10443, None),
        ("Remove-SmbServerAlternativePort", 8443, None),
        ("Remove-SmbServerAlternativePort", 9443, None),
        ("Remove-NetFirewallRule", None, "smb-alternative-port-quic-8443"),
        ("Remove-NetFirewallRule", None, "smb-alternative-port-quic-9443"),
    ]
    assert result["after"] == [{"transport": "quic", "port": 10443, "instances": "default"}]
    assert [r["Name"] for r in model_host.state.firewall_rules] == ["smb-alternative-port-quic-10443"]


def test_without_exclusive_other_ports_stay(model_host, target):
    seed(model_host, (8443, "Default"))
    result = run(model_host, target, ports=[{"transport": "quic", "port": 10443}])
    assert [e["port"] for e in result["after"]] == [8443, 10443]


def test_check_mode_reads_once_and_changes_nothing(model_host, target):
    seed(model_host, (8443, "Default"))
    result = run(model_host, target, check_mode=True, ports=[{"transport": "quic", "port": 10443}], exclusive=True)
    assert result["changed"] is True
    assert result["after"] == [{"transport": "quic", "port": 10443, "instances": "default"}]
    assert model_host.changing_calls() == []
    assert (model_host.shells, model_host.commands) == (1, 1)
    assert result["firewall_rules"] == ["smb-alternative-port-quic-10443"]
    assert model_host.state.alternative_ports == [{"TransportType": "Quic", "Port": 8443, "EnableInstances": "Default"}]


def test_a_missing_rule_of_a_kept_port_comes_back(model_host, target):
    seed(model_host, (8443, "Default"), rules=False)
    result = run(model_host, target, ports=[{"transport": "quic", "port": 8443}])
    assert model_host.changing_calls() == [RULE_8443]
    assert result["changed"] is True and result["plan"] == []


def test_firewall_false_leaves_rules_alone(model_host, target):
    result = run(model_host, target, ports=[{"transport": "quic", "port": 8443}], firewall=False)
    assert model_host.changing_commands() == ["New-SmbServerAlternativePort"]
    assert "firewall_rules" not in result
    assert not any(c.command == "Get-NetFirewallRule" for c in model_host.calls)


@pytest.mark.parametrize("transport", ["tcp", "rdma"])
def test_tcp_and_rdma_are_refused_with_microsofts_reason_before_any_connection(model_host, target, transport):
    with pytest.raises(RefusedError) as caught:
        run(model_host, target, ports=[{"transport": "quic", "port": 8443}, {"transport": transport, "port": 4445}])
    assert WINDOWS_REFUSAL in str(caught.value)
    assert f"{transport}/4445" in str(caught.value)
    assert (model_host.shells, model_host.commands, model_host.calls) == (0, 0, [])


def test_a_failed_change_names_the_call_and_what_was_not_run(model_host, target, monkeypatch):
    from tests.support.windows_host import catalog
    from tests.support.windows_host.cmdlet_errors import not_supported

    def refuse(state, args, command):
        raise not_supported(command)

    catalog.known_commands()  # load the catalog before replacing one entry
    spec = catalog._CATALOG["new-smbserveralternativeport"]
    monkeypatch.setitem(catalog._CATALOG, spec.name.lower(), dataclasses.replace(spec, handler=refuse))
    seed(model_host, (9443, "Default"))
    with pytest.raises(WindowsTaskError) as caught:
        run(model_host, target, ports=[{"transport": "quic", "port": 8443}], exclusive=True)
    message = str(caught.value)
    assert message.startswith(
        "Administrator@win1.example:5986: New-SmbServerAlternativePort -TransportType QUIC -Port 8443"
    )
    assert "The request is not supported." in message
    assert "1 earlier change(s) were made, 2 later one(s) were not run" in message
    assert caught.value.result["calls_not_run"][0].startswith("Remove-SmbServerAlternativePort")
    # stop_on_error kept the listener that was to go: 9443 still serves
    assert [p["Port"] for p in model_host.state.alternative_ports] == [9443]


@pytest.mark.parametrize("port", [0, 65536, -1, "8443", None])
def test_bad_port_numbers_are_refused_before_any_connection(model_host, target, port):
    with pytest.raises(RefusedError, match=r"ports\[0\]\.port"):
        run(model_host, target, ports=[{"transport": "quic", "port": port}])
    assert model_host.commands == 0


def test_info_reads_the_table_and_the_rules(model_host, target):
    seed(model_host, (9443, "None"), (8443, "Default"))
    info = windows_server_ports_info(target, {}, session_factory=model_host.session_factory)
    assert info["ports"] == [
        {"transport": "quic", "port": 8443, "instances": "default"},
        {"transport": "quic", "port": 9443, "instances": "none"},
    ]
    assert info["firewall_rules"] == ["smb-alternative-port-quic-8443", "smb-alternative-port-quic-9443"]
    assert info["changed"] is False and model_host.changing_calls() == [] and model_host.commands == 1
