"""The quic_server_access action plugin against the cmdlet model."""

from __future__ import annotations

import pytest

from tests.support.windows_action_runner import ActionRunner
from tests.support.windows_model_session import ModelHost

THUMB = "0123456789ABCDEF0123456789ABCDEF01234567"


@pytest.fixture
def model_host() -> ModelHost:
    return ModelHost()


@pytest.fixture
def action(model_host, monkeypatch) -> ActionRunner:
    return ActionRunner("quic_server_access", "run_quic_server_access", model_host, monkeypatch)


def test_mapping_and_grant(action, model_host):
    result = action.run(
        {
            "certificate_mappings": [{"name": "fs1.contoso.com", "thumbprint": THUMB}],
            "client_access": [
                {"name": "fs1.contoso.com", "identifier": "CN=Contoso Issuing CA", "identifier_type": "issuer"}
            ],
        },
        diff=True,
    )
    assert result["changed"] is True
    assert model_host.changing_commands() == [
        "New-SmbServerCertificateMapping",
        "Grant-SmbClientAccessToServer",
    ]
    assert model_host.state.client_access[0]["IdentifierType"] == "ISSUER"
    assert "certificate mapping fs1.contoso.com: My\\" + THUMB in result["diff"]["after"]


def test_missing_thumbprint_fails_before_connecting(action, model_host):
    result = action.run({"certificate_mappings": [{"name": "fs1"}]})
    assert result["failed"] is True and "thumbprint" in result["msg"] and model_host.commands == 0
