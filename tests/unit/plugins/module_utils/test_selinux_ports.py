"""Reading semanage's port listing: records, ranges, and which record gives a port its type."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._selinux_ports import (
    PortRecord,
    effective_type,
    parse_port_listing,
)

# The shape of `semanage port -l -n` (policycoreutils 3.4): type, protocol, then ports and ranges.
LISTING = """\
http_port_t                    tcp      80, 443, 488, 8008, 8009, 8443, 8448
smbd_port_t                    tcp      8443, 4445, 445, 137-139
smbd_port_t                    udp      8443
unreserved_port_t              tcp      1024-65535
unreserved_port_t              sctp     1024-65535
"""


def test_every_port_and_range_of_the_listing_becomes_a_record():
    records = parse_port_listing(LISTING)
    assert PortRecord("smbd_port_t", "tcp", 137, 139) in records
    assert PortRecord("smbd_port_t", "udp", 8443, 8443) in records
    assert PortRecord("unreserved_port_t", "sctp", 1024, 65535) in records
    assert len(records) == 7 + 4 + 1 + 1 + 1


def test_a_heading_or_blank_line_is_no_record():
    assert parse_port_listing("SELinux Port Type              Proto    Port Number\n\n") == []


@pytest.mark.parametrize(
    ("protocol", "port", "expected"),
    [
        ("tcp", 138, "smbd_port_t"),  # inside a range
        ("tcp", 4445, "smbd_port_t"),  # the exact record beats the 1024-65535 range
        ("tcp", 14445, "unreserved_port_t"),
        ("udp", 8443, "smbd_port_t"),
        ("udp", 4445, None),  # no udp range in this listing
        ("tcp", 22, None),
    ],
)
def test_the_narrowest_record_covering_a_port_gives_its_type(protocol, port, expected):
    records = [r for r in parse_port_listing(LISTING) if r.port_type != "http_port_t"]
    assert effective_type(records, protocol, port) == expected
