"""Reading netsh's excluded port ranges in any language and shape, and the sentences a conflict turns into."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._cmdlets import CallResult
from ansible_collections.smb.alternative_ports.plugins.module_utils._windows_port_conflicts import (
    ExcludedRange,
    HostPorts,
    conflict_reads,
    parse_conflict_reads,
    parse_excluded_ranges,
    port_conflicts,
)

ENGLISH = [
    "",
    "Protocol udp Port Exclusion Ranges",
    "",
    "Start Port    End Port",
    "----------    --------",
    "      5357        5357",
    "     50000       50059     *",
    "",
    "* - Administered port exclusions.",
]
# A French host translates the title, the header and the legend; the rows are the same.
FRENCH = [
    "Protocole udp Plages d'exclusion de ports",
    "",
    "Port de début    Port de fin",
    "-------------    -----------",
    "      5357           5357",
    "     50000          50059     *",
    "* - Exclusions de ports administrés.",
]
EXPECTED = [ExcludedRange("udp", 5357, 5357, False), ExcludedRange("udp", 50000, 50059, True)]


@pytest.mark.parametrize(
    "output",
    [ENGLISH, FRENCH, ["\r\n".join(ENGLISH)], ["\n".join(FRENCH) + "\n"]],
    ids=["english-lines", "french-lines", "english-one-text-crlf", "french-one-text"],
)
def test_excluded_ranges_are_read_from_the_rows_whatever_the_language_or_shape(output):
    assert parse_excluded_ranges("udp", output) == EXPECTED


@pytest.mark.parametrize(
    "output",
    [[], [None], ["The following command was not found: interface ipv4 show excludedportrange."], ["9 8"]],
    ids=["nothing", "null", "an-error-text", "a-backwards-pair"],
)
def test_text_without_ranges_gives_none(output):
    assert parse_excluded_ranges("udp", output) == []


def test_the_conflict_read_asks_one_endpoint_call_per_port_and_http_only_for_quic_443():
    reads = conflict_reads([{"transport": "quic", "port": 8443}, {"transport": "quic", "port": 9443}])
    commands = [(call.command, call.parameters, call.arguments) for call in reads.calls]
    assert commands == [
        ("Get-NetUDPEndpoint", {"LocalPort": 8443}, None),
        ("Get-NetUDPEndpoint", {"LocalPort": 9443}, None),
        ("netsh.exe", {}, ["interface", "ipv4", "show", "excludedportrange", "protocol=udp"]),
        ("netsh.exe", {}, ["interface", "ipv6", "show", "excludedportrange", "protocol=udp"]),
        ("Get-Process", {}, None),
    ]
    assert reads.calls[2].as_request()["arguments"] == [
        "interface",
        "ipv4",
        "show",
        "excludedportrange",
        "protocol=udp",
    ]
    assert reads.calls[2].describe() == "netsh.exe interface ipv4 show excludedportrange protocol=udp"
    assert conflict_reads([{"transport": "quic", "port": 443}]).calls[-1].command == "Get-ItemProperty"
    tcp = conflict_reads([{"transport": "rdma", "port": 5446}]).calls[0]
    assert (tcp.command, tcp.parameters) == ("Get-NetTCPConnection", {"State": "Listen", "LocalPort": 5446})


def test_failed_or_empty_reads_count_as_nothing_there():
    added = [{"transport": "quic", "port": 8443}]
    reads = conflict_reads(added)
    not_found = {"message": "No MSFT_NetUDPEndpoint objects found", "category": "ObjectNotFound"}
    results = [CallResult(call.command, False, [], not_found) for call in reads.calls]
    found = parse_conflict_reads(reads, results)
    assert port_conflicts("h", added, found, [], True) == []


QUIC_8443 = [{"transport": "quic", "port": 8443}]


def holders(*rows) -> HostPorts:
    return HostPorts(holders={("udp", 8443): list(rows)}, processes={4: "System", 2216: "nginx"})


def test_a_system_holder_of_our_own_port_is_the_smb_server():
    found = holders({"LocalAddress": "::", "LocalPort": 8443, "OwningProcess": 4})
    assert port_conflicts("h", QUIC_8443, found, [("quic", 8443)], True) == []
    assert "by the kernel (System, pid 4)" in port_conflicts("h", QUIC_8443, found, [], True)[0]


def test_one_sentence_per_holding_process_and_an_unnamed_one_says_how_to_find_it():
    found = holders(
        {"LocalAddress": "0.0.0.0", "LocalPort": 8443, "OwningProcess": 2216},
        {"LocalAddress": "::", "LocalPort": 8443, "OwningProcess": 2216},
        {"LocalAddress": "::", "LocalPort": 8443, "OwningProcess": 7000},
        {"LocalAddress": "::", "LocalPort": 8443, "OwningProcess": None},
    )
    problems = port_conflicts("h", QUIC_8443, found, [], True)
    assert problems == [
        "h: quic/8443: UDP port 8443 is held on 0.0.0.0 by nginx (pid 2216): stop it or pick another port",
        "h: quic/8443: UDP port 8443 is held on :: by a process that has since exited (pid 7000): stop it or pick "
        "another port",
        "h: quic/8443: UDP port 8443 is held on :: by a process Windows did not name (Get-NetUDPEndpoint -LocalPort "
        "8443 shows it): stop it or pick another port",
    ]


@pytest.mark.parametrize("value, refused", [(1, True), ("1", True), (0, False), (None, False)])
def test_http3_refuses_quic_443_by_the_registry_value_alone(value, refused):
    added = [{"transport": "quic", "port": 443}]
    reads = conflict_reads(added)
    results = [CallResult(call.command, True, []) for call in reads.calls]
    results[-1] = CallResult("Get-ItemProperty", True, [{"EnableHttp3": value}])
    problems = port_conflicts("h", added, parse_conflict_reads(reads, results), [], True)
    assert bool(problems) is refused
    assert all("http.sys serves HTTP/3" in problem for problem in problems)
