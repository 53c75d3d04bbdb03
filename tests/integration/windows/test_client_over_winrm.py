"""client_mapping, client_port_policy and quic_server_access over real WinRM."""

from __future__ import annotations

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_mapping import run_client_mapping
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_port_policy import (
    POLICY_KEY,
    run_client_port_policy,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_quic_server_access import (
    run_quic_server_access,
)
from tests.support.windows_over_winrm import changing_calls, round_trips, target_of

REMOTE = "\\\\fs1.contoso.com\\data"


def test_global_mapping_with_a_credential_over_winrm_is_idempotent(http_host, password):
    target = target_of(http_host, password)
    args = {
        "local_path": "Y:",
        "remote_path": REMOTE,
        "quic_port": 8443,
        "username": "CONTOSO\\svc",
        "password": "Sv-9x",
    }
    first = run_client_mapping(target, args, False)
    assert first["changed"] is True and http_host.state.global_mappings[0]["QuicPort"] == 8443
    assert http_host.state.global_mappings[0]["UserName"] == "CONTOSO\\svc"
    assert "Sv-9x" not in str(http_host.calls)  # the host's own call log masks the credential
    http_host.observer.reset()
    assert run_client_mapping(target, args, False)["changed"] is False and round_trips(http_host) == (1, 1)


def test_mapping_add_change_remove(http_host, password):
    target = target_of(http_host, password)
    run_client_mapping(
        target,
        {"local_path": "Z:", "remote_path": REMOTE, "tcp_port": 4445, "persistent": True, "scope": "user"},
        False,
    )
    assert changing_calls(http_host) == [
        ("New-SmbMapping", {"LocalPath": "Z:", "RemotePath": REMOTE, "TcpPort": 4445, "Persistent": True})
    ]
    http_host.observer.reset()
    run_client_mapping(
        target,
        {"local_path": "Z:", "remote_path": REMOTE, "quic_port": 8443, "persistent": True, "scope": "user"},
        False,
    )
    assert changing_calls(http_host) == [
        ("Remove-SmbMapping", {"LocalPath": "Z:", "Force": True, "UpdateProfile": True}),
        (
            "New-SmbMapping",
            {"LocalPath": "Z:", "RemotePath": REMOTE, "QuicPort": 8443, "TransportType": "QUIC", "Persistent": True},
        ),
    ]
    assert round_trips(http_host) == (1, 2)
    http_host.observer.reset()
    absent = {"local_path": "Z:", "remote_path": REMOTE, "state": "absent", "scope": "user"}
    checked = run_client_mapping(target, absent, True)
    assert checked["changed"] is True and changing_calls(http_host) == [] and round_trips(http_host) == (1, 1)
    http_host.observer.reset()
    run_client_mapping(target, absent, False)
    assert changing_calls(http_host) == [("Remove-SmbMapping", {"LocalPath": "Z:", "Force": True})]
    assert http_host.state.smb_mappings == []


def test_two_hundred_policy_entries_in_one_apply(http_host, password):
    entries = [{"server": f"fs{i:03d}.branch.contoso.com", "transport": "quic", "port": 20000 + i} for i in range(200)]
    lines = [f"fs{i:03d}.branch.contoso.com:quic:{20000 + i}" for i in range(200)]
    result = run_client_port_policy(target_of(http_host, password), {"entries": entries, "exclusive": True}, False)
    assert result["after"]["entries"] == lines
    assert changing_calls(http_host) == [
        ("New-Item", {"Path": POLICY_KEY, "Force": True}),
        (
            "New-ItemProperty",
            {
                "Path": POLICY_KEY,
                "Name": "AlternativePortMappings",
                "PropertyType": "MultiString",
                "Value": lines,
                "Force": True,
            },
        ),
    ]
    assert round_trips(http_host) == (1, 2)
    http_host.observer.reset()
    again = run_client_port_policy(target_of(http_host, password), {"entries": entries, "exclusive": True}, False)
    assert again["changed"] is False and round_trips(http_host) == (1, 1)


def test_quic_client_off_and_on(http_host, password):
    target = target_of(http_host, password)
    run_client_port_policy(target, {"quic": "disabled"}, False)
    assert changing_calls(http_host) == [("Set-SmbClientConfiguration", {"EnableSMBQUIC": False, "Force": True})]
    assert http_host.state.client_configuration["EnableSMBQUIC"] is False
    run_client_port_policy(target, {"quic": "enabled"}, False)
    assert http_host.state.client_configuration["EnableSMBQUIC"] is True


def test_certificate_mapping_and_client_access(https_host, password):
    target = target_of(https_host, password, transport="basic", ca_trust_path=str(https_host.cert_path))
    thumbprint = "0123456789ABCDEF0123456789ABCDEF01234567"
    args = {
        "certificate_mappings": [{"name": "fs1.contoso.com", "thumbprint": thumbprint}],
        "client_access": [
            {"name": "fs1.contoso.com", "identifier_type": "sha256", "identifier": "AB" * 32, "access": "block"}
        ],
    }
    result = run_quic_server_access(target, args, False)
    assert changing_calls(https_host) == [
        (
            "New-SmbServerCertificateMapping",
            {"Name": "fs1.contoso.com", "Thumbprint": thumbprint, "StoreName": "My", "Force": True},
        ),
        (
            "Block-SmbClientAccessToServer",
            {"Name": "fs1.contoso.com", "IdentifierType": "SHA256", "Identifier": "AB" * 32, "Force": True},
        ),
    ]
    assert result["after"]["client_access"][0]["access"] == "block"
    https_host.observer.reset()
    assert run_quic_server_access(target, args, False)["changed"] is False and round_trips(https_host) == (1, 1)
