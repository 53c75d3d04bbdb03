"""Real pywinrm 0.5, unmodified, against the emulated Windows host over HTTP and HTTPS."""

from __future__ import annotations

import json

import pytest
import requests
import winrm
import xmltodict
from winrm.encryption import Encryption
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError, WSManFaultError

from tests.support.windows_host import EmulatedWindowsHost, read_state_file
from tests.support.windows_host.state import WindowsState, allow_local_admins
from tests.support.windows_host.testing import (
    OTHER_USER,
    USER,
    basic_https_protocol,
    executor_stdin,
    ntlm_protocol,
    powershell_arguments,
    results,
    run_executor,
)

ADD_QUIC_PORT = [
    {
        "command": "New-SmbServerAlternativePort",
        "parameters": {"TransportType": "QUIC", "Port": 8443, "EnableInstances": "Default"},
    },
    {"command": "Get-SmbServerAlternativePort", "properties": ["TransportType", "Port", "Instances"]},
]


def test_ntlm_with_message_encryption_over_http_runs_the_executor(http_host, monkeypatch):
    reply_types = []
    original = Encryption.parse_encrypted_response

    def spy(self, response):
        reply_types.append(response.headers["Content-Type"])
        return original(self, response)

    monkeypatch.setattr(Encryption, "parse_encrypted_response", spy)

    stdout, stderr, exit_code = run_executor(ntlm_protocol(http_host), executor_stdin(ADD_QUIC_PORT))

    assert (exit_code, stderr) == (0, b"")
    assert results(stdout)[1]["output"] == [{"TransportType": "Quic", "Port": 8443, "Instances": "Default"}]
    assert http_host.state.alternative_ports == [{"TransportType": "Quic", "Port": 8443, "Instances": "Default"}]
    # every SOAP reply of the session came back encrypted, never in plaintext
    assert reply_types and all("HTTP-SPNEGO-session-encrypted" in t for t in reply_types)


def test_round_trips_are_counted_per_user_and_written_to_the_state_file(http_host, tmp_path):
    run_executor(ntlm_protocol(http_host), executor_stdin(ADD_QUIC_PORT[1:]))
    run_executor(ntlm_protocol(http_host, OTHER_USER), executor_stdin(ADD_QUIC_PORT))

    counters = http_host.counters
    assert counters["per_user"]["vagrant"]["shells_created"] == 1
    assert counters["per_user"]["vagrant"]["executions"] == 1
    assert counters["per_user"]["CORP\\admin"]["executions"] == 1
    assert [(c["command"], c["user"]) for c in http_host.calls] == [
        ("Get-SmbServerAlternativePort", "vagrant"),
        ("New-SmbServerAlternativePort", "CORP\\admin"),
        ("Get-SmbServerAlternativePort", "CORP\\admin"),
    ]
    snapshot = read_state_file(tmp_path / "state.json")
    assert snapshot["url"] == http_host.url
    assert snapshot["counters"]["executions"] == 2
    assert snapshot["state"]["alternative_ports"][0]["Port"] == 8443


def test_basic_over_https_validates_the_self_signed_certificate(https_host):
    stdout, _stderr, exit_code = run_executor(basic_https_protocol(https_host), executor_stdin(ADD_QUIC_PORT))

    assert exit_code == 0
    assert results(stdout)[0]["ok"] is True


def test_https_without_the_ca_fails_certificate_validation(https_host):
    protocol = basic_https_protocol(https_host, ca_trust_path=None)
    with pytest.raises(requests.exceptions.SSLError):
        protocol.open_shell()


def _ntlm_https(host: EmulatedWindowsHost, send_cbt: bool) -> winrm.protocol.Protocol:
    return winrm.protocol.Protocol(
        host.url,
        transport="ntlm",
        username=USER.name,
        password=USER.password,
        ca_trust_path=str(host.cert_path),
        send_cbt=send_cbt,
    )


@pytest.mark.parametrize(
    ("mode", "send_cbt", "accepted"),
    [
        ("relaxed", True, True),
        ("relaxed", False, True),  # Windows' default accepts a client that sends no binding
        ("strict", True, True),
        ("strict", False, False),
    ],
)
def test_ntlm_over_https_channel_binding_modes(mode, send_cbt, accepted):
    with EmulatedWindowsHost(
        [USER], tls=True, channel_binding=mode, initial_state=allow_local_admins(WindowsState())
    ) as host:
        protocol = _ntlm_https(host, send_cbt)
        if not accepted:
            with pytest.raises(InvalidCredentialsError):
                protocol.open_shell()
            return
        stdout, _stderr, exit_code = run_executor(protocol, executor_stdin(ADD_QUIC_PORT))
        assert exit_code == 0 and results(stdout)[0]["ok"] is True


@pytest.mark.parametrize("transport", ["ntlm", "basic"])
def test_wrong_password_is_invalid_credentials(http_host, https_host, transport):
    if transport == "ntlm":
        protocol = ntlm_protocol(http_host, password="not-the-password")
    else:
        protocol = basic_https_protocol(https_host, password="not-the-password")
    with pytest.raises(InvalidCredentialsError):
        protocol.open_shell()
    assert http_host.counters["shells_created"] == https_host.counters["shells_created"] == 0


def test_basic_over_plain_http_is_not_offered(http_host):
    protocol = winrm.protocol.Protocol(
        http_host.url, transport="basic", username=USER.name, password=USER.password, ca_trust_path=None
    )
    with pytest.raises(InvalidCredentialsError):
        protocol.open_shell()


