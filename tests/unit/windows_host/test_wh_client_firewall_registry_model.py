"""The SMB client, firewall and registry cmdlets of the model."""

from __future__ import annotations

import pytest

from tests.support.windows_host.catalog import invoke
from tests.support.windows_host.cmdlet_errors import CmdletError
from tests.support.windows_host.state import WindowsState

POLICY_KEY = "HKLM:\\Software\\Policies\\Microsoft\\Windows\\LanmanWorkstation"


def fails(state: WindowsState, command: str, parameters: dict) -> CmdletError:
    with pytest.raises(CmdletError) as raised:
        invoke(state, command, parameters)
    return raised.value


# -- SMB mappings ------------------------------------------------------------------------------------
def test_mapping_with_one_alternative_port():
    state = WindowsState()
    (mapping,) = invoke(state, "New-SmbMapping", {"LocalPath": "X:", "RemotePath": "\\\\fs1\\data", "TcpPort": 4445})
    # Without -TransportType the mapping's transport reads back None (assumed), and the client tries TCP first.
    assert (mapping["TcpPort"], mapping["QuicPort"], mapping["TransportType"]) == (4445, 0, "None")
    (quic,) = invoke(
        state, "New-SmbMapping", {"RemotePath": "\\\\fs2\\data", "QuicPort": 8443, "TransportType": "QUIC"}
    )
    assert (quic["QuicPort"], quic["TransportType"]) == (8443, "QUIC")
    assert [m["RemotePath"] for m in invoke(state, "Get-SmbMapping", {})] == ["\\\\fs1\\data", "\\\\fs2\\data"]


@pytest.mark.parametrize(
    "ports",
    [{"TcpPort": 4445, "QuicPort": 8443}, {"TcpPort": 4445, "RdmaPort": 5446}, {"QuicPort": 1, "TransportType": "TCP"}],
)
def test_mapping_refuses_two_ports_or_a_port_that_contradicts_the_transport(ports):
    state = WindowsState()
    error = fails(state, "New-SmbMapping", {"RemotePath": "\\\\fs1\\data", **ports})
    assert error.fully_qualified_error_id == "Windows System Error 87,New-SmbMapping"
    assert state.smb_mappings == []


def test_mapping_validates_paths_and_drive_reuse():
    state = WindowsState()
    assert fails(state, "New-SmbMapping", {"RemotePath": "fs1/data"}).message == "The network name cannot be found."
    assert fails(state, "New-SmbMapping", {"LocalPath": "XY", "RemotePath": "\\\\a\\b"}).message == (
        "The specified device name is invalid."
    )
    invoke(state, "New-SmbMapping", {"LocalPath": "X:", "RemotePath": "\\\\a\\b"})
    assert fails(state, "New-SmbMapping", {"LocalPath": "x:", "RemotePath": "\\\\c\\d"}).message == (
        "The local device name is already in use."
    )


def test_remove_mapping_needs_force_and_reports_missing_ones():
    state = WindowsState()
    invoke(state, "New-SmbMapping", {"RemotePath": "\\\\fs1\\data", "TcpPort": 4445})
    assert fails(state, "Remove-SmbMapping", {"RemotePath": "\\\\fs1\\data"}).category == "InvalidOperation"
    missing = fails(state, "Remove-SmbMapping", {"RemotePath": "\\\\fs9\\data", "Force": True})
    assert missing.fully_qualified_error_id == "CmdletizationQuery_NotFound_RemotePath,Remove-SmbMapping"
    invoke(state, "Remove-SmbMapping", {"RemotePath": "\\\\FS1\\data", "Force": True})
    assert state.smb_mappings == []


