"""The SMB server cmdlets of the model: QUIC-only alternative ports, certificate mappings, client access."""

from __future__ import annotations

import pytest

from tests.support.windows_host.catalog import invoke
from tests.support.windows_host.cmdlet_errors import CmdletError
from tests.support.windows_host.state import WindowsState

QUIC_8443 = {"TransportType": "QUIC", "Port": 8443, "EnableInstances": "Default"}


def fails(state: WindowsState, command: str, parameters: dict) -> CmdletError:
    with pytest.raises(CmdletError) as raised:
        invoke(state, command, parameters)
    return raised.value


def test_new_quic_port_is_listed_with_microsoft_names():
    state = WindowsState()
    created = invoke(state, "New-SmbServerAlternativePort", QUIC_8443)
    # MSFT_SmbServerAlternativePort has Instances; EnableInstances is a parameter only.
    assert created == [{"TransportType": "Quic", "Port": 8443, "Instances": "Default"}]
    assert invoke(state, "Get-SmbServerAlternativePort", {}) == created


def test_enum_properties_come_as_the_class_numbers_when_the_host_answers_numbers():
    state = WindowsState(host={"enum_form": "numbers", "language_mode": "FullLanguage"})
    assert invoke(state, "New-SmbServerAlternativePort", QUIC_8443) == [
        {"TransportType": 2, "Port": 8443, "Instances": 1}
    ]
    assert invoke(state, "Get-SmbServerAlternativePort", {}) == [{"TransportType": 2, "Port": 8443, "Instances": 1}]
    # Parameters still take names, as PowerShell binds them.
    invoke(state, "Remove-SmbServerAlternativePort", {"TransportType": "QUIC", "Port": 8443, "Force": True})
    assert state.alternative_ports == []


@pytest.mark.parametrize("transport", ["TCP", "Rdma"])
def test_tcp_and_rdma_server_ports_are_refused_as_windows_refuses_them(transport):
    state = WindowsState()
    error = fails(state, "New-SmbServerAlternativePort", {**QUIC_8443, "TransportType": transport})
    assert error.message == "The request is not supported."
    assert error.fully_qualified_error_id == "Windows System Error 50,New-SmbServerAlternativePort"
    assert state.alternative_ports == []


def test_a_second_entry_for_the_same_port_is_refused():
    state = WindowsState()
    invoke(state, "New-SmbServerAlternativePort", QUIC_8443)
    error = fails(state, "New-SmbServerAlternativePort", QUIC_8443)
    assert (error.message, error.category) == ("The object already exists.", "ResourceExists")
    assert len(state.alternative_ports) == 1


@pytest.mark.parametrize(
    ("port", "message"),
    [
        (0, "The parameter is incorrect."),
        (65536, "Value was either too large or too small for a UInt16."),
        (-1, "Value was either too large or too small for a UInt16."),
        ("eighty", "Input string was not in a correct format."),
    ],
)
def test_ports_outside_1_to_65535_are_refused(port, message):
    error = fails(WindowsState(), "New-SmbServerAlternativePort", {**QUIC_8443, "Port": port})
    assert message in error.message


def test_enable_instances_is_mandatory_and_limited_to_default_or_none():
    state = WindowsState()
    missing = fails(state, "New-SmbServerAlternativePort", {"TransportType": "QUIC", "Port": 1})
    assert missing.message.endswith("missing mandatory parameters: EnableInstances.")
    wrong = fails(state, "New-SmbServerAlternativePort", {**QUIC_8443, "EnableInstances": "All"})
    assert "Specify one of the following enumerator names and try again:\nDefault, None" in wrong.message


def test_set_needs_force_under_noninteractive_and_only_the_default_instance_is_allowed():
    state = WindowsState()
    invoke(state, "New-SmbServerAlternativePort", QUIC_8443)
    prompt = fails(state, "Set-SmbServerAlternativePort", QUIC_8443)
    assert prompt.message.startswith("PowerShell is in NonInteractive mode.")
    invoke(state, "Set-SmbServerAlternativePort", {**QUIC_8443, "Force": True})
    # "Currently only the Default instance is allowed." (the error itself is assumed; see SOURCES.md)
    refused = fails(state, "Set-SmbServerAlternativePort", {**QUIC_8443, "EnableInstances": "None", "Force": True})
    assert refused.message == "The parameter is incorrect."
    assert fails(state, "New-SmbServerAlternativePort", {**QUIC_8443, "Port": 9443, "EnableInstances": "None"})
    assert state.alternative_ports == [{"TransportType": "Quic", "Port": 8443, "Instances": "Default"}]


def test_remove_missing_port_reports_not_found_and_removes_nothing():
    state = WindowsState()
    invoke(state, "New-SmbServerAlternativePort", QUIC_8443)
    error = fails(state, "Remove-SmbServerAlternativePort", {"TransportType": "QUIC", "Port": 9443, "Force": True})
    assert error.message.startswith(
        "No MSFT_SmbServerAlternativePort objects found with property 'Port' equal to '9443'"
    )
    assert error.category == "ObjectNotFound"
    invoke(state, "Remove-SmbServerAlternativePort", {"TransportType": "QUIC", "Port": 8443, "Confirm": False})
    assert state.alternative_ports == []


def test_get_with_a_filter_that_matches_nothing_is_an_error_like_cdxml():
    error = fails(WindowsState(), "Get-SmbServerAlternativePort", {"TransportType": "QUIC"})
    assert error.fully_qualified_error_id == "CmdletizationQuery_NotFound_TransportType,Get-SmbServerAlternativePort"
    assert invoke(WindowsState(), "Get-SmbServerAlternativePort", {}) == []


