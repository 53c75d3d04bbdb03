"""An smb.conf that testparm rejects, left there by someone else: the samba backend refuses and says so.

A standalone smbd (Debian's samba) runs from its own smb.conf. Someone then edits that file into a state
testparm rejects while smbd keeps running. server_ports must not restart smbd (it would not come back), must
not write (the file stays byte for byte what that person left), and must say that the file as it is now is
the problem, not the change it was asked for. Once the file is fixed, the same task converges.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.faults.conftest import answers_smb, free_tcp_ports, localhost_play, process_alive, result_of

pytestmark = [pytest.mark.slow, pytest.mark.peer]

BROKEN_LINE = "\tserver role = no such role\n"


@pytest.fixture
def standalone_smbd(tmp_path):
    for program, package in (("smbd", "samba"), ("testparm", "samba-common-bin"), ("smbclient", "smbclient")):
        assert shutil.which(program) or Path(f"/usr/sbin/{program}").exists(), (
            f"{program} missing: apt-get install {package}"
        )
    conf = tmp_path / "smb.conf"
    pidfile = tmp_path / "pid" / "smbd.pid"

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
        while not (pidfile.exists() and answers_smb(port)):
            assert time.monotonic() < deadline, f"smbd did not listen on {port}"
            time.sleep(0.2)
        return conf

    yield start
    if pidfile.exists():
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and process_alive(pid):
            time.sleep(0.1)


def passes_testparm(conf: Path) -> bool:
    done = subprocess.run(
        ["testparm", "-s", "--suppress-prompt", str(conf)], capture_output=True, timeout=30, check=False
    )
    return done.returncode == 0


def samba_task(conf: Path, ports: list) -> str:
    entries = ", ".join(f"{{transport: tcp, port: {p}}}" for p in ports)
    return f"""
    - name: change ports
      smb.alternative_ports.server_ports:
        backend: samba
        smb_conf: {conf}
        ports: [{entries}]
        exclusive: true
      ignore_errors: true
    """


def test_a_conf_testparm_rejects_is_left_alone_smbd_is_not_restarted_and_the_message_says_why(
    tmp_path, standalone_smbd
):
    old, new = free_tcp_ports(2)
    conf = standalone_smbd(old)
    smbd_pid = int((tmp_path / "pid" / "smbd.pid").read_text().strip())
    text = conf.read_text()
    conf.write_text(text.replace("\tworkgroup = WORKGROUP\n", "\tworkgroup = WORKGROUP\n" + BROKEN_LINE))
    assert not passes_testparm(conf)
    left_by_someone_else = conf.read_bytes()

    failed = result_of(localhost_play(tmp_path, samba_task(conf, [new])), "change ports")
    assert failed.get("failed") is True, failed
    message = failed["msg"]
    assert "testparm" in message and str(conf) in message and "no such role" in message, message
    # It is the file as it is now that testparm rejects, before any change of ours: say so, not "the new smb.conf".
    assert "before any change" in message and "not restarted" in message, message
    assert conf.read_bytes() == left_by_someone_else
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".smb.conf")) == []
    assert process_alive(smbd_pid) and answers_smb(old) and not answers_smb(new)

    conf.write_bytes(left_by_someone_else.replace(BROKEN_LINE.encode(), b""))  # the administrator fixes it
    converged = result_of(localhost_play(tmp_path, samba_task(conf, [new]), name="rerun.yml"), "change ports")
    assert converged.get("failed") is not True, converged.get("msg")
    assert converged["changed"] is True and [e["port"] for e in converged["after"]] == [new]
    assert passes_testparm(conf) and answers_smb(new) and not answers_smb(old)
    again = result_of(localhost_play(tmp_path, samba_task(conf, [new]), name="again.yml"), "change ports")
    assert again.get("failed") is not True and again["changed"] is False