def test_enable_smb_quic_client_setting():
    state = WindowsState()
    assert invoke(state, "Get-SmbClientConfiguration", {})[0]["EnableSMBQUIC"] is True
    assert (
        "Boolean parameters accept only Boolean values"
        in fails(state, "Set-SmbClientConfiguration", {"EnableSMBQUIC": "no", "Force": True}).message
    )
    invoke(state, "Set-SmbClientConfiguration", {"EnableSMBQUIC": False, "Force": True})
    assert state.client_configuration["EnableSMBQUIC"] is False


# -- firewall ----------------------------------------------------------------------------------------
def test_firewall_rule_lifecycle_with_wildcard_get():
    state = WindowsState()
    rule = {
        "Name": "smb-alternative-port-quic-8443",
        "DisplayName": "SMB over QUIC 8443",
        "Direction": "Inbound",
        "Protocol": "UDP",
        "LocalPort": "8443",
        "Action": "Allow",
    }
    (created,) = invoke(state, "New-NetFirewallRule", rule)
    assert "LocalPort" not in created  # the port lives on the port filter object on Windows
    assert state.firewall_rules[0]["LocalPort"] == ["8443"] and state.firewall_rules[0]["Protocol"] == "UDP"
    assert (
        fails(state, "New-NetFirewallRule", rule).fully_qualified_error_id
        == "Windows System Error 183,New-NetFirewallRule"
    )
    assert [r["Name"] for r in invoke(state, "Get-NetFirewallRule", {"Name": "smb-alternative-port-*"})] == [
        rule["Name"]
    ]
    assert invoke(state, "Get-NetFirewallRule", {"Name": "nothing-*"}) == []
    assert fails(state, "Get-NetFirewallRule", {"Name": "nothing"}).category == "ObjectNotFound"
    invoke(state, "Remove-NetFirewallRule", {"Name": rule["Name"]})
    assert state.firewall_rules == []


def test_firewall_port_needs_tcp_or_udp():
    error = fails(WindowsState(), "New-NetFirewallRule", {"DisplayName": "x", "LocalPort": "8443"})
    assert "only be specified when the protocol is TCP or UDP" in error.message


# -- registry ----------------------------------------------------------------------------------------
def test_policy_key_is_absent_on_a_fresh_host():
    state = WindowsState()
    assert invoke(state, "Test-Path", {"Path": POLICY_KEY}) == [False]
    error = fails(state, "Get-ItemProperty", {"Path": POLICY_KEY, "Name": "AlternativePortMappings"})
    assert error.message == f"Cannot find path '{POLICY_KEY}' because it does not exist."
    assert error.fully_qualified_error_id == "PathNotFound,Microsoft.PowerShell.Commands.GetItemPropertyCommand"


def test_alternative_port_mappings_multistring_lifecycle():
    state = WindowsState()
    invoke(state, "New-Item", {"Path": POLICY_KEY})
    lines = ["fs1.contoso.com:tcp:4445", "fs2.contoso.com:quic:8443"]
    invoke(
        state,
        "New-ItemProperty",
        {"Path": POLICY_KEY, "Name": "AlternativePortMappings", "PropertyType": "MultiString", "Value": lines},
    )
    assert (
        fails(
            state,
            "New-ItemProperty",
            {"Path": POLICY_KEY, "Name": "AlternativePortMappings", "PropertyType": "MultiString"},
        ).message
        == "The property already exists."
    )
    (read,) = invoke(
        state,
        "Get-ItemProperty",
        {"Path": "registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\LanmanWorkstation"},
    )
    assert read["AlternativePortMappings"] == lines and read["PSChildName"] == "LanmanWorkstation"
    invoke(state, "Set-ItemProperty", {"Path": POLICY_KEY, "Name": "alternativeportmappings", "Value": "fs3:tcp:1"})
    assert state.to_json()["registry"][
        "HKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows\\LanmanWorkstation"
    ] == {"AlternativePortMappings": {"type": "MultiString", "data": ["fs3:tcp:1"]}}
    invoke(state, "Remove-ItemProperty", {"Path": POLICY_KEY, "Name": "AlternativePortMappings"})
    assert fails(state, "Remove-ItemProperty", {"Path": POLICY_KEY, "Name": "AlternativePortMappings"}).message == (
        "Property AlternativePortMappings does not exist at path "
        "HKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows\\LanmanWorkstation."
    )


