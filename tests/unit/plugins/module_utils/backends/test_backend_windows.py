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
from tests.support.windows_host.state import SERVER_2022, set_windows_version


@pytest.fixture(autouse=True)
def quic_ready(model_host):
    """A Windows Server 2025 that can serve SMB over QUIC: EnableSMBQUIC on (its default) and a certificate mapping."""
    model_host.state.certificate_mappings.append(
        {"Name": "win1.example", "Thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567", "StoreName": "My"}
    )


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
        model_host.state.alternative_ports.append({"TransportType": "Quic", "Port": port, "Instances": instances})
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
    # the read, the conflict read of the new port, the apply-and-read-back: one shell
    assert (model_host.shells, model_host.commands) == (1, 3)


def test_second_run_changes_nothing_in_one_command(model_host, target):
    run(model_host, target, ports=[{"transport": "quic", "port": 8443}])
    model_host.reset_counts()
    result = run(model_host, target, ports=[{"transport": "quic", "port": 8443}])
    assert result["changed"] is False and result["plan"] == []
    assert model_host.changing_calls() == []
    assert model_host.commands == 1


def test_instances_none_is_refused_as_the_cmdlet_documents_before_any_connection(model_host, target):
    with pytest.raises(RefusedError, match="only the Default instance"):
        run(model_host, target, ports=[{"transport": "quic", "port": 8443, "instances": "none"}])
    assert model_host.commands == 0


def test_a_port_the_host_reports_with_instances_none_is_the_same_port(model_host, target):
    """'This setting is not used': a host that reports None for a port must not make the task re-plan forever."""
    seed(model_host, (8443, "None"))
    result = run(model_host, target, ports=[{"transport": "quic", "port": 8443}])
    assert result["changed"] is False and model_host.changing_calls() == []


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


def test_check_mode_reads_and_changes_nothing(model_host, target):
    seed(model_host, (8443, "Default"))
    result = run(model_host, target, check_mode=True, ports=[{"transport": "quic", "port": 10443}], exclusive=True)
    assert result["changed"] is True
    assert result["after"] == [{"transport": "quic", "port": 10443, "instances": "default"}]
    assert model_host.changing_calls() == []
    assert (model_host.shells, model_host.commands) == (1, 2)  # the read and the conflict read, no apply
    assert result["firewall_rules"] == ["smb-alternative-port-quic-10443"]
    assert model_host.state.alternative_ports == [{"TransportType": "Quic", "Port": 8443, "Instances": "Default"}]


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
    seed(model_host, (9443, "Default"), (8443, "Default"))
    info = windows_server_ports_info(target, {}, session_factory=model_host.session_factory)
    assert info["ports"] == [
        {"transport": "quic", "port": 8443, "instances": "default"},
        {"transport": "quic", "port": 9443, "instances": "default"},
    ]
    assert info["firewall_rules"] == ["smb-alternative-port-quic-8443", "smb-alternative-port-quic-9443"]
    assert info["changed"] is False and model_host.changing_calls() == [] and model_host.commands == 1


# -- prerequisites (issue 12 item 5): a host that cannot serve QUIC ports is refused before anything changes ----


def test_windows_server_2022_is_refused_naming_the_build(model_host, target):
    set_windows_version(model_host.state, SERVER_2022)
    with pytest.raises(
        WindowsTaskError,
        match=r"Windows Server 2025 \(build 26100\) and later; this host is Windows "
        r"Server 2022 Datacenter \(Server, build 20348\)",
    ):
        run(model_host, target, ports=[{"transport": "quic", "port": 8443}])
    assert model_host.changing_calls() == [] and model_host.state.firewall_rules == []


def test_smb_over_quic_off_is_refused_with_the_cmdlet_that_fixes_it(model_host, target):
    model_host.state.server_configuration["EnableSMBQUIC"] = False
    with pytest.raises(RefusedError, match=r"Set-SmbServerConfiguration -EnableSMBQUIC \$true"):
        run(model_host, target, ports=[{"transport": "quic", "port": 8443}])
    assert model_host.changing_calls() == []


def test_no_certificate_mapping_is_refused_with_the_module_that_fixes_it(model_host, target):
    model_host.state.certificate_mappings.clear()
    with pytest.raises(RefusedError, match=r"no SMB over QUIC certificate mapping.*quic_server_access"):
        run(model_host, target, ports=[{"transport": "quic", "port": 8443}])
    assert model_host.changing_calls() == []
    # removing the last QUIC port needs neither
    seed(model_host, (8443, "Default"))
    result = run(model_host, target, ports=[{"transport": "quic", "port": 8443}], state="absent")
    assert result["changed"] is True and model_host.state.alternative_ports == []
