"""The emulated host's WinRM endpoint as a default Windows Server 2025 is configured, through real pywinrm.

Basic authentication off unless turned on; MaxEnvelopeSizekb 500 with the fault Windows sends; user names
as ``user``, ``DOMAIN\\user`` and ``user@domain``; a local administrator other than the built-in one refused
unless LocalAccountTokenFilterPolicy is 1; the shell options checked.
"""

from __future__ import annotations

import pytest
import winrm
from winrm.exceptions import InvalidCredentialsError, WSManFaultError

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import (
    WinRMAuthenticationError,
    WinRMSession,
    WinRMTarget,
)
from tests.support.windows_host import EmulatedWindowsHost, HostUser
from tests.support.windows_host.state import WindowsState, allow_local_admins
from tests.support.windows_host.testing import executor_stdin, powershell_arguments, results, run_executor

ADMIN = HostUser("Administrator", "Adm-Pw-1")
LOCAL_ADMIN = HostUser("deploy", "Dep-Pw-2")
DOMAIN_ADMIN = HostUser("ops", "Ops-Pw-3", domain="CORP", upn_suffix="corp.example.com")
READ = [{"command": "Get-SmbServerAlternativePort", "properties": ["TransportType", "Port"]}]


def protocol(
    host: EmulatedWindowsHost, username: str, password: str, transport: str = "ntlm"
) -> winrm.protocol.Protocol:
    options = {"ca_trust_path": str(host.cert_path)} if host.tls else {"ca_trust_path": None}
    return winrm.protocol.Protocol(
        host.url,
        transport=transport,
        username=username,
        password=password,
        operation_timeout_sec=5,
        read_timeout_sec=10,
        **options,
    )


@pytest.fixture
def host():
    with EmulatedWindowsHost([ADMIN, LOCAL_ADMIN, DOMAIN_ADMIN], tls=False) as started:
        yield started


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("Administrator", ADMIN.password),
        (".\\Administrator", ADMIN.password),
        ("CORP\\ops", DOMAIN_ADMIN.password),
        ("ops@corp.example.com", DOMAIN_ADMIN.password),
    ],
)
def test_user_names_as_windows_takes_them(host, username, password):
    stdout, _stderr, exit_code = run_executor(protocol(host, username, password), executor_stdin(READ))
    assert exit_code == 0 and results(stdout)[0]["ok"] is True


def test_a_local_administrator_other_than_the_built_in_one_is_refused_until_the_policy_allows_it(host):
    with pytest.raises(InvalidCredentialsError):
        protocol(host, "deploy", LOCAL_ADMIN.password).open_shell()
    assert host.counters["shells_created"] == 0
    allow_local_admins(host.state)  # what the README tells the administrator to set
    stdout, _stderr, exit_code = run_executor(protocol(host, "deploy", LOCAL_ADMIN.password), executor_stdin(READ))
    assert exit_code == 0 and results(stdout)[0]["ok"] is True


def test_the_collection_names_the_policy_when_a_local_administrator_is_refused(host):
    address, port = host.address
    target = WinRMTarget.from_values(
        {"host": address, "port": port, "scheme": "http", "user": "deploy", "password": LOCAL_ADMIN.password}
    )
    with pytest.raises(WinRMAuthenticationError, match="LocalAccountTokenFilterPolicy is 1") as raised:
        with WinRMSession(target):
            pass
    assert LOCAL_ADMIN.password not in str(raised.value)


def test_basic_is_off_unless_turned_on():
    with EmulatedWindowsHost([ADMIN], tls=True) as default_host:
        with pytest.raises(InvalidCredentialsError):
            protocol(default_host, "Administrator", ADMIN.password, transport="basic").open_shell()
        address, port = default_host.address
        target = WinRMTarget.from_values(
            {"host": address, "port": port, "user": "Administrator", "password": ADMIN.password, "transport": "basic",
             "ca_trust_path": str(default_host.cert_path)}
        )  # fmt: skip
        with pytest.raises(WinRMAuthenticationError, match="Basic authentication is off on a default Windows host"):
            with WinRMSession(target):
                pass
    with EmulatedWindowsHost([ADMIN], tls=True, basic_auth=True) as basic_host:
        shell = protocol(basic_host, "Administrator", ADMIN.password, transport="basic").open_shell()
        assert shell


def test_a_request_over_max_envelope_size_gets_the_windows_fault(host):
    client = protocol(host, "Administrator", ADMIN.password)
    shell_id = client.open_shell()
    command_id = client.run_command(shell_id, "powershell.exe", powershell_arguments(), console_mode_stdin=False)
    with pytest.raises(WSManFaultError) as raised:
        client.send_command_input(shell_id, command_id, b"x" * (400 * 1024), end=True)  # ~533 KiB once base64
    assert raised.value.wsman_fault_code == 2150859025 and raised.value.fault_subcode == "w:EncodingLimit"
    assert "MaxEnvelopeSize" in raised.value.reason


def test_the_collection_stays_under_max_envelope_size(host):
    """A 1 MiB stdin reaches the command whole: the session sends it in pieces."""
    address, port = host.address
    target = WinRMTarget.from_values(
        {"host": address, "port": port, "scheme": "http", "user": "Administrator", "password": ADMIN.password}
    )
    padding = b"#" * (1024 * 1024)
    with WinRMSession(target) as session:
        output = session.run("powershell.exe", tuple(powershell_arguments()), executor_stdin(READ, padding=padding))
    assert output.exit_code == 0 and results(output.stdout)[0]["ok"] is True
    # and as Ansible's winrm connection does, stdin is a pipe, not a console
    assert host.counters["commands"] == 1 and host.counters["console_mode_stdin"] == 0


@pytest.mark.parametrize(
    ("option", "value"),
    [("WINRS_CODEPAGE", "70000"), ("WINRS_NOPROFILE", "maybe")],
)
def test_shell_options_are_checked_as_windows_checks_them(host, option, value):
    client = protocol(host, "Administrator", ADMIN.password)
    kwargs = {"codepage": int(value)} if option == "WINRS_CODEPAGE" else {"noprofile": value}
    with pytest.raises(WSManFaultError) as raised:
        client.open_shell(**kwargs)
    assert option in raised.value.reason
    assert host.counters["shells_created"] == 0


def test_the_state_accepts_the_policy_value_from_an_initial_state_file():
    state = WindowsState.from_json(allow_local_admins(WindowsState()).to_json())
    with EmulatedWindowsHost([LOCAL_ADMIN], initial_state=state) as started:
        assert protocol(started, "deploy", LOCAL_ADMIN.password).open_shell()
