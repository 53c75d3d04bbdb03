"""server_ports moves SMB over QUIC (UDP) ports of a running pysmbd; verify proves them over QUIC."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ansible_run import PlayRun
from tests.support.net import free_tcp_ports, free_udp_port
from tests.support.plays import localhost_play
from tests.support.pysmbd_server import gen_cert

pytestmark = pytest.mark.slow


def quic_ports_task(server, quic_port: int, state: str = "present", extra: str = "") -> str:
    return f"""
    - name: quic port
      smb.alternative_ports.server_ports:
        backend: pysmbd
        config_path: {server.config}
        executable: {Path(sys.executable).parent / "pysmbd"}
        address: 127.0.0.1
        ports: [{{transport: quic, port: {quic_port}}}]
        state: {state}
      {extra}
    """


def quic_verify_task(tcp_port: int, quic_port: int, quic_expect: str, fingerprint: str) -> str:
    return f"""
    - name: verify
      smb.alternative_ports.verify:
        host: 127.0.0.1
        endpoints:
          - {{transport: tcp, port: {tcp_port}, expect: open}}
          - {{transport: quic, port: {quic_port}, expect: {quic_expect}}}
        fingerprint_sha256: "{fingerprint}"
        timeout: 3
        fail_on_mismatch: false
    """


def rows(run: PlayRun) -> dict:
    return {(r["transport"], r["port"]): r for r in run.results["verify"]["localhost"]["results"]}


def quic_listeners(server) -> list:
    return [(x["port"], x["state"]) for x in server.status()["listeners"] if x["transport"] == "quic"]


def test_a_quic_port_is_added_then_removed_and_verify_proves_it_open_then_closed(running_pysmbd, tmp_path):
    (tcp_port,) = free_tcp_ports(1)
    quic_port = free_udp_port()
    cert, key, fingerprint = gen_cert(tmp_path)
    server = running_pysmbd([tcp_port], quic=(cert, key))

    added = localhost_play(
        tmp_path, quic_ports_task(server, quic_port) + quic_verify_task(tcp_port, quic_port, "open", fingerprint)
    )
    assert added.returncode == 0, added.stdout[-3000:]
    change = added.results["quic port"]["localhost"]
    assert change["changed"] is True
    assert sorted((e["transport"], e["port"], e["instances"]) for e in change["after"]) == [
        ("quic", quic_port, "default"),
        ("tcp", tcp_port, "default"),
    ]
    quic_row = rows(added)[("quic", quic_port)]
    assert (quic_row["status"], quic_row["dialect"], quic_row["tls_validation"]) == ("smb", "3.1.1", "on")
    assert quic_row["certificate_sha256"] == fingerprint
    assert rows(added)[("tcp", tcp_port)]["status"] == "smb"
    assert quic_listeners(server) == [(quic_port, "listening")]
    assert 'transport = "quic"' in server.config.read_text()

    again = localhost_play(tmp_path, quic_ports_task(server, quic_port), name="again.yml")
    assert again.results["quic port"]["localhost"]["changed"] is False

    removed = localhost_play(
        tmp_path,
        quic_ports_task(server, quic_port, state="absent")
        + quic_verify_task(tcp_port, quic_port, "closed", fingerprint),
        name="remove.yml",
    )
    assert removed.returncode == 0, removed.stdout[-3000:]
    assert removed.results["quic port"]["localhost"]["after"] == [
        {"transport": "tcp", "port": tcp_port, "instances": "default"}
    ]
    closed = rows(removed)[("quic", quic_port)]
    # On loopback the ICMP port-unreachable comes back: nothing answers QUIC there any more.
    assert closed["ok"] is True and closed["status"] in ("refused", "timeout"), closed
    assert rows(removed)[("tcp", tcp_port)]["status"] == "smb"
    assert quic_listeners(server) == []


def test_a_quic_port_without_a_quic_certificate_is_refused_naming_the_options(running_pysmbd, tmp_path):
    (tcp_port,) = free_tcp_ports(1)
    quic_port = free_udp_port()
    server = running_pysmbd([tcp_port])
    config_before = server.config.read_bytes()

    run = localhost_play(tmp_path, quic_ports_task(server, quic_port, extra="ignore_errors: true"))
    refused = run.results["quic port"]["localhost"]
    assert refused["failed"] is True
    assert refused["msg"].startswith("refused, nothing was changed")
    assert f"quic/{quic_port}: {server.config} has no [quic] table with certificate and private_key" in refused["msg"]
    assert "pysmbd_quic_certificate and pysmbd_quic_private_key" in refused["msg"]
    assert server.config.read_bytes() == config_before
    assert quic_listeners(server) == []


def test_a_udp_port_held_by_another_process_is_refused_naming_it(running_pysmbd, tmp_path):
    (tcp_port,) = free_tcp_ports(1)
    cert, key, _fingerprint = gen_cert(tmp_path)
    server = running_pysmbd([tcp_port], quic=(cert, key))
    holder_code = (
        "import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0)); "
        "print(s.getsockname()[1], flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        taken = int(holder.stdout.readline())
        # The same number over TCP is free: only the UDP port space counts for QUIC.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", taken))
        run = localhost_play(tmp_path, quic_ports_task(server, taken, extra="ignore_errors: true"))
    finally:
        holder.kill()
        holder.wait(timeout=10)
    refused = run.results["quic port"]["localhost"]
    assert refused["failed"] is True
    assert f"quic/{taken} is in use by {Path(sys.executable).name[:15]} (pid {holder.pid})" in refused["msg"]
    assert quic_listeners(server) == []
