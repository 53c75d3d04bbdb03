"""The Linux backends' host firewall against real nftables, in a network namespace the test creates."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.plays import localhost_play, pysmbd_ports_task, result_of
from tests.support.pysmbd_server import pysmbd_users_line

pytestmark = pytest.mark.netns

CONNECT = (
    "import socket, sys\n"
    "try:\n    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1).close(); print('open')\n"
    "except OSError as exc:\n    print(type(exc).__name__)\n"
)
UDP_ECHO = (
    "import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 8443)); "
    "print(1, flush=True)\nwhile True:\n    data, peer = s.recvfrom(64); s.sendto(data, peer)"
)
UDP_ASK = (
    "import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)\n"
    "s.sendto(b'ping', ('127.0.0.1', int(sys.argv[1])))\n"
    "try:\n    print(s.recv(64).decode())\nexcept OSError as exc:\n    print(type(exc).__name__)\n"
)
LISTEN = "import socket, sys; s = socket.socket(); s.bind(('127.0.0.1', 4445)); s.listen(); print(1, flush=True); sys.stdin.read()"


@pytest.fixture
def namespace():
    assert shutil.which("nft"), "nft is missing: apt-get install nftables"
    name = f"smbfw-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)

    def run(*args):
        return subprocess.run(
            ["ip", "netns", "exec", name, *args], capture_output=True, text=True, timeout=30, check=False
        )

    run.netns = name
    run("ip", "link", "set", "lo", "up")
    run("nft", "add table inet filter")
    run("nft", "add chain inet filter input { type filter hook input priority 0; policy drop; }")
    run("nft", "add rule inet filter input ct state established,related accept")  # as any stateful host firewall
    listener = subprocess.Popen(
        ["ip", "netns", "exec", name, sys.executable, "-c", LISTEN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    listener.stdout.readline()
    udp_echo = subprocess.Popen(
        ["ip", "netns", "exec", name, sys.executable, "-c", UDP_ECHO],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    udp_echo.stdout.readline()
    yield run
    for proc in (listener, udp_echo):
        proc.kill()
        proc.wait(timeout=10)
    subprocess.run(["ip", "netns", "del", name], check=True, timeout=30)


def netns_runner(namespace):
    """A run_command for _host_firewall that runs each command inside the test's namespace."""

    def run(args, data=None):
        if data is None:
            done = namespace(*args)
        else:  # nft -f - reads its transaction on stdin
            done = namespace("sh", "-c", 'printf "%s" "$0" | "$@"', data, *args)
        return done.returncode, done.stdout, done.stderr

    return run


def test_the_backends_firewall_opens_moves_and_closes_ports_in_nftables(namespace):
    from ansible_collections.smb.alternative_ports.plugins.module_utils._host_firewall import Nftables, port_specs

    firewall = Nftables(netns_runner(namespace), shutil.which("nft"))
    wanted = port_specs([{"transport": "tcp", "port": 4445}, {"transport": "quic", "port": 8443}])
    change = firewall.plan(wanted, removed=set())
    assert (change.opened, change.closed) == (["4445/tcp", "8443/udp"], [])
    firewall.apply(change, wanted)
    assert namespace(sys.executable, "-c", CONNECT, "4445").stdout.strip() == "open"
    assert namespace(sys.executable, "-c", UDP_ASK, "8443").stdout.strip() == "ping"
    assert namespace(sys.executable, "-c", CONNECT, "8443").stdout.strip() != "open"  # UDP only, not TCP
    assert not firewall.plan(wanted, removed=set()).changed, "a second run must change nothing"

    moved = port_specs([{"transport": "tcp", "port": 14445}])
    change = firewall.plan(moved, removed=wanted)
    assert (change.opened, change.closed) == (["14445/tcp"], ["4445/tcp", "8443/udp"])
    firewall.apply(change, moved)
    assert namespace(sys.executable, "-c", CONNECT, "4445").stdout.strip() == "TimeoutError"
    rules = namespace("nft", "list chain inet filter input").stdout
    assert "ct state established,related accept" in rules, "the administrator's own rules stay"
    assert firewall.our_rules()[0] == {"14445/tcp"}


def test_the_pysmbd_role_opens_its_listeners_and_a_port_change_moves_the_rule(namespace, tmp_path):
    """The role's firewall entry point and a later port change, run by Ansible with the module inside the namespace."""
    python = tmp_path / "python-in-netns"
    python.write_text(f'#!/bin/sh\nexec ip netns exec {namespace.netns} {sys.executable} "$@"\n')
    python.chmod(0o755)
    users = tmp_path / "users"
    users.write_text(pysmbd_users_line("fw", "fw-password") + "\n")
    config = tmp_path / "pysmbd.toml"
    config.write_text(
        f'[server]\nname = "FW"\nstate_dir = "{tmp_path}"\nusers_file = "{users}"\n\n'
        '[[listeners]]\ntransport = "tcp"\naddress = "127.0.0.1"\nport = 4445\n'
    )
    role = f"""
    - name: open
      ansible.builtin.include_role:
        name: smb.alternative_ports.pysmbd
        tasks_from: firewall
      vars:
        pysmbd_config_path: {config}
        pysmbd_venv: {Path(sys.executable).parent.parent}
        pysmbd_firewall_ports: [{{transport: tcp, address: 127.0.0.1, port: 4445}}]
    """
    first = localhost_play(tmp_path, role, "-e", f"ansible_python_interpreter={python}")
    assert first.returncode == 0, first.stdout[-3000:]
    opened = result_of(first, "Open the listeners' ports in the host firewall")
    assert opened["changed"] is True and opened["firewall"] == {
        "kind": "nftables",
        "opened": ["4445/tcp"],
        "closed": [],
    }
    assert namespace(sys.executable, "-c", CONNECT, "4445").stdout.strip() == "open"
    again = localhost_play(tmp_path, role, "-e", f"ansible_python_interpreter={python}", name="again.yml")
    assert result_of(again, "Open the listeners' ports in the host firewall")["changed"] is False

    move = pysmbd_ports_task(config, [14445])
    moved = localhost_play(tmp_path, move, "-e", f"ansible_python_interpreter={python}", name="move.yml")
    assert moved.returncode == 0, moved.stdout[-3000:]
    assert result_of(moved, "change ports")["firewall"]["closed"] == ["4445/tcp"]
    assert namespace(sys.executable, "-c", CONNECT, "4445").stdout.strip() == "TimeoutError"