def test_new_item_on_an_existing_key_needs_force_and_force_empties_it():
    state = WindowsState()
    invoke(state, "New-Item", {"Path": POLICY_KEY})
    invoke(
        state,
        "New-ItemProperty",
        {"Path": POLICY_KEY, "Name": "AlternativePortMappings", "PropertyType": "MultiString", "Value": ["a:tcp:1"]},
    )
    assert fails(state, "New-Item", {"Path": POLICY_KEY}).message == "A key at this path already exists."
    invoke(state, "New-Item", {"Path": POLICY_KEY, "Force": True})
    assert invoke(state, "Get-ItemProperty", {"Path": POLICY_KEY}) == []


def test_new_item_needs_force_for_missing_parents_and_other_drives_do_not_exist():
    state = WindowsState()
    deep = "HKLM:\\Software\\Policies\\Contoso\\Deep"
    assert fails(state, "New-Item", {"Path": deep}).category == "ObjectNotFound"
    invoke(state, "New-Item", {"Path": deep, "Force": True})
    assert invoke(state, "Test-Path", {"Path": [deep, "HKLM:\\Software\\Policies\\Contoso"]}) == [True, True]
    assert fails(state, "Get-ItemProperty", {"Path": "C:\\Windows"}).message == (
        "Cannot find drive. A drive with the name 'C' does not exist."
    )


# -- state file round trip ---------------------------------------------------------------------------
def test_state_round_trips_through_json_and_rejects_unknown_sections():
    state = WindowsState()
    invoke(state, "New-SmbServerAlternativePort", {"TransportType": "QUIC", "Port": 8443, "EnableInstances": "Default"})
    invoke(state, "New-Item", {"Path": POLICY_KEY})
    invoke(
        state,
        "New-ItemProperty",
        {"Path": POLICY_KEY, "Name": "AlternativePortMappings", "PropertyType": "MultiString", "Value": ["a:quic:1"]},
    )
    copy = WindowsState.from_json(state.to_json())
    assert copy.to_json() == state.to_json()
    assert invoke(copy, "Test-Path", {"Path": POLICY_KEY}) == [True]
    with pytest.raises(ValueError, match=r"unknown section\(s\) \['ports'\]"):
        WindowsState.from_json({"ports": []})


def test_global_mapping_takes_a_credential_and_never_a_prompt():
    state = WindowsState()
    credential = {"PSCredential": {"UserName": "CONTOSO\\svc-map", "Password": "S3cret"}}
    (mapping,) = invoke(
        state,
        "New-SmbGlobalMapping",
        {"RemotePath": "\\\\fs1\\data", "Credential": credential, "TcpPort": 4445, "TransportType": "TCP"},
    )
    assert (mapping["RemotePath"], mapping["TcpPort"], mapping["TransportType"]) == ("\\\\fs1\\data", 4445, "TCP")
    assert "UserName" not in mapping and "Password" not in str(mapping)  # not properties of MSFT_SmbGlobalMapping
    assert state.global_mappings[0]["UserName"] == "CONTOSO\\svc-map"
    assert state.smb_mappings == []  # a global mapping is not a user's mapping
    prompt = fails(state, "New-SmbGlobalMapping", {"RemotePath": "\\\\fs2\\data", "Credential": "CONTOSO\\svc-map"})
    assert prompt.message.startswith("PowerShell is in NonInteractive mode.")
    assert fails(state, "New-SmbGlobalMapping", {"RemotePath": "\\\\fs2\\data"}).message.endswith("Credential.")
    invoke(state, "Remove-SmbGlobalMapping", {"RemotePath": "\\\\fs1\\data", "Force": True})
    assert state.global_mappings == []
