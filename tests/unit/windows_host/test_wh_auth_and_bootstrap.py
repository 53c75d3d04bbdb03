"""Users file, Basic credentials, channel-binding detection, and where the bootstrap comes from."""

from __future__ import annotations

import base64

import pytest
import spnego
from spnego.channel_bindings import GssChannelBindings

from tests.support.windows_host import bootstrap_source
from tests.support.windows_host.auth import (
    AuthenticationFailed,
    HostUser,
    check_basic,
    parse_users,
    sends_channel_bindings,
)


def test_users_file_lines_and_errors():
    users = parse_users("# accounts\n:vagrant:pa:ss:word\nCORP:admin:x\n\n")
    assert users == [HostUser("vagrant", "pa:ss:word"), HostUser("admin", "x", "CORP")]
    with pytest.raises(ValueError, match="users:2: expected DOMAIN:user:password"):
        parse_users(":ok:pw\nnot-a-line\n", "users")
    with pytest.raises(ValueError, match="no users"):
        parse_users("# nothing\n")


def _basic(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("name", ["vagrant", "VAGRANT", ".\\vagrant"])
def test_basic_accepts_a_local_user_by_its_names(name):
    assert check_basic([HostUser("vagrant", "pw")], _basic(f"{name}:pw")) == "vagrant"


@pytest.mark.parametrize("credentials", ["vagrant:PW", "OTHER\\admin:x", "nobody:pw", "no-colon"])
def test_basic_refuses_wrong_credentials(credentials):
    with pytest.raises(AuthenticationFailed):
        check_basic([HostUser("vagrant", "pw"), HostUser("admin", "x", "CORP")], _basic(credentials))
    with pytest.raises(AuthenticationFailed):
        check_basic([HostUser("vagrant", "pw")], "***not base64***")


def test_channel_binding_detection_on_real_authenticate_messages(tmp_path, monkeypatch):
    store = tmp_path / "users"
    store.write_text(":vagrant:pw\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(store))
    seen = {}
    for label, bindings in (
        ("with", GssChannelBindings(application_data=b"tls-server-end-point:" + b"x" * 32)),
        ("without", None),
    ):
        client = spnego.client("vagrant", "pw", protocol="ntlm", channel_bindings=bindings)
        acceptor = spnego.server(protocol="ntlm")
        challenge = acceptor.step(client.step())
        seen[label] = sends_channel_bindings(client.step(challenge))
    assert seen == {"with": True, "without": False}
    assert sends_channel_bindings(b"garbage") is True  # unknown shapes are judged strictly by the acceptor


def test_bootstrap_from_the_module_source_matches_the_imported_constant():
    from_source = bootstrap_source.bootstrap_from_source()
    from_import = bootstrap_source.bootstrap_from_import()
    assert from_source, "plugins/plugin_utils/_powershell.py must assign BOOTSTRAP or BOOTSTRAP_SCRIPT a string literal"
    if from_import is not None:  # importable when the collection path is on sys.path (tests/support/collection.py)
        assert from_source == from_import
