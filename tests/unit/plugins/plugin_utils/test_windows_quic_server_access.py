"""quic_server_access against the cmdlet model: certificate mappings and client access control."""

from __future__ import annotations

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


def test_new_certificate_replaces_the_mapping(model_host, target):
    run(model_host, target, certificate_mappings=[{"name": "fs1.contoso.com", "thumbprint": THUMB}])
    model_host.reset_counts()
    run(model_host, target, certificate_mappings=[{"name": "fs1.contoso.com", "thumbprint": OTHER}])
    assert model_host.changing_commands() == [
        "Remove-SmbServerCertificateMapping",
        "New-SmbServerCertificateMapping",
    ]
    assert model_host.state.certificate_mappings[0]["Thumbprint"] == OTHER


def test_mapping_absent(model_host, target):
    run(model_host, target, certificate_mappings=[{"name": "fs1.contoso.com", "thumbprint": THUMB}])
    run(model_host, target, certificate_mappings=[{"name": "fs1.contoso.com", "state": "absent"}])
    assert model_host.state.certificate_mappings == []


def test_grant_block_revoke(model_host, target):
    entry = {"name": "fs1.contoso.com", "identifier": CLIENT}
    granted = run(model_host, target, client_access=[{**entry, "access": "grant"}])
    assert model_host.changing_calls() == [
        (
            "Grant-SmbClientAccessToServer",
            {"Name": "fs1.contoso.com", "IdentifierType": "SHA256", "Identifier": CLIENT, "Force": True},
        )
    ]
    assert granted["after"]["client_access"] == [
        {"name": "fs1.contoso.com", "identifier_type": "sha256", "identifier": CLIENT, "access": "grant"}
    ]
    assert run(model_host, target, client_access=[{**entry, "access": "grant"}])["changed"] is False
    model_host.reset_counts()
    blocked = run(model_host, target, client_access=[{**entry, "access": "block"}])
    assert model_host.changing_commands() == ["Block-SmbClientAccessToServer"]
    assert blocked["after"]["client_access"][0]["access"] == "block"
    model_host.reset_counts()
    run(model_host, target, client_access=[{**entry, "access": "revoke"}])
    assert model_host.changing_commands() == ["Revoke-SmbClientAccessToServer"]
    assert model_host.state.client_access == []
    assert run(model_host, target, client_access=[{**entry, "access": "revoke"}])["changed"] is False


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
