"""server_ports on Samba's smbd (Debian's package), standalone with its own smb.conf under a temporary directory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.integration.linux.conftest import free_tcp_ports
from tests.support.ansible_run import run_playbook

pytestmark = [pytest.mark.slow, pytest.mark.peer]


def listening(port: int) -> bool:
    done = subprocess.run(
        ["smbclient", "-L", "//127.0.0.1", "-p", str(port), "-N", "-t", "5"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return "NT_STATUS_CONNECTION_REFUSED" not in done.stderr + done.stdout


@pytest.fixture
def standalone_smbd(tmp_path):
    for program, package in (("smbd", "samba"), ("testparm", "samba-common-bin"), ("smbclient", "smbclient")):
        assert shutil.which(program) or Path(f"/usr/sbin/{program}").exists(), (
            f"{program} missing: apt-get install {package}"
        )
    conf = tmp_path / "smb.conf"

    def start(port: int) -> Path:
        for name in ("pid", "lock", "state", "cache", "private", "share"):
            (tmp_path / name).mkdir()
        conf.write_text(
            textwrap.dedent(
                f"""\
                [global]
                \tworkgroup = WORKGROUP
                \tsmb ports = {port}
                \tpid directory = {tmp_path}/pid
                \tlock directory = {tmp_path}/lock
                \tstate directory = {tmp_path}/state
                \tcache directory = {tmp_path}/cache
                \tprivate dir = {tmp_path}/private
                \tlog file = {tmp_path}/log.%m
                \tinterfaces = lo
                \tbind interfaces only = yes
                \tdisable netbios = yes

                [data]
                \tpath = {tmp_path}/share
                """
            )
        )
        subprocess.run(["smbd", "-D", "-s", str(conf)], timeout=30, check=True)
        deadline = time.monotonic() + 20
        while not listening(port):
            assert time.monotonic() < deadline, f"smbd did not listen on {port}"
            time.sleep(0.2)
        return conf

    yield start
    pidfile = tmp_path / "pid" / "smbd.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


def server_ports(tmp_path: Path, conf: Path, ports: list):
    entries = ", ".join(f"{{transport: tcp, port: {p}}}" for p in ports)
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        textwrap.dedent(
            f"""\
            - hosts: localhost
              gather_facts: false
              tasks:
                - name: change ports
                  smb.alternative_ports.server_ports:
                    backend: samba
                    smb_conf: {conf}
                    ports: [{entries}]
                    exclusive: true
                  ignore_errors: true
            """
        )
    )
    run = run_playbook(playbook, "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}")
    return run.results["change ports"]["localhost"]


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


def test_samba_quic_before_4_23_is_a_clear_error(standalone_smbd, tmp_path):
    (old,) = free_tcp_ports(1)
    conf = standalone_smbd(old)
    playbook = tmp_path / "quic.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: quic\n"
        "      smb.alternative_ports.server_ports:\n        backend: samba\n"
        f"        smb_conf: {conf}\n        ports: [{{transport: quic, port: 8443}}]\n      ignore_errors: true\n"
    )
    run = run_playbook(playbook, "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}")
    msg = run.results["quic"]["localhost"]["msg"]
    assert "quic/8443: Samba 4." in msg and "has no SMB over QUIC (it needs Samba 4.23 or later)" in msg
    assert listening(old)
