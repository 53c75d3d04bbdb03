"""Which ufw rules are ours and which ports the administrator's rules already open, read from ``ufw show added``.

The real ufw runs in tests/integration/linux/test_host_firewall_ufw.py; this covers the rule shapes ufw prints that
those tests do not make (lists, ranges, both protocols, restricted sources, application profiles).
"""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._host_firewall import Ufw, ufw_enabled


def listing(*rules: str):
    text = "Added user rules (see 'ufw status' for running firewall):\n" + "\n".join(rules) + "\n"
    return lambda args, data=None: (0, text, "")


@pytest.mark.parametrize(
    ("rule", "ours", "theirs"),
    [
        ("ufw allow 4445/tcp comment 'smb.alternative_ports'", {"4445/tcp"}, set()),
        ("ufw allow 4445/tcp comment 'smb.alternative_ports pysmbd'", set(), {"4445/tcp"}),
        ("ufw allow 4445/tcp", set(), {"4445/tcp"}),
        ("ufw allow in 4445/tcp", set(), {"4445/tcp"}),
        ("ufw allow 4445", set(), {"4445/tcp", "4445/udp"}),
        ("ufw allow 445,4445/tcp comment 'smb.alternative_ports'", set(), {"445/tcp", "4445/tcp"}),
        ("ufw allow 137:139/udp", set(), {"137/udp", "138/udp", "139/udp"}),
        ("ufw allow from 10.0.0.0/8 to any port 4445 proto tcp", set(), set()),
        ("ufw allow in on eth0 to any port 4445", set(), set()),
        ("ufw allow Samba", set(), set()),
        ("ufw deny 4445/tcp", set(), set()),
    ],
)
def test_rules_tell_ours_from_the_administrators_open_ports(rule, ours, theirs):
    assert Ufw(listing(rule), "ufw").rules() == (ours, theirs)


def test_plan_opens_only_what_no_rule_opens_and_closes_only_ours():
    firewall = Ufw(
        listing("ufw allow 445/tcp", "ufw allow 4445/tcp comment 'smb.alternative_ports'", "ufw allow 9999/tcp"), "ufw"
    )
    change = firewall.plan({"445/tcp", "8443/udp", "9999/tcp"}, removed={"4445/tcp"})
    assert (change.opened, change.closed) == (["8443/udp"], ["4445/tcp"])
    assert change.diff_lines("before") == "firewall ufw 4445/tcp open\nfirewall ufw 8443/udp closed\n"


@pytest.mark.parametrize(
    ("text", "enabled"),
    [("ENABLED=yes\n", True), ('ENABLED="yes"\n', True), ("ENABLED=no\n", False), ("# ENABLED=yes\n", False)],
)
def test_ufw_enabled_reads_ufw_conf(tmp_path, text, enabled):
    conf = tmp_path / "ufw.conf"
    conf.write_text(text)
    assert ufw_enabled(str(conf)) is enabled
    assert ufw_enabled(str(tmp_path / "missing")) is False
