"""quic_server_access against the cmdlet model: certificate mappings and client access control."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import WindowsTaskError
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_quic_server_access import (
    run_quic_server_access,
)

THUMB = "0123456789ABCDEF0123456789ABCDEF01234567"
OTHER = "89ABCDEF0123456789ABCDEF0123456789ABCDEF"
CLIENT = "4F3C0A6B1F0E8D7C6B5A49382716F5E4D3C2B1A09F8E7D6C5B4A39281706F5E4"


def run(model_host, target, check_mode=False, **args):
    return run_quic_server_access(target, args, check_mode, session_factory=model_host.session_factory)


def test_mapping_is_created_then_left_alone(model_host, target):
    result = run(model_host, target, certificate_mappings=[{"name": "fs1.contoso.com", "thumbprint": THUMB.lower()}])
    assert model_host.changing_calls() == [
        (
            "New-SmbServerCertificateMapping",
            {"Name": "fs1.contoso.com", "Thumbprint": THUMB, "StoreName": "My", "Force": True},
        )
    ]
    assert result["after"]["certificate_mappings"][0]["thumbprint"] == THUMB
    model_host.reset_counts()
    assert (
        run(model_host, target, certificate_mappings=[{"name": "FS1.contoso.com", "thumbprint": THUMB}])["changed"]
        is False
    )
    assert model_host.changing_calls() == []


def test_a_renewed_certificate_is_set_on_the_mapping_and_the_access_entries_stay(model_host, target):
    mapping = {"name": "fs1.contoso.com", "thumbprint": THUMB}
    run(
        model_host,
        target,
        certificate_mappings=[mapping],
        client_access=[{"name": "fs1.contoso.com", "identifier": CLIENT}],
    )
    model_host.reset_counts()
    renewed = run(model_host, target, certificate_mappings=[{**mapping, "thumbprint": OTHER}])
    assert model_host.changing_calls() == [
        (
            "Set-SmbServerCertificateMapping",
            {"Name": "fs1.contoso.com", "Thumbprint": OTHER, "StoreName": "My", "Confirm": False},
        )
    ]
    assert model_host.state.certificate_mappings[0]["Thumbprint"] == OTHER
    assert len(model_host.state.client_access) == 1  # Remove-then-New would have dropped it
    assert renewed["after"]["certificate_mappings"][0]["thumbprint"] == OTHER


def test_mapping_absent(model_host, target):
    run(model_host, target, certificate_mappings=[{"name": "fs1.contoso.com", "thumbprint": THUMB}])
    run(model_host, target, certificate_mappings=[{"name": "fs1.contoso.com", "state": "absent"}])
    assert model_host.state.certificate_mappings == []


def test_grant_block_revoke_each_move_the_entry_the_documented_way(model_host, target):
    mapping = [{"name": "fs1.contoso.com", "thumbprint": THUMB}]
    entry = {"name": "fs1.contoso.com", "identifier": CLIENT}
    params = {"Name": "fs1.contoso.com", "IdentifierType": "SHA256", "Identifier": CLIENT, "Force": True}
    granted = run(model_host, target, certificate_mappings=mapping, client_access=[{**entry, "access": "grant"}])
    assert model_host.changing_calls()[-1] == ("Grant-SmbClientAccessToServer", params)
    assert granted["after"]["client_access"] == [
        {"name": "fs1.contoso.com", "identifier_type": "sha256", "identifier": CLIENT, "access": "grant"}
    ]
    assert run(model_host, target, client_access=[{**entry, "access": "grant"}])["changed"] is False
    model_host.reset_counts()
    blocked = run(model_host, target, client_access=[{**entry, "access": "block"}])
    # the allow entry is revoked (Revoke undoes Grant), then the client is blocked
    assert model_host.changing_calls() == [
        ("Revoke-SmbClientAccessToServer", params),
        ("Block-SmbClientAccessToServer", params),
    ]
    assert [a["access"] for a in blocked["after"]["client_access"]] == ["block"]
    assert run(model_host, target, client_access=[{**entry, "access": "block"}])["changed"] is False
    model_host.reset_counts()
    run(model_host, target, client_access=[{**entry, "access": "grant"}])
    # Unblock undoes Block
    assert model_host.changing_commands() == ["Unblock-SmbClientAccessToServer", "Grant-SmbClientAccessToServer"]
    model_host.reset_counts()
    run(model_host, target, client_access=[{**entry, "access": "revoke"}])
    assert model_host.changing_commands() == ["Revoke-SmbClientAccessToServer"]
    assert model_host.state.client_access == []
    assert run(model_host, target, client_access=[{**entry, "access": "revoke"}])["changed"] is False


def test_an_entry_for_a_name_without_a_certificate_mapping_fails_before_any_change(model_host, target):
    with pytest.raises(
        WindowsTaskError, match=r"client_access\[0\]\.name: 'fs9\.contoso\.com' is not a certificate mapping"
    ):
        run(
            model_host,
            target,
            certificate_mappings=[{"name": "fs1.contoso.com", "thumbprint": THUMB}],
            client_access=[{"name": "fs9.contoso.com", "identifier": CLIENT}],
        )
    assert model_host.changing_calls() == []


def test_check_mode_changes_nothing(model_host, target):
    result = run(
        model_host,
        target,
        check_mode=True,
        certificate_mappings=[{"name": "fs1", "thumbprint": THUMB}],
        client_access=[{"name": "fs1", "identifier": CLIENT}],
    )
    assert result["changed"] is True and len(result["commands"]) == 2
    assert model_host.changing_calls() == [] and model_host.commands == 1
    assert result["before"] == {"certificate_mappings": [], "client_access": []}
    assert result["after"]["certificate_mappings"][0]["thumbprint"] == THUMB
    assert result["after"]["client_access"] == [
        {"name": "fs1", "identifier_type": "sha256", "identifier": CLIENT, "access": "grant"}
    ]
    assert (
        result["diff"]["after"] == f"certificate mapping fs1: My\\{THUMB}\nclient access fs1: grant sha256:{CLIENT}\n"
    )
    # what check mode predicted is what a real run reports
    real = run(
        model_host,
        target,
        certificate_mappings=[{"name": "fs1", "thumbprint": THUMB}],
        client_access=[{"name": "fs1", "identifier": CLIENT}],
    )
    assert real["after"] == result["after"]
