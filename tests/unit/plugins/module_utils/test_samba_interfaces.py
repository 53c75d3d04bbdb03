"""The addresses smbd binds, from ``interfaces`` and ``bind interfaces only`` as testparm prints them.

The real smbd binding beside another service is in tests/integration/linux/test_server_ports_samba.py; this covers
the entry forms of smb.conf(5) that test does not make (wildcards, masks, suffixes, names we cannot resolve).
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._samba_interfaces import (
    read_interfaces,
    smbd_bind_addresses,
)

HOST = {
    "lo": [("127.0.0.1", 8), ("::1", 128)],
    "eth0": [("192.0.2.10", 24), ("2001:db8::10", 64)],
    "eth1": [("198.51.100.7", 24)],
    "wg0": [("10.8.0.1", 24)],
}


@pytest.mark.parametrize(
    ("interfaces", "bind_only", "expected"),
    [
        ("lo", False, ["0.0.0.0", "::"]),
        ("", True, ["0.0.0.0", "::"]),
        ("lo", True, ["127.0.0.1", "::1"]),
        ("eth*", True, ["192.0.2.10", "2001:db8::10", "198.51.100.7"]),
        ("192.0.2.10, lo", True, ["192.0.2.10", "127.0.0.1", "::1"]),
        ("198.51.100.0/24", True, ["198.51.100.7"]),
        ("198.51.100.0/255.255.255.0", True, ["198.51.100.7"]),
        ("192.0.2.10/24", True, ["192.0.2.10"]),
        ('"eth1;speed=1000000000,capability=RSS" lo', True, ["198.51.100.7", "127.0.0.1", "::1"]),
        ("203.0.113.5 lo", True, ["127.0.0.1", "::1"]),
        ("203.0.113.5", True, None),
        ("fileserver.example.com lo", True, None),
    ],
)
def test_smbd_bind_addresses(interfaces, bind_only, expected):
    assert smbd_bind_addresses(interfaces, bind_only, HOST) == expected


def test_without_the_hosts_interfaces_the_addresses_are_unknown():
    assert smbd_bind_addresses("lo", True, None) is None


def test_read_interfaces_reads_ip_json(tmp_path):
    report = [
        {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
        {"ifname": "eth0", "addr_info": []},
    ]
    assert read_interfaces(lambda args: (0, json.dumps(report), "")) == {"lo": [("127.0.0.1", 8)], "eth0": []}
    assert read_interfaces(lambda args: (1, "", "ip: not found")) is None