def test_plaintext_soap_over_http_is_refused_with_a_reason(http_host):
    protocol = winrm.protocol.Protocol(
        http_host.url,
        transport="ntlm",
        username=USER.name,
        password=USER.password,
        message_encryption="never",
        ca_trust_path=None,
    )
    with pytest.raises(WinRMTransportError) as raised:
        protocol.open_shell()
    assert raised.value.code == 400
    assert "refuses unencrypted WinRM traffic over HTTP" in raised.value.response_text
    assert http_host.counters["shells_created"] == 0


def test_four_mib_of_stdin_in_several_sends(http_host):
    protocol = ntlm_protocol(http_host)
    stdin = executor_stdin(ADD_QUIC_PORT, padding=b"#" * (4 * 1024 * 1024) + b"\r\n")
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "powershell.exe", powershell_arguments(), console_mode_stdin=False)
    piece = 256 * 1024  # each Send stays under MaxEnvelopeSizekb 500 once base64-encoded
    for start in range(0, len(stdin), piece):
        protocol.send_command_input(shell_id, command_id, stdin[start : start + piece], end=start + piece >= len(stdin))
    stdout, _stderr, exit_code = protocol.get_command_output(shell_id, command_id)
    protocol.close_shell(shell_id)

    assert exit_code == 0
    assert [r["ok"] for r in results(stdout)] == [True, True]


def test_a_command_that_is_not_the_executor_is_refused_plainly(http_host):
    response = winrm.Session(
        http_host.url, auth=(USER.name, USER.password), transport="ntlm", ca_trust_path=None
    ).run_cmd("ipconfig", ["/all"])
    assert response.status_code == 1
    assert response.std_err.decode().strip() == (
        "emulated host runs only the smb.alternative_ports executor; got: ipconfig /all"
    )
    assert http_host.counters["refused"] == 1 and http_host.calls == []


def test_a_powershell_script_that_is_not_the_executor_is_refused(http_host):
    response = winrm.Session(
        http_host.url, auth=(USER.name, USER.password), transport="ntlm", ca_trust_path=None
    ).run_ps("Get-SmbServerAlternativePort")
    assert response.status_code == 1
    assert response.std_err.decode().startswith("emulated host runs only the smb.alternative_ports executor; got: ")


def test_stdin_without_the_executor_header_is_refused(http_host):
    stdin = b"Remove-Item -Recurse C:\\\x00\x00\x00\x00" + json.dumps({"calls": []}).encode()
    stdout, stderr, exit_code = run_executor(ntlm_protocol(http_host), stdin)
    assert (exit_code, stdout) == (1, b"")
    assert stderr.decode().strip() == (
        "emulated host runs only the smb.alternative_ports executor; got: Remove-Item -Recurse C:\\"
    )


def test_a_cmdlet_error_comes_back_as_a_result_and_stops_the_rest(http_host):
    calls = [
        {
            "command": "New-SmbServerAlternativePort",
            "parameters": {"TransportType": "TCP", "Port": 4445, "EnableInstances": "Default"},
        },
        {"command": "Get-SmbServerAlternativePort"},
    ]
    stdout, _stderr, exit_code = run_executor(ntlm_protocol(http_host), executor_stdin(calls))
    assert exit_code == 0
    (only,) = results(stdout)
    assert only["ok"] is False
    assert only["error"]["fully_qualified_error_id"] == "Windows System Error 50,New-SmbServerAlternativePort"
    assert http_host.state.alternative_ports == []


def test_bad_requests_get_soap_faults_and_the_connection_keeps_working(http_host):
    protocol = ntlm_protocol(http_host)
    with pytest.raises(WSManFaultError) as not_xml:
        protocol.send_message("<not-xml")
    assert "not well-formed XML" in not_xml.value.reason

    psrp = {
        "env:Envelope": protocol.build_wsman_header(
            action="http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
            resource_uri="http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
        )
    }
    with pytest.raises(WSManFaultError) as not_winrs:
        protocol.send_message(xmltodict.unparse(psrp))
    assert "serves only WinRS" in not_winrs.value.reason

    with pytest.raises(WSManFaultError) as no_shell:
        protocol.run_command("00000000-0000-0000-0000-000000000000", "powershell.exe", powershell_arguments())
    assert no_shell.value.wsman_fault_code == 2150858843

    stdout, _stderr, exit_code = run_executor(protocol, executor_stdin(ADD_QUIC_PORT[1:]))
    assert exit_code == 0 and results(stdout)[0]["ok"] is True


def test_other_paths_and_methods_are_refused_with_a_content_length(http_host):
    with requests.Session() as client:
        client.trust_env = False  # no proxy between the test and loopback
        wrong_path = client.post(http_host.url.replace("/wsman", "/other"), data=b"x", timeout=10)
        wrong_method = client.get(http_host.url, timeout=10)
        chunked = client.post(http_host.url, data=iter([b"<a/>"]), timeout=10)
    assert (wrong_path.status_code, wrong_path.headers["Content-Length"]) == (404, str(len(wrong_path.content)))
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert chunked.status_code == 411


@pytest.mark.parametrize("token", ["Zm9v", "TlRMTVNTUAADAAAA", "not base64!"])
def test_garbage_ntlm_tokens_get_a_401_and_the_connection_stays_usable(http_host, token):
    with requests.Session() as client:
        client.trust_env = False
        refused = client.post(http_host.url, headers={"Authorization": f"Negotiate {token}"}, data=b"", timeout=10)
        again = client.post(http_host.url, data=b"", timeout=10)
    assert refused.status_code == again.status_code == 401
    # what a default Windows host offers over HTTP: Negotiate and Kerberos, never Basic
    assert again.headers["WWW-Authenticate"] == "Negotiate, Kerberos"
