"""Who holds a port: /proc/net parsing, and real sockets held by real processes started here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._ports_in_use import (
    can_bind,
    foreign_holders,
    parse_proc_net,
    port_holders,
)

HOLDER = """
import socket, sys
kind = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
sock = socket.socket(socket.AF_INET6 if sys.argv[2] == "6" else socket.AF_INET, kind)
sock.bind(("::1" if sys.argv[2] == "6" else "127.0.0.1", 0))
if kind == socket.SOCK_STREAM:
    sock.listen()
print(sock.getsockname()[1], flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder():
    started = []

    def start(kind: str, family: str = "4"):
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, kind, family], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        started.append(proc)
        return proc, int(proc.stdout.readline())

    yield start
    for proc in started:
        proc.kill()
        proc.wait(timeout=10)


def test_parse_proc_net_decodes_addresses_ports_and_states():
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:115D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1\n"
        "   1: 00000000000000000000000001000000:3FFD 00000000000000000000000000000000:0000 0A 0 0 0 0 0 4343\n"
    )
    first, second = parse_proc_net(text)
    assert (first.address, first.port, first.state, first.inode) == ("127.0.0.1", 4445, "0A", 4242)
    assert (second.address, second.port, second.inode) == ("0:0:0:0:0:0:0:1", 16381, 4343)


@pytest.mark.parametrize(
    ("kind", "family", "transport"), [("tcp", "4", "tcp"), ("tcp", "6", "tcp"), ("udp", "4", "quic")]
)
def test_the_process_holding_a_port_is_named(holder, kind, family, transport):
    proc, port = holder(kind, family)
    expected_name = Path(sys.executable).name[:15]  # the kernel names a process after the file it executed
    holders = port_holders(transport, port)
    assert [(h.pid, h.name) for h in holders] == [(proc.pid, expected_name)]
    assert holders[0].describe() == f"{transport}/{port} is in use by {expected_name} (pid {proc.pid})"


def test_rdma_shares_the_tcp_port_space_and_quic_does_not(holder):
    proc, port = holder("tcp")
    assert [h.pid for h in port_holders("rdma", port)] == [proc.pid]
    assert port_holders("quic", port) == []


def test_the_managed_server_itself_is_no_conflict(holder):
    proc, port = holder("tcp")
    assert foreign_holders("tcp", port, [proc.pid]) == []
    assert [h.pid for h in foreign_holders("tcp", port, [1])] == [proc.pid]


def test_a_free_port_has_no_holder(holder):
    proc, port = holder("tcp")
    proc.kill()
    proc.wait(timeout=10)
    assert port_holders("tcp", port) == []


def fake_proc(tmp_path, cap_eff: str, unprivileged_start: str = "1024"):
    (tmp_path / "self").mkdir(parents=True)
    (tmp_path / "self" / "status").write_text(f"Name:\tx\nCapEff:\t{cap_eff}\n")
    (tmp_path / "sys" / "net" / "ipv4").mkdir(parents=True)
    (tmp_path / "sys" / "net" / "ipv4" / "ip_unprivileged_port_start").write_text(unprivileged_start + "\n")
    return str(tmp_path)


def test_low_ports_need_cap_net_bind_service(tmp_path):
    proc_root = fake_proc(tmp_path, "0000000000000000")
    assert can_bind(4445, proc_root=proc_root)
    assert not can_bind(445, proc_root=proc_root)


def test_cap_net_bind_service_or_a_lowered_limit_allows_them(tmp_path):
    assert can_bind(445, proc_root=fake_proc(tmp_path / "a", "0000000000000400"))
    assert can_bind(445, proc_root=fake_proc(tmp_path / "b", "0000000000000000", "80"))
