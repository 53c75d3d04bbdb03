"""The pysmbd role's firewall script against real nftables, in a network namespace the test creates."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.netns

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "pysmbd" / "files" / "pysmbd-firewall.sh"
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


def test_the_script_opens_the_ports_in_a_dropping_nftables_chain_once(namespace):
    assert namespace(sys.executable, "-c", CONNECT, "4445").stdout.strip() == "TimeoutError"
    first = namespace("sh", str(SCRIPT), "tcp/4445 udp/8443")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("changed:")
    assert namespace(sys.executable, "-c", CONNECT, "4445").stdout.strip() == "open"
    assert namespace("sh", str(SCRIPT), "tcp/4445 udp/8443").stdout.strip() == "unchanged"
    rules = namespace("nft", "list chain inet filter input").stdout
    assert 'tcp dport 4445 accept comment "smb.alternative_ports pysmbd"' in rules
    assert 'udp dport 8443 accept comment "smb.alternative_ports pysmbd"' in rules
    # A new port set replaces the old rules in one transaction.
    assert namespace("sh", str(SCRIPT), "tcp/14445").stdout.startswith("changed:")
    rules = namespace("nft", "list chain inet filter input").stdout
    assert "4445 accept" not in rules.replace("14445", "") and "tcp dport 14445 accept" in rules
    assert namespace(sys.executable, "-c", CONNECT, "4445").stdout.strip() == "TimeoutError"


def test_a_quic_port_is_opened_for_udp_datagrams(namespace):
    assert namespace(sys.executable, "-c", UDP_ASK, "8443").stdout.strip() == "TimeoutError"
    assert namespace("sh", str(SCRIPT), "tcp/4445 udp/8443").stdout.startswith("changed:")
    assert namespace(sys.executable, "-c", UDP_ASK, "8443").stdout.strip() == "ping"
    assert namespace(sys.executable, "-c", CONNECT, "8443").stdout.strip() != "open"  # UDP only, not TCP
