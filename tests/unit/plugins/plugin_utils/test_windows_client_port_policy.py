"""client_port_policy against the cmdlet model: the AlternativePortMappings value and EnableSMBQUIC."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_port_policy import (
    POLICY_KEY,
    run_client_port_policy,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import WindowsTaskError

KEY_PATH = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\LanmanWorkstation"
FS1 = {"server": "fs1.contoso.com", "transport": "tcp", "port": 4445}
EDGE = {"server": "edge1.contoso.com", "transport": "quic", "port": 8443}


def run(model_host, target, check_mode=False, **args):
    return run_client_port_policy(target, args, check_mode, session_factory=model_host.session_factory)


def policy_value(model_host):
    key = model_host.state.find_key(KEY_PATH)
    value = key.values.get("alternativeportmappings") if key else None
    return value and (value["type"], value["data"])


def test_first_entries_create_the_key_and_the_multistring(model_host, target):
    result = run(model_host, target, entries=[FS1, EDGE])
    lines = ["fs1.contoso.com:tcp:4445", "edge1.contoso.com:quic:8443"]
    assert model_host.changing_calls() == [
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
    assert policy_value(model_host) == ("MultiString", lines)
    assert result["before"] == {"entries": []} and result["after"] == {"entries": lines}
    assert result["changed"] is True and (model_host.shells, model_host.commands) == (1, 2)


def test_merge_replaces_the_port_in_place_and_appends(model_host, target):
    run(model_host, target, entries=[FS1, EDGE])
    model_host.reset_counts()
    result = run(
        model_host, target, entries=[{**EDGE, "port": 9443}, {"server": "fs2", "transport": "rdma", "port": 5446}]
    )
    assert result["after"]["entries"] == ["fs1.contoso.com:tcp:4445", "edge1.contoso.com:quic:9443", "fs2:rdma:5446"]
    assert model_host.changing_commands() == ["New-ItemProperty"]  # the key exists now


def test_same_entries_again_are_a_no_op(model_host, target):
    run(model_host, target, entries=[FS1, EDGE])
    model_host.reset_counts()
    assert run(model_host, target, entries=[EDGE])["changed"] is False
    assert model_host.changing_calls() == [] and model_host.commands == 1


def test_exclusive_keeps_only_the_listed_entries_in_order(model_host, target):
    run(model_host, target, entries=[FS1, EDGE])
    result = run(model_host, target, entries=[EDGE], exclusive=True)
    assert result["after"]["entries"] == ["edge1.contoso.com:quic:8443"]
    assert policy_value(model_host) == ("MultiString", ["edge1.contoso.com:quic:8443"])


def test_absent_removes_entries_and_the_value_when_empty(model_host, target):
    run(model_host, target, entries=[FS1])
    model_host.reset_counts()
    result = run(model_host, target, entries=[FS1], state="absent")
    assert model_host.changing_calls() == [
        ("Remove-ItemProperty", {"Path": POLICY_KEY, "Name": "AlternativePortMappings"})
    ]
    assert result["after"] == {"entries": []} and policy_value(model_host) is None


def test_quic_client_switch(model_host, target):
    result = run(model_host, target, quic="disabled")
    assert model_host.changing_calls() == [("Set-SmbClientConfiguration", {"EnableSMBQUIC": False, "Force": True})]
    assert result["before"]["quic"] == "enabled" and result["after"]["quic"] == "disabled"
    assert model_host.state.client_configuration["EnableSMBQUIC"] is False
    assert run(model_host, target, quic="disabled")["changed"] is False


def test_check_mode_reads_once(model_host, target):
    result = run(model_host, target, check_mode=True, entries=[FS1], quic="disabled")
    assert result["changed"] is True
    assert result["after"] == {"entries": ["fs1.contoso.com:tcp:4445"], "quic": "disabled"}
    assert model_host.changing_calls() == [] and model_host.commands == 1 and policy_value(model_host) is None


def test_two_hundred_entries_go_through_stdin(model_host, target):
    entries = [{"server": f"fs{i:03d}.contoso.com", "transport": "tcp", "port": 10000 + i} for i in range(200)]
    result = run(model_host, target, entries=entries, exclusive=True)
    expected = [f"fs{i:03d}.contoso.com:tcp:{10000 + i}" for i in range(200)]
    assert policy_value(model_host) == ("MultiString", expected)
    assert result["after"]["entries"] == expected and model_host.commands == 2
    assert run(model_host, target, entries=entries, exclusive=True)["changed"] is False


def test_unparsable_lines_are_kept_when_merging(model_host, target):
    key = model_host.state.ensure_key(KEY_PATH)
    key.values["alternativeportmappings"] = {
        "name": "AlternativePortMappings",
        "type": "MultiString",
        "data": ["garbage"],
    }
    result = run(model_host, target, entries=[FS1])
    assert result["after"]["entries"] == ["garbage", "fs1.contoso.com:tcp:4445"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"server": "a:b", "transport": "tcp", "port": 1}], r"entries\[0\].server"),
        ([{"server": "a", "transport": "udp", "port": 1}], r"entries\[0\].transport"),
        ([{"server": "a", "transport": "tcp", "port": 0}], r"entries\[0\].port"),
        ([FS1, {**FS1, "port": 9}], r"entries\[1\]: fs1.contoso.com over tcp is listed twice"),
    ],
)
def test_bad_entries_are_refused_before_any_connection(model_host, target, entries, message):
    with pytest.raises(WindowsTaskError, match=message):
        run(model_host, target, entries=entries)
    assert model_host.commands == 0
