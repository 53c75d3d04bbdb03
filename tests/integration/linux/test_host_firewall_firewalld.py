"""The Linux backends' host firewall against Debian's firewalld: a running one and its offline tool.

Each test gets a private host (tests/support/private_host.py): new mount, network and pid namespaces with a copy of
/etc/firewalld, so firewalld (with its own D-Bus system bus) and firewall-offline-cmd change only that copy and the
namespace's nftables. The tests read back what firewalld itself reports (``--list-ports``), the zone file it writes
and, for a running firewalld, the nftables ruleset it loads into the kernel.
"""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from tests.support.plays import localhost_play, pysmbd_ports_task, result_of
from tests.support.private_host import PrivateHost, private_host

pytestmark = [pytest.mark.netns, pytest.mark.slow]


def zone_ports(host: PrivateHost) -> set:
    """The ports of the default zone's file in the private /etc/firewalld (what survives a reboot)."""
    zone = host.copy_of("/etc/firewalld/zones/public.xml")
    if not zone.exists():
        return set()
    return {f"{p.get('port')}/{p.get('protocol')}" for p in ElementTree.parse(zone).getroot().iter("port")}


def listed(host: PrivateHost, *args: str) -> set:
    return set(host.run(*args, "--list-ports", check=True).stdout.split())


def accepted_in_kernel(host: PrivateHost, spec: str) -> bool:
    """Whether firewalld's nftables ruleset in the namespace accepts ``port/protocol``."""
    port, protocol = spec.split("/")
    return f"{protocol} dport {port} accept" in host.run("nft", "list", "ruleset", check=True).stdout


def test_a_running_firewalld_gets_a_permanent_and_a_runtime_rule_per_port(tmp_path):
    from ansible_collections.smb.alternative_ports.plugins.module_utils._host_firewall import detect, port_specs

    with private_host(tmp_path, firewalld="running") as host:
        host.run("firewall-cmd", "--permanent", "--add-port=9999/tcp", check=True)  # the administrator's own port
        for permanent in (["--permanent"], []):  # and the samba service, as Red Hat's guide for Samba has it
            host.run("firewall-cmd", *permanent, "--add-service=samba", check=True)
        firewall = detect(host.runner())
        assert firewall.kind == "firewalld"
        wanted = port_specs(
            [{"transport": "tcp", "port": 445}, {"transport": "tcp", "port": 4445}, {"transport": "quic", "port": 8443}]
        )
        change = firewall.plan(wanted, removed=set())
        assert (change.opened, change.closed) == (["4445/tcp", "8443/udp"], []), "the samba service opens 445"
        firewall.apply(change, wanted)
        assert {"4445/tcp", "8443/udp"} <= listed(host, "firewall-cmd")
        assert {"4445/tcp", "8443/udp"} <= listed(host, "firewall-cmd", "--permanent")
        assert {"4445/tcp", "8443/udp"} <= zone_ports(host)
        assert accepted_in_kernel(host, "4445/tcp") and accepted_in_kernel(host, "8443/udp")
        assert not firewall.plan(wanted, removed=set()).changed, "a second run must change nothing"

        host.run("firewall-cmd", "--remove-port=4445/tcp", check=True)  # runtime lost it (a --reload, by hand)
        assert firewall.plan(wanted, removed=set()).opened == ["4445/tcp"], "a runtime without the port is a change"
        firewall.apply(firewall.plan(wanted, removed=set()), wanted)

        moved = port_specs([{"transport": "tcp", "port": 14445}])
        change = firewall.plan(moved, removed=wanted)
        assert (change.opened, change.closed) == (["14445/tcp"], ["4445/tcp", "8443/udp"])
        firewall.apply(change, moved)
        assert listed(host, "firewall-cmd") & {"4445/tcp", "8443/udp", "14445/tcp"} == {"14445/tcp"}
        assert zone_ports(host) == {"14445/tcp", "9999/tcp"}, "the administrator's port stays"
        assert "samba" in host.run("firewall-cmd", "--permanent", "--list-services", check=True).stdout.split()
        assert not accepted_in_kernel(host, "4445/tcp")


def test_a_firewalld_enabled_but_stopped_gets_the_ports_in_its_permanent_zone(tmp_path):
    from ansible_collections.smb.alternative_ports.plugins.module_utils._host_firewall import detect, port_specs

    with private_host(tmp_path, firewalld="stopped") as host:
        assert detect(host.runner()).kind == "none", "a disabled firewalld is no firewall of this host"
        host.enable_firewalld_at_boot()
        host.run("firewall-offline-cmd", "--add-service=samba", check=True)
        firewall = detect(host.runner())
        assert firewall.kind == "firewalld-offline"
        wanted = port_specs([{"transport": "tcp", "port": 4445}, {"transport": "tcp", "port": 139}])
        change = firewall.plan(wanted, removed=set())
        assert change.opened == ["4445/tcp"], "the samba service opens 139"
        firewall.apply(change, wanted)
        assert zone_ports(host) == {"4445/tcp"}
        assert listed(host, "firewall-offline-cmd") == {"4445/tcp"}
        assert not firewall.plan(wanted, removed=set()).changed

        change = firewall.plan(set(), removed=wanted)
        assert change.closed == ["4445/tcp"], "a service is the administrator's: never closed"
        firewall.apply(change, set())
        assert zone_ports(host) == set()


def test_pysmbd_port_changes_follow_in_a_running_firewalld_through_ansible(tmp_path):
    """server_ports (pysmbd backend, its server not running) run by Ansible inside the private host."""
    with private_host(tmp_path, firewalld="running") as host:
        config = tmp_path / "pysmbd.toml"
        config.write_text(
            f'[server]\nname = "FW"\nstate_dir = "{tmp_path}"\n\n'
            '[[listeners]]\ntransport = "tcp"\naddress = "127.0.0.1"\nport = 4445\n'
        )
        interpreter = ("-e", f"ansible_python_interpreter={host.python(tmp_path)}")
        first = localhost_play(tmp_path, pysmbd_ports_task(config, [4445]), *interpreter, name="open.yml")
        assert first.returncode == 0, first.stdout[-3000:]
        assert result_of(first, "change ports")["firewall"] == {
            "kind": "firewalld",
            "opened": ["4445/tcp"],
            "closed": [],
        }
        again = localhost_play(tmp_path, pysmbd_ports_task(config, [4445]), *interpreter, name="again.yml")
        assert result_of(again, "change ports")["changed"] is False

        moved = localhost_play(tmp_path, pysmbd_ports_task(config, [14445]), *interpreter, name="move.yml")
        assert moved.returncode == 0, moved.stdout[-3000:]
        assert result_of(moved, "change ports")["firewall"]["closed"] == ["4445/tcp"]
        assert "14445/tcp" in listed(host, "firewall-cmd") and "4445/tcp" not in listed(host, "firewall-cmd")
        assert "14445/tcp" in zone_ports(host) and "4445/tcp" not in zone_ports(host)
