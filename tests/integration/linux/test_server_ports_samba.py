"""server_ports on Samba's smbd (Debian's package), standalone with its own smb.conf under a temporary directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.net import free_tcp_ports
from tests.support.peers import require_tool
from tests.support.plays import localhost_play, result_of, server_ports_task
from tests.support.samba import daemon_smbds

pytestmark = [pytest.mark.slow, pytest.mark.peer]


def listening(port: int) -> bool:
    done = subprocess.run(
        [require_tool("smbclient", "smbclient"), "-L", "//127.0.0.1", "-p", str(port), "-N", "-t", "5"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return "NT_STATUS_CONNECTION_REFUSED" not in done.stderr + done.stdout


@pytest.fixture
def standalone_smbd(tmp_path):
    """``start(port)``: smbd -D from its own smb.conf under tmp_path, serving once it listens; returns that
    smb.conf. Stopped afterwards, whichever pid server_ports left it with."""
    require_tool("smbclient", "smbclient")
    with daemon_smbds(tmp_path, ready=listening) as start:
        yield start


def server_ports(tmp_path: Path, conf: Path, ports: list):
    task = server_ports_task(ports, backend="samba", smb_conf=conf, extra="ignore_errors: true")
    return result_of(localhost_play(tmp_path, task, timeout=300), "change ports")


def test_samba_moves_to_new_ports_with_a_restart_and_testparm_reads_them(standalone_smbd, tmp_path):
    old, first, second = free_tcp_ports(3)
    conf = standalone_smbd(old)
    result = server_ports(tmp_path, conf, [first, second])
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True
    assert [e["port"] for e in result["before"]] == [old]
    assert sorted(e["port"] for e in result["after"]) == sorted([first, second])
    parameter = subprocess.run(
        ["testparm", "-s", "--suppress-prompt", "--parameter-name", "smb ports", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert sorted(map(int, parameter)) == sorted([first, second])
    assert listening(first) and listening(second)
    assert not listening(old)
    assert server_ports(tmp_path, conf, [first, second])["changed"] is False


def test_samba_refuses_a_port_held_by_another_process_and_keeps_serving(standalone_smbd, port_holder, tmp_path):
    old, taken = free_tcp_ports(2)
    conf = standalone_smbd(old)
    before = conf.read_bytes()
    holder = port_holder(taken)
    result = server_ports(tmp_path, conf, [taken])
    assert result["failed"] is True
    assert f"tcp/{taken} is in use by" in result["msg"] and f"(pid {holder.pid})" in result["msg"]
    assert conf.read_bytes() == before
    assert listening(old)


def test_samba_bound_to_its_interfaces_shares_a_port_held_on_another_address(standalone_smbd, port_holder, tmp_path):
    """The smbd binds only ``interfaces = lo`` (127.0.0.1, ::1): a service on 127.0.0.2 of the same port is no
    conflict (smbd really starts beside it), one on 127.0.0.1 is, and is named."""
    old, shared, clashing = free_tcp_ports(3)
    conf = standalone_smbd(old)
    other = port_holder(shared, address="127.0.0.2")
    result = server_ports(tmp_path, conf, [shared])
    assert result.get("failed") is not True, result.get("msg")
    assert [e["port"] for e in result["after"]] == [shared]
    assert listening(shared), "smbd serves 127.0.0.1 beside the other service on 127.0.0.2"
    assert other.poll() is None

    holder = port_holder(clashing, address="127.0.0.1")
    before = conf.read_bytes()
    result = server_ports(tmp_path, conf, [clashing])
    assert result["failed"] is True
    assert f"tcp/{clashing} is in use by" in result["msg"] and f"(pid {holder.pid})" in result["msg"]
    assert conf.read_bytes() == before


def test_samba_quic_before_4_23_is_a_clear_error(standalone_smbd, tmp_path):
    (old,) = free_tcp_ports(1)
    conf = standalone_smbd(old)
    task = (
        "- name: quic\n  smb.alternative_ports.server_ports:\n    backend: samba\n"
        f"    smb_conf: {conf}\n    ports: [{{transport: quic, port: 8443}}]\n  ignore_errors: true\n"
    )
    msg = result_of(localhost_play(tmp_path, task, name="quic.yml", timeout=300), "quic")["msg"]
    assert "quic/8443: Samba 4." in msg and "has no SMB over QUIC (it needs Samba 4.23 or later)" in msg
    assert listening(old)
