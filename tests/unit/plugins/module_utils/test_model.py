"""The model rules, each with the exact message a user reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._model import (
    check_rules,
    fill_defaults,
    validate_model,
)

SCHEMA = json.loads((Path(__file__).resolve().parents[4] / "schemas" / "alternative_ports.schema.json").read_text())


def _errors(model, **kwargs) -> list[str]:
    return [str(e) for e in validate_model(model, SCHEMA, **kwargs).errors]


def _port_model(port) -> dict:
    return {"server": {"ports": [{"transport": "tcp", "port": port}]}}


@pytest.mark.parametrize(
    ("port", "message"),
    [
        (0, "server.ports[0].port: 0 is less than the minimum of 1 (use a port from 1 to 65535)"),
        (65536, "server.ports[0].port: 65536 is greater than the maximum of 65535 (use a port from 1 to 65535)"),
        (-1, "server.ports[0].port: -1 is less than the minimum of 1 (use a port from 1 to 65535)"),
        ("445", 'server.ports[0].port: "445" is a string, not an integer (write 445 without quotes)'),
        (None, "server.ports[0].port: is null, not an integer (write a port number from 1 to 65535)"),
        (4445.5, "server.ports[0].port: 4445.5 is a number, not an integer (write a port number from 1 to 65535)"),
        (True, "server.ports[0].port: true is a boolean, not an integer (write a port number from 1 to 65535)"),
    ],
)
def test_bad_port_values(port, message):
    assert _errors(_port_model(port)) == [message]


@pytest.mark.parametrize("port", [1, 1024, 4445, 65535])
def test_port_bounds_that_are_valid(port):
    assert _errors(_port_model(port)) == []


def test_missing_transport():
    assert _errors({"server": {"ports": [{"port": 4445}]}}) == [
        "server.ports[0].transport: is required but missing (add transport: tcp, quic or rdma)"
    ]


def test_unknown_transport():
    assert _errors({"server": {"ports": [{"transport": "udp", "port": 4445}]}}) == [
        'server.ports[0].transport: "udp" is not one of tcp, quic, rdma (use one of tcp, quic, rdma)'
    ]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"sever": {}}, "sever: unknown key (did you mean 'server'?)"),
        ({"server": {"exclsive": True}}, "server.exclsive: unknown key (did you mean 'exclusive'?)"),
        ({"verify": {"levle": "tcp"}}, "verify.levle: unknown key (did you mean 'level'?)"),
        ({"zzz": 1}, "zzz: unknown key (known keys: backend, client, server, verify)"),
    ],
)
def test_unknown_keys_do_not_pass_silently(model, message):
    assert _errors(model) == [message]


def test_all_errors_are_reported_at_once():
    model = {
        "backend": "windows",
        "server": {"ports": [{"transport": "tcp", "port": 0}, {"transport": "quic", "port": 8443, "instanses": 1}]},
        "verify": {"level": "deep"},
    }
    assert _errors(model) == [
        "server.ports[0].port: 0 is less than the minimum of 1 (use a port from 1 to 65535)",
        "server.ports[1].instanses: unknown key (did you mean 'instances'?)",
        'verify.level: "deep" is not one of tcp, negotiate, session (use one of tcp, negotiate, session)',
    ]


def test_duplicate_transport_and_port():
    model = {"server": {"ports": [{"transport": "quic", "port": 8443}, {"transport": "quic", "port": 8443}]}}
    assert _errors(model) == ["server.ports[1]: quic/8443 is listed twice (also at server.ports[0]) (remove one)"]


def test_tcp_and_rdma_share_the_tcp_port_space():
    model = {"server": {"ports": [{"transport": "rdma", "port": 5446}, {"transport": "tcp", "port": 5446}]}}
    assert _errors(model) == [
        "server.ports[0]: rdma/5446 clashes with tcp/5446 at server.ports[1]: "
        "TCP and RDMA share the TCP port space (give RDMA its own port)"
    ]


@pytest.mark.parametrize("transport", ["tcp", "rdma"])
def test_windows_refuses_tcp_and_rdma_server_ports(transport):
    model = {"backend": "windows", "server": {"ports": [{"transport": transport, "port": 4445}]}}
    message = (
        f"server.ports[0]: {transport}/4445 cannot be a server port on the windows backend: Windows can move only "
        "its SMB over QUIC listener; TCP and RDMA listening ports cannot be changed on Windows "
        "(use transport: quic for the server, and reach the TCP listener on 445 or map clients to it)"
    )
    assert _errors(model) == [message]


def test_auto_backend_on_a_windows_host_is_windows():
    model = {"server": {"ports": [{"transport": "tcp", "port": 4445}]}}
    assert _errors(model) == []
    assert len(_errors(model, host_is_windows=True)) == 1


def test_windows_accepts_quic_server_ports():
    assert _errors({"backend": "windows", "server": {"ports": [{"transport": "quic", "port": 8443}]}}) == []


def test_port_139_is_not_direct_tcp():
    assert _errors(_port_model(139)) == [
        "server.ports[0].port: 139 is the NetBIOS session service port, not a Direct TCP SMB port (choose another port)"
    ]


def test_quic_may_use_udp_139():
    assert _errors({"server": {"ports": [{"transport": "quic", "port": 139}]}}) == []


def test_port_policy_139_is_refused():
    model = {"client": {"port_policy": [{"server": "FS01", "transport": "tcp", "port": 139}]}}
    assert _errors(model) == [
        "client.port_policy[0].port: 139 is the NetBIOS session service port, not a Direct TCP SMB port "
        "(choose the server's alternative port)"
    ]


def test_two_policy_entries_for_one_server_and_transport_are_refused_naming_both_paths():
    model = {
        "client": {
            "port_policy": [
                {"server": "fs01", "transport": "tcp", "port": 4445},
                {"server": "edge1", "transport": "quic", "port": 8443},
                {"server": "FS01", "transport": "tcp", "port": 5445},
            ]
        }
    }
    assert _errors(model) == [
        "client.port_policy[2]: FS01 over tcp is already mapped at client.port_policy[0]; Windows uses the first "
        "entry that matches, so client.port_policy[2] never applies (and client.port_policy[0] wins even if it is "
        "the stale one) (keep one entry for FS01 over tcp: remove client.port_policy[2] or client.port_policy[0])"
    ]


def test_one_server_on_two_transports_is_fine():
    model = {
        "client": {
            "port_policy": [
                {"server": "fs01", "transport": "tcp", "port": 4445},
                {"server": "fs01", "transport": "quic", "port": 8443},
            ]
        }
    }
    result = validate_model(model, SCHEMA)
    assert result.errors == [] and result.warnings == []


def test_a_short_name_and_an_fqdn_of_one_server_warn():
    model = {
        "client": {
            "port_policy": [
                {"server": "fs01.contoso.com", "transport": "quic", "port": 8443},
                {"server": "FS01", "transport": "quic", "port": 9443},
            ]
        }
    }
    result = validate_model(model, SCHEMA)
    assert result.errors == []
    assert [str(w) for w in result.warnings] == [
        "client.port_policy[1]: FS01 and fs01.contoso.com (client.port_policy[0]) look like the short name and the "
        "FQDN of one server; clients match the name they were given, so each spelling needs its own entry, kept at "
        "the same port (list every name clients use for the server, with the same port)"
    ]


def test_a_name_and_an_address_with_the_same_port_warn():
    model = {
        "client": {
            "port_policy": [
                {"server": "fs01.contoso.com", "transport": "tcp", "port": 4445},
                {"server": "192.0.2.10", "transport": "tcp", "port": 4445},
            ]
        }
    }
    warnings = [str(w) for w in validate_model(model, SCHEMA).warnings]
    assert len(warnings) == 1 and "as if one were the address of the other" in warnings[0]


def test_rdma_in_the_policy_is_accepted_with_a_warning():
    model = {"client": {"port_policy": [{"server": "fs01", "transport": "rdma", "port": 5446}]}}
    result = validate_model(model, SCHEMA)
    assert result.errors == []
    assert [str(w) for w in result.warnings] == [
        "client.port_policy[0].transport: no Microsoft source documents rdma in the Alternative Port Mappings "
        "policy; Windows may ignore this entry (map SMB Direct clients with client_mapping rdma_port, and verify "
        "the entry on a client)"
    ]


def test_same_number_on_two_transports_is_a_warning():
    model = {"server": {"ports": [{"transport": "quic", "port": 4445}, {"transport": "tcp", "port": 4445}]}}
    result = validate_model(model, SCHEMA)
    assert result.errors == []
    assert [str(w) for w in result.warnings] == [
        "server.ports[0]: port 4445 is used by quic and tcp (best practice is one distinct port per transport)"
    ]


def test_mapping_with_two_ports():
    model = {"client": {"mappings": [{"remote_path": "\\\\fs\\d", "rdma_port": 5446, "quic_port": 8443}]}}
    assert _errors(model) == [
        "client.mappings[0]: names 2 ports (quic_port, rdma_port) (a mapping uses exactly one port)"
    ]


def test_mapping_transport_must_match_its_port():
    model = {"client": {"mappings": [{"remote_path": "\\\\fs\\d", "tcp_port": 4445, "transport": "quic"}]}}
    assert _errors(model) == [
        "client.mappings[0].transport: transport quic does not match tcp_port (use quic_port, or transport: tcp)"
    ]


@pytest.mark.parametrize(
    ("server", "locked_out"),
    [
        ({"ports": [], "exclusive": True, "standard_ports": "close"}, True),
        ({"ports": [], "exclusive": True, "standard_ports": "close", "allow_no_listeners": True}, False),
        ({"ports": [], "exclusive": True, "standard_ports": "keep"}, False),
        ({"ports": [], "exclusive": False, "standard_ports": "close"}, False),
        ({"ports": [{"transport": "tcp", "port": 4445}], "exclusive": True, "standard_ports": "close"}, False),
    ],
)
def test_lockout_rule(server, locked_out):
    errors, _warnings = check_rules({"server": server})
    assert bool(errors) is locked_out
    if locked_out:
        assert str(errors[0]).startswith("server: exclusive: true with no ports and standard_ports: close")


def test_defaults_are_filled():
    normalized = validate_model({"server": {"ports": [{"transport": "tcp", "port": 4445}]}}, SCHEMA).normalized
    assert normalized == fill_defaults({"server": {"ports": [{"transport": "tcp", "port": 4445}]}})
    assert normalized["backend"] == "auto"
    assert normalized["server"] == {
        "ports": [{"transport": "tcp", "port": 4445, "instances": "default"}],
        "exclusive": False,
        "standard_ports": "keep",
        "firewall": True,
        "allow_no_listeners": False,
    }
    assert normalized["verify"]["level"] == "negotiate"
    assert normalized["client"]["quic"] is None


def test_mapping_transport_is_derived_from_its_port():
    model = {"client": {"mappings": [{"remote_path": "\\\\fs\\d", "quic_port": 8443}]}}
    mapping = validate_model(model, SCHEMA).normalized["client"]["mappings"][0]
    assert mapping["transport"] == "quic"
    assert mapping["persistent"] is False
    assert mapping["state"] == "present"


def test_rules_survive_garbage_without_a_schema():
    for garbage in (None, [], "x", {"server": []}, {"server": {"ports": "x"}}, {"client": {"mappings": [1]}}):
        check_rules(garbage)
    assert str(validate_model([1]).errors[0]) == "(model): [1] is a list, not a mapping"
