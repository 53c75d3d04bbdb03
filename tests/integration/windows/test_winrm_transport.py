"""The WinRM session against a real WS-Management endpoint: encryption, TLS, credentials, the command line."""

from __future__ import annotations

import pytest
import winrm

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_backend import (
    windows_server_ports_info,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_port_policy import (
    run_client_port_policy,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import (
    WinRMAuthenticationError,
    WinRMError,
    WinRMTarget,
)
from tests.support.net import free_port
from tests.support.windows_over_winrm import round_trips, target_of


def test_ntlm_with_message_encryption_over_http(http_host, password, monkeypatch):
    content_types = []
    real_send = winrm.transport.Transport._send_message_request

    def spy(self, session, prepared):
        response = real_send(self, session, prepared)
        if prepared.body:  # the first, empty request only authenticates
            content_types.append((prepared.headers.get("Content-Type", ""), response.headers.get("Content-Type", "")))
        return response

    monkeypatch.setattr(winrm.transport.Transport, "_send_message_request", spy)
    info = windows_server_ports_info(target_of(http_host, password, transport="ntlm"), {})
    assert info == {"changed": False, "backend": "windows", "ports": [], "firewall_rules": []}
    assert round_trips(http_host) == (1, 1)
    assert len(content_types) >= 4  # create shell, command, send, receive, ...
    for sent, got in content_types:
        assert sent.startswith("multipart/encrypted") and got.startswith("multipart/encrypted")


def test_basic_over_https_with_the_ca_trusted(https_host, password):
    target = target_of(https_host, password, transport="basic", ca_trust_path=str(https_host.cert_path))
    assert windows_server_ports_info(target, {})["ports"] == []
    assert round_trips(https_host) == (1, 1)


def test_untrusted_certificate_is_a_clear_error(https_host, password):
    target = target_of(https_host, password, transport="basic")
    with pytest.raises(
        WinRMError, match=r"the TLS certificate of https://127\.0\.0\.1:\d+/wsman was not accepted"
    ) as caught:
        windows_server_ports_info(target, {})
    assert "ansible_winrm_ca_trust_path" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("transport", ["ntlm", "basic"])
def test_wrong_password_says_authentication_failed_for_user_at_host_port(http_host, https_host, password, transport):
    host = http_host if transport == "ntlm" else https_host
    target = target_of(host, "wrong-" + password, transport=transport, ca_trust_path=str(https_host.cert_path))
    with pytest.raises(WinRMAuthenticationError) as caught:
        windows_server_ports_info(target, {})
    address, port = host.address
    assert str(caught.value).startswith(f"authentication failed for Administrator@{address}:{port}")
    assert password not in str(caught.value)
    assert caught.value.__suppress_context__  # no chained pywinrm traceback
    assert round_trips(host) == (0, 0)


def test_unencrypted_http_is_refused_and_nothing_is_sent(http_host, password):
    for overrides in ({"transport": "basic"}, {"transport": "ntlm", "message_encryption": "never"}):
        with pytest.raises(WinRMError, match="over plain HTTP"):
            windows_server_ports_info(target_of(http_host, password, **overrides), {})
    assert http_host.counters["commands"] == 0 and http_host.counters["shells_created"] == 0


def test_nothing_listening_is_a_clear_error(password):
    port = free_port()  # free a moment ago: nothing listens there now
    closed = WinRMTarget.from_values(
        {"host": "127.0.0.1", "port": port, "scheme": "http", "user": "u", "password": password}
    )
    with pytest.raises(WinRMError, match=rf"no WinRM answer at http://127\.0\.0\.1:{port}/wsman"):
        windows_server_ports_info(closed, {})


def test_request_data_never_reaches_the_command_line(http_host, password, monkeypatch):
    command_lines = []
    real_run_command = winrm.Protocol.run_command

    def spy(self, shell_id, command, arguments=(), *args, **kwargs):
        command_lines.append(" ".join([command, *arguments]))
        return real_run_command(self, shell_id, command, arguments, *args, **kwargs)

    monkeypatch.setattr(winrm.Protocol, "run_command", spy)
    marker_server = "marker-server-7f3a9c.contoso.com"
    entries = [{"server": marker_server, "transport": "quic", "port": 47123}]
    result = run_client_port_policy(target_of(http_host, password), {"entries": entries, "quic": "disabled"}, False)
    assert result["after"]["entries"] == [f"{marker_server}:quic:47123"]
    assert len(command_lines) == 2
    for line in command_lines:
        for field in (
            marker_server,
            "47123",
            "AlternativePortMappings",
            "EnableSMBQUIC",
            "New-ItemProperty",
            "Set-SmbClientConfiguration",
        ):
            assert field not in line
    assert command_lines[0] == command_lines[1]  # the same fixed bootstrap every time


def test_a_plaintext_answer_to_an_encrypted_request_is_refused(http_host, password, monkeypatch):
    # Make the host answer in the clear (what a misconfigured proxy or a fake endpoint would do); pywinrm alone
    # would accept that silently.
    from tests.support.windows_host import auth, http_server

    monkeypatch.setattr(auth.NtlmAcceptor, "wrap", lambda self, data: (b"", data))
    monkeypatch.setattr(http_server, "build_encrypted", lambda length, signature, sealed: sealed)
    monkeypatch.setattr(http_server, "CONTENT_TYPE", "application/soap+xml;charset=UTF-8")
    with pytest.raises(WinRMError, match="answered an encrypted WinRM request in plain text") as caught:
        windows_server_ports_info(target_of(http_host, password), {})
    assert "refusing to go on unencrypted over HTTP" in str(caught.value)
    assert http_host.counters["executions"] == 0
