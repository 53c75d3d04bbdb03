"""The windows backend of server_ports over real WinRM: exact cmdlet calls and round trips, as the host records them."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import RefusedError
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_backend import (
    windows_server_ports,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMError
from tests.support.windows_over_winrm import changing_calls, round_trips, target_of

QUIC = {"TransportType": "QUIC"}


def rule_call(port: int) -> tuple[str, dict]:
    return (
        "New-NetFirewallRule",
        {
            "Name": f"smb-alternative-port-quic-{port}",
            "DisplayName": f"SMB over QUIC alternative port {port} (UDP-In)",
            "Direction": "Inbound",
            "Protocol": "UDP",
            "LocalPort": str(port),
            "Action": "Allow",
        },
    )


def apply(host, password, check_mode=False, **args):
    host.observer.reset()
    return windows_server_ports(target_of(host, password), args, check_mode)


def test_add_change_remove_and_exclusive(http_host, password):
    added = apply(http_host, password, ports=[{"transport": "quic", "port": 8443}])
    assert changing_calls(http_host) == [
        rule_call(8443),
        ("New-SmbServerAlternativePort", {**QUIC, "Port": 8443, "EnableInstances": "Default", "Force": True}),
    ]
    assert added["after"] == [{"transport": "quic", "port": 8443, "instances": "default"}]
    # one shell: the read, the conflict read of the new port (who holds it, excluded ranges), the apply
    assert round_trips(http_host) == (1, 3)

    same = apply(http_host, password, ports=[{"transport": "quic", "port": 8443}])
    assert same["changed"] is False and changing_calls(http_host) == [] and round_trips(http_host) == (1, 1)

    # Only the Default instance exists: instances none is refused before the host is contacted.
    with pytest.raises(RefusedError, match="only the Default instance"):
        apply(http_host, password, ports=[{"transport": "quic", "port": 8443, "instances": "none"}])
    assert changing_calls(http_host) == [] and round_trips(http_host) == (0, 0)

    apply(http_host, password, ports=[{"transport": "quic", "port": 9443}])
    exclusive = apply(http_host, password, ports=[{"transport": "quic", "port": 10443}], exclusive=True)
    assert changing_calls(http_host) == [
        rule_call(10443),
        ("New-SmbServerAlternativePort", {**QUIC, "Port": 10443, "EnableInstances": "Default", "Force": True}),
        ("Remove-SmbServerAlternativePort", {**QUIC, "Port": 8443, "Force": True}),
        ("Remove-SmbServerAlternativePort", {**QUIC, "Port": 9443, "Force": True}),
        ("Remove-NetFirewallRule", {"Name": "smb-alternative-port-quic-8443"}),
        ("Remove-NetFirewallRule", {"Name": "smb-alternative-port-quic-9443"}),
    ]
    assert exclusive["before"] == [
        {"transport": "quic", "port": 8443, "instances": "default"},
        {"transport": "quic", "port": 9443, "instances": "default"},
    ]
    assert exclusive["after"] == [{"transport": "quic", "port": 10443, "instances": "default"}]
    assert round_trips(http_host) == (1, 3)

    removed = apply(http_host, password, ports=[{"transport": "quic", "port": 10443}], state="absent")
    assert changing_calls(http_host) == [
        ("Remove-SmbServerAlternativePort", {**QUIC, "Port": 10443, "Force": True}),
        ("Remove-NetFirewallRule", {"Name": "smb-alternative-port-quic-10443"}),
    ]
    assert removed["after"] == [] and http_host.state.alternative_ports == [] and http_host.state.firewall_rules == []


def test_check_mode_runs_one_read_and_no_changing_call(http_host, password):
    apply(http_host, password, ports=[{"transport": "quic", "port": 8443}])
    result = apply(http_host, password, check_mode=True, ports=[{"transport": "quic", "port": 9443}], exclusive=True)
    assert result["changed"] is True
    assert [step["action"] for step in result["plan"]] == ["add", "remove"]
    assert changing_calls(http_host) == []
    assert round_trips(http_host) == (1, 2)  # the read and the conflict read of 9443, never an apply
    assert [entry["Port"] for entry in http_host.state.alternative_ports] == [8443]


@pytest.mark.parametrize("transport", ["tcp", "rdma"])
def test_tcp_or_rdma_port_is_refused_and_the_host_never_hears_of_it(http_host, password, transport):
    with pytest.raises(
        RefusedError,
        match="Windows can move only its SMB over QUIC listener; TCP and RDMA listening ports cannot be changed on Windows",
    ):
        apply(http_host, password, ports=[{"transport": transport, "port": 4445}])
    counters = http_host.counters
    assert (counters["shells_created"], counters["commands"], counters["executions"]) == (0, 0, 0)


def test_a_connection_dropped_during_the_apply_is_clear_and_a_rerun_converges(password):
    from tests.support.windows_host import EmulatedWindowsHost, HostUser
    from tests.support.windows_host.state import WindowsState, quic_ready

    host = EmulatedWindowsHost(
        users=[HostUser("Administrator", password)],
        drop_connection_during_command=2,
        initial_state=quic_ready(WindowsState()),
    ).start()
    try:
        wanted = {"ports": [{"transport": "quic", "port": 8443}, {"transport": "quic", "port": 9443}]}
        with pytest.raises(WinRMError) as caught:
            windows_server_ports(target_of(host, password), wanted, False)
        message = str(caught.value)
        assert message.startswith("the WinRM connection to Administrator@127.0.0.1:")
        assert "broke while a command ran" in message and "run the task again" in message
        assert len(host.state.alternative_ports) + len(host.state.firewall_rules) < 4  # only part of the changes landed
        again = windows_server_ports(target_of(host, password), wanted, False)
        assert [entry["port"] for entry in again["after"]] == [8443, 9443]
        assert sorted(rule["Name"] for rule in host.state.firewall_rules) == [
            "smb-alternative-port-quic-8443",
            "smb-alternative-port-quic-9443",
        ]
        assert windows_server_ports(target_of(host, password), wanted, False)["changed"] is False
    finally:
        host.stop()
