"""The emulated host's sockets, processes and excluded port ranges: what Get-NetUDPEndpoint, Get-NetTCPConnection,
Get-Process and netsh.exe answer, including the SMB server's own QUIC sockets and what tests plant."""

from __future__ import annotations

import pytest

from tests.support.windows_host.catalog import invoke
from tests.support.windows_host.cmdlet_errors import CmdletError
from tests.support.windows_host.network_cmdlets import (
    plant_excluded_range,
    plant_http_sys,
    plant_listener,
    run_native,
)
from tests.support.windows_host.request_runner import run_request
from tests.support.windows_host.state import WindowsState, quic_ready


def test_the_smb_server_own_quic_sockets_belong_to_system():
    state = quic_ready(WindowsState())
    invoke(state, "New-SmbServerAlternativePort", {"TransportType": "QUIC", "Port": 8443, "EnableInstances": "Default"})
    rows = invoke(state, "Get-NetUDPEndpoint", {})
    assert [(row["LocalPort"], row["OwningProcess"]) for row in rows] == [(443, 4), (8443, 4)]
    state.server_configuration["EnableSMBQUIC"] = False
    assert [row["LocalPort"] for row in invoke(state, "Get-NetUDPEndpoint", {})] == [8443]


def test_a_port_filter_that_matches_nothing_is_the_cdxml_not_found_error():
    state = plant_listener(WindowsState(), "udp", 5353, 2216, "mdnsd")
    assert invoke(state, "Get-NetUDPEndpoint", {"LocalPort": 5353}) == [
        {"LocalAddress": "0.0.0.0", "LocalPort": 5353, "OwningProcess": 2216}
    ]
    with pytest.raises(CmdletError) as missing:
        invoke(state, "Get-NetUDPEndpoint", {"LocalPort": 8443})
    assert missing.value.category == "ObjectNotFound"
    assert missing.value.fully_qualified_error_id == "CmdletizationQuery_NotFound_LocalPort,Get-NetUDPEndpoint"


def test_tcp_listeners_and_process_names():
    state = plant_http_sys(WindowsState(), http3=False)
    plant_listener(state, "tcp", 8080, 3100, "java")
    listening = invoke(state, "Get-NetTCPConnection", {"State": "Listen", "LocalPort": [443, 8080]})
    assert sorted((row["LocalPort"], row["OwningProcess"]) for row in listening) == [(443, 4), (8080, 3100)]
    with pytest.raises(CmdletError, match="Unable to match the identifier name Listening"):
        invoke(state, "Get-NetTCPConnection", {"State": "Listening"})
    assert invoke(state, "Get-Process", {"Id": 3100}) == [{"Id": 3100, "ProcessName": "java"}]
    with pytest.raises(CmdletError, match="process identifier 9999"):
        invoke(state, "Get-Process", {"Id": 9999})


def test_netsh_lists_excluded_ranges_as_an_english_windows_prints_them():
    state = plant_excluded_range(WindowsState(), "udp", 50000, 50059, True)
    plant_excluded_range(state, "udp", 5357, 5357, False)
    lines = run_native(state, "netsh.exe", ["interface", "ipv4", "show", "excludedportrange", "protocol=udp"])
    assert "Protocol udp Port Exclusion Ranges" in lines
    assert [line for line in lines if line.strip()[:1].isdigit()] == [
        "      5357        5357",
        "     50000       50059     *",
    ]
    assert run_native(state, "netsh", ["int", "ipv6", "show", "excludedportrange", "tcp"])[-2] == (
        "* - Administered port exclusions."
    )


def test_netsh_is_run_through_the_request_with_arguments_and_an_unknown_command_fails():
    request = {
        "calls": [
            {"command": "netsh.exe", "arguments": ["interface", "ipv4", "show", "excludedportrange", "protocol=udp"]},
            {"command": "netsh.exe", "arguments": ["interface", "ipv4", "add", "excludedportrange", "protocol=udp"]},
        ],
        "stop_on_error": False,
    }
    calls = []
    results = run_request(WindowsState(), request, calls.append)["results"]
    assert results[0]["ok"] is True and "Protocol udp Port Exclusion Ranges" in results[0]["output"]
    assert results[1]["ok"] is False
    assert results[1]["error"]["message"].startswith(
        "netsh.exe exited with code 1: The following command was not found"
    )
    assert calls[0].extra == {"arguments": ["interface", "ipv4", "show", "excludedportrange", "protocol=udp"]}