def test_whatif_changes_nothing():
    state = WindowsState()
    assert invoke(state, "New-SmbServerAlternativePort", {**QUIC_8443, "WhatIf": True}) == []
    assert state.alternative_ports == []


def test_certificate_mapping_lifecycle():
    state = WindowsState()
    thumbprint = "88032b3551faf7de26efffff814aa086e3dbd2a4"
    mapping = {"Name": "fs2.contoso.com", "Thumbprint": thumbprint, "StoreName": "My"}
    (created,) = invoke(state, "New-SmbServerCertificateMapping", mapping)
    assert created["Thumbprint"] == thumbprint.upper() and created["Type"] == "QUIC"
    assert fails(state, "New-SmbServerCertificateMapping", mapping).category == "ResourceExists"
    assert fails(state, "New-SmbServerCertificateMapping", {**mapping, "Name": "x", "Thumbprint": "12"}).message == (
        "The parameter is incorrect."
    )
    assert [m["Name"] for m in invoke(state, "Get-SmbServerCertificateMapping", {"Name": "fs2*"})] == [
        "fs2.contoso.com"
    ]
    invoke(state, "Remove-SmbServerCertificateMapping", {"Name": "fs2.contoso.com", "Force": True})
    assert state.certificate_mappings == []


THUMBPRINT = "88032B3551FAF7DE26EFFFFF814AA086E3DBD2A4"
RENEWED = "0123456789ABCDEF0123456789ABCDEF01234567"


def test_client_access_grant_revoke_block_unblock_move_the_entries_as_documented():
    state = WindowsState()
    invoke(state, "New-SmbServerCertificateMapping", {"Name": "fs2", "Thumbprint": THUMBPRINT, "StoreName": "My"})
    entry = {"Name": "fs2", "IdentifierType": "issuer", "Identifier": "CN=Contoso Issuing CA", "Force": True}

    def entries():
        return [
            (e["AccessControlType"], e["Identifier"])
            for e in invoke(state, "Get-SmbClientAccessToServer", {"Name": "fs2"})
        ]

    invoke(state, "Grant-SmbClientAccessToServer", entry)
    assert entries() == [("Allow", "CN=Contoso Issuing CA")]
    invoke(state, "Block-SmbClientAccessToServer", entry)
    assert entries() == [("Allow", "CN=Contoso Issuing CA"), ("Deny", "CN=Contoso Issuing CA")]
    invoke(state, "Unblock-SmbClientAccessToServer", entry)  # Unblock undoes Block ...
    assert entries() == [("Allow", "CN=Contoso Issuing CA")]
    assert fails(state, "Unblock-SmbClientAccessToServer", entry).category == "ObjectNotFound"
    invoke(state, "Revoke-SmbClientAccessToServer", entry)  # ... and Revoke undoes Grant
    assert entries() == []
    assert fails(state, "Revoke-SmbClientAccessToServer", entry).category == "ObjectNotFound"
    assert fails(state, "Grant-SmbClientAccessToServer", {**entry, "Force": False}).message.startswith(
        "PowerShell is in NonInteractive mode."
    )


@pytest.mark.parametrize(
    "command",
    [
        "Grant-SmbClientAccessToServer",
        "Block-SmbClientAccessToServer",
        "Revoke-SmbClientAccessToServer",
        "Unblock-SmbClientAccessToServer",
    ],
)
def test_access_names_must_be_an_existing_certificate_mapping(command):
    state = WindowsState()
    entry = {"Name": "fs9", "IdentifierType": "SHA256", "Identifier": "AB" * 32, "Force": True}
    error = fails(state, command, entry)
    assert error.message.startswith(
        "No MSFT_SmbServerCertificateMapping objects found with property 'Name' equal to 'fs9'"
    )
    assert state.client_access == []


def test_a_renewed_certificate_is_set_on_the_mapping_and_keeps_its_access_entries():
    state = WindowsState()
    invoke(state, "New-SmbServerCertificateMapping", {"Name": "fs2", "Thumbprint": THUMBPRINT, "StoreName": "My"})
    grant = {"Name": "fs2", "IdentifierType": "SHA256", "Identifier": "AB" * 32, "Force": True}
    invoke(state, "Grant-SmbClientAccessToServer", grant)
    invoke(state, "Set-SmbServerCertificateMapping", {"Name": "fs2", "Thumbprint": RENEWED.lower(), "Confirm": False})
    (mapping,) = invoke(state, "Get-SmbServerCertificateMapping", {})
    assert mapping["Thumbprint"] == RENEWED
    assert len(invoke(state, "Get-SmbClientAccessToServer", {"Name": "fs2"})) == 1
    # Removing the mapping takes its entries with it (assumed).
    invoke(state, "Remove-SmbServerCertificateMapping", {"Name": "fs2", "Force": True})
    assert state.client_access == []


def test_access_entries_answer_numbers_when_the_host_does():
    state = WindowsState(host={"enum_form": "numbers", "language_mode": "FullLanguage"})
    invoke(state, "New-SmbServerCertificateMapping", {"Name": "fs2", "Thumbprint": THUMBPRINT, "StoreName": "My"})
    invoke(
        state,
        "Block-SmbClientAccessToServer",
        {"Name": "fs2", "IdentifierType": "ISSUER", "Identifier": "CN=x", "Force": True},
    )
    (entry,) = invoke(state, "Get-SmbClientAccessToServer", {"Name": "fs2"})
    assert (entry["AccessControlType"], entry["IdentifierType"]) == (1, 1)
