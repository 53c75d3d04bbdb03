"""The Linux backends' host firewall against Debian's ufw, active and enabled-but-inactive.

Each test gets a private host (tests/support/private_host.py) with a copy of /etc/ufw: ufw's iptables(-nft) chains
go into the namespace's own netfilter tables. A peer namespace joined by a veth pair connects to the private host
from outside its loopback (ufw accepts everything on ``lo``), so the tests see what a client sees: a dropped
connection, or an open one, besides what ``ufw`` itself lists.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager

import pytest

from tests.support.peers import require_tool
from tests.support.plays import localhost_play, pysmbd_ports_task, result_of
from tests.support.private_host import PrivateHost, private_host

pytestmark = [pytest.mark.netns, pytest.mark.slow]

HOST_ADDRESS = "10.77.0.1"
LISTEN = (
    "import socket, sys, time\n"
    "for port in sys.argv[1:]:\n"
    "    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "    s.bind(('0.0.0.0', int(port))); s.listen(); globals()['s' + port] = s\n"
    "print('listening', flush=True); time.sleep(600)\n"
)
CONNECT = (
    "import socket, sys\n"
    "try:\n    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close(); print('open')\n"
    "except OSError as exc:\n    print(type(exc).__name__)\n"
)


def add_peer(host: PrivateHost) -> None:
    """A namespace ``peer`` (inside the private host's mount namespace) at 10.77.0.2, wired to the host's 10.77.0.1."""
    for command in (
        "ip netns add peer",
        "ip link add fw0 type veth peer name fw1",
        "ip link set fw1 netns peer",
        f"ip addr add {HOST_ADDRESS}/24 dev fw0",
        "ip link set fw0 up",
        "ip netns exec peer ip addr add 10.77.0.2/24 dev fw1",
        "ip netns exec peer ip link set fw1 up",
    ):
        host.run(*command.split(), check=True)


@contextmanager
def listening(host: PrivateHost, *ports: int):
    """TCP listeners on all of the private host's addresses (nsenter runs them outside its pid namespace: killed here)."""
    listener = subprocess.Popen(
        ["nsenter", "--target", str(host.pid), "--mount", "--net", "--", sys.executable, "-c", LISTEN]
        + [str(port) for port in ports],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout.readline().strip() == "listening"
        yield
    finally:
        listener.kill()
        listener.wait(timeout=30)


def from_peer(host: PrivateHost, port: int) -> str:
    """``open``, or the error a client in the peer namespace gets (``TimeoutError`` when ufw drops it)."""
    return host.run(
        "ip", "netns", "exec", "peer", sys.executable, "-c", CONNECT, HOST_ADDRESS, str(port)
    ).stdout.strip()


def added(host: PrivateHost) -> list:
    """``ufw show added``: the rules as their commands, in ufw's order."""
    lines = host.run("ufw", "show", "added", check=True).stdout.splitlines()
    return [line for line in lines if line.startswith("ufw ")]


def in_kernel(host: PrivateHost, port: int, protocol: str) -> bool:
    """Whether ufw's user chain, as loaded into the namespace's netfilter, accepts the port."""
    rules = host.run("iptables", "-S", "ufw-user-input").stdout
    return f"-p {protocol} -m {protocol} --dport {port} -j ACCEPT" in rules


@pytest.fixture
def ufw_tools():
    require_tool("ufw", "ufw")
    require_tool("iptables", "iptables")


def test_an_active_ufw_gets_one_commented_rule_per_port_and_keeps_the_administrators(tmp_path, ufw_tools):
    with private_host(tmp_path, firewalld="none") as host:
        add_peer(host)
        # Debian's stock nftables.conf chain (policy accept) beside ufw: a rule there would open nothing.
        host.run("nft", "add table inet filter", check=True)
        host.run("nft", "add chain inet filter input { type filter hook input priority 0; policy accept; }", check=True)
        host.run("ufw", "--force", "enable", check=True)
        host.run("ufw", "allow", "445/tcp", check=True)  # the administrator's own rules
        host.run("ufw", "allow", "9999", check=True)
        with listening(host, 4445, 14445, 9999):
            exercise_active_ufw(host)


def exercise_active_ufw(host: PrivateHost) -> None:
    """Clients in the peer namespace reach 9999 (the administrator's rule) and nothing else until rules open ports."""
    from ansible_collections.smb.alternative_ports.plugins.module_utils._host_firewall import detect, port_specs

    assert from_peer(host, 4445) == "TimeoutError", "ufw drops what it does not allow"
    assert from_peer(host, 9999) == "open"

    firewall = detect(host.runner(), ufw_conf=host.ufw_conf())
    assert firewall.kind == "ufw", "an active ufw comes before the inet filter input chain"
    wanted = port_specs(
        [{"transport": "tcp", "port": 445}, {"transport": "tcp", "port": 4445}, {"transport": "quic", "port": 8443}]
    )
    change = firewall.plan(wanted, removed=set())
    assert (change.opened, change.closed) == (["4445/tcp", "8443/udp"], []), "445/tcp is open by their rule"
    assert change.diff_lines("after") == "firewall ufw 4445/tcp open\nfirewall ufw 8443/udp open\n"
    firewall.apply(change, wanted)
    assert from_peer(host, 4445) == "open"
    assert in_kernel(host, 4445, "tcp") and in_kernel(host, 8443, "udp")
    assert "ufw allow 4445/tcp comment 'smb.alternative_ports'" in added(host)
    assert "ufw allow 445/tcp" in added(host), "their rule is not taken over"
    assert not firewall.plan(wanted, removed=set()).changed, "a second run must change nothing"

    moved = port_specs([{"transport": "tcp", "port": 14445}, {"transport": "tcp", "port": 9999}])
    change = firewall.plan(moved, removed=wanted)
    assert (change.opened, change.closed) == (["14445/tcp"], ["4445/tcp", "8443/udp"]), "9999 is theirs"
    firewall.apply(change, moved)
    assert from_peer(host, 14445) == "open"
    assert from_peer(host, 4445) == "TimeoutError"
    assert added(host) == [
        "ufw allow 445/tcp",
        "ufw allow 9999",
        "ufw allow 14445/tcp comment 'smb.alternative_ports'",
    ]

    change = firewall.plan(set(), removed=moved)
    assert change.closed == ["14445/tcp"]
    firewall.apply(change, set())
    assert added(host) == ["ufw allow 445/tcp", "ufw allow 9999"], "the administrator's rules stay"
    assert from_peer(host, 9999) == "open" and from_peer(host, 14445) == "TimeoutError"


def test_a_ufw_enabled_but_not_active_is_refused_with_the_fix_and_used_once_started(tmp_path, ufw_tools):
    from ansible_collections.smb.alternative_ports.plugins.module_utils._host_firewall import (
        HostFirewallError,
        detect,
        port_specs,
    )

    with private_host(tmp_path, firewalld="none") as host:
        assert detect(host.runner(), ufw_conf=host.ufw_conf()).kind == "none", "a disabled ufw is no firewall here"
        conf = host.copy_of("/etc/ufw/ufw.conf")
        conf.write_text(conf.read_text().replace("ENABLED=no", "ENABLED=yes"))  # enabled at boot, not started
        assert host.run("ufw", "allow", "4445/tcp").returncode != 0, "ufw itself refuses changes in this state"
        with pytest.raises(
            HostFirewallError, match=r"enabled at boot .* not active .* ufw enable, or set firewall: false"
        ):
            detect(host.runner(), ufw_conf=host.ufw_conf())

        host.run("ufw", "--force", "enable", check=True)
        add_peer(host)
        firewall = detect(host.runner(), ufw_conf=host.ufw_conf())
        wanted = port_specs([{"transport": "tcp", "port": 4445}])
        firewall.apply(firewall.plan(wanted, removed=set()), wanted)
        assert "--dport 4445" in host.copy_of("/etc/ufw/user.rules").read_text(), "saved for the next start"
        with listening(host, 4445):
            assert from_peer(host, 4445) == "open"


def test_pysmbd_port_changes_follow_in_an_active_ufw_through_ansible(tmp_path, ufw_tools):
    """server_ports (pysmbd backend, its server not running) run by Ansible inside the private host: check mode and
    diff show the rule, the change adds it, a second run changes nothing, a move swaps it."""
    with private_host(tmp_path, firewalld="none") as host:
        host.run("ufw", "--force", "enable", check=True)
        config = tmp_path / "pysmbd.toml"
        config.write_text(
            f'[server]\nname = "FW"\nstate_dir = "{tmp_path}"\n\n'
            '[[listeners]]\ntransport = "tcp"\naddress = "127.0.0.1"\nport = 4445\n'
        )
        interpreter = ("-e", f"ansible_python_interpreter={host.python(tmp_path)}")
        task = pysmbd_ports_task(config, [4445])
        checked = localhost_play(tmp_path, task, "--check", "--diff", *interpreter, name="check.yml")
        assert checked.returncode == 0, checked.stdout[-3000:]
        predicted = result_of(checked, "change ports")
        assert predicted["changed"] is True
        assert predicted["firewall"] == {"kind": "ufw", "opened": ["4445/tcp"], "closed": []}
        assert "firewall ufw 4445/tcp closed" in predicted["diff"]["before"]
        assert "firewall ufw 4445/tcp open" in predicted["diff"]["after"]
        assert added(host) == [], "check mode changes nothing"

        first = localhost_play(tmp_path, task, *interpreter, name="open.yml")
        assert first.returncode == 0, first.stdout[-3000:]
        assert added(host) == ["ufw allow 4445/tcp comment 'smb.alternative_ports'"]
        again = localhost_play(tmp_path, task, *interpreter, name="again.yml")
        assert result_of(again, "change ports")["changed"] is False

        moved = localhost_play(tmp_path, pysmbd_ports_task(config, [14445]), *interpreter, name="move.yml")
        assert moved.returncode == 0, moved.stdout[-3000:]
        assert result_of(moved, "change ports")["firewall"] == {
            "kind": "ufw",
            "opened": ["14445/tcp"],
            "closed": ["4445/tcp"],
        }
        assert added(host) == ["ufw allow 14445/tcp comment 'smb.alternative_ports'"]
