"""An smb.conf that testparm rejects, left there by someone else: the samba backend refuses and says so.

A standalone smbd (Debian's samba) runs from its own smb.conf. Someone then edits that file into a state
testparm rejects while smbd keeps running. server_ports must not restart smbd (it would not come back), must
not write (the file stays byte for byte what that person left), and must say that the file as it is now is
the problem, not the change it was asked for. Once the file is fixed, the same task converges.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.net import free_tcp_ports
from tests.support.peers import process_alive, require_tool
from tests.support.plays import localhost_play, result_of, server_ports_task
from tests.support.samba import daemon_smbds
from tests.support.smbclient_cli import answers_smb

pytestmark = [pytest.mark.slow, pytest.mark.peer]

BROKEN_LINE = "\tserver role = no such role\n"


@pytest.fixture
def standalone_smbd(tmp_path):
    """``start(port)``: smbd -D from its own smb.conf under tmp_path, serving once it wrote its pid file and
    answers SMB; returns that smb.conf. Stopped afterwards, whichever pid server_ports left it with."""
    require_tool("smbclient", "smbclient")
    with daemon_smbds(tmp_path, ready=answers_smb) as start:
        yield start


def passes_testparm(conf: Path) -> bool:
    done = subprocess.run(
        ["testparm", "-s", "--suppress-prompt", str(conf)], capture_output=True, timeout=30, check=False
    )
    return done.returncode == 0


def samba_task(conf: Path, ports: list) -> str:
    return server_ports_task(ports, backend="samba", smb_conf=conf, extra="ignore_errors: true")


def test_a_conf_testparm_rejects_is_left_alone_smbd_is_not_restarted_and_the_message_says_why(
    tmp_path, standalone_smbd
):
    old, new = free_tcp_ports(2)
    conf = standalone_smbd(old)
    smbd_pid = int((conf.parent / "pid" / "smbd.pid").read_text().strip())
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
    assert sorted(p.name for p in conf.parent.iterdir() if p.name.startswith(".smb.conf")) == []
    assert process_alive(smbd_pid) and answers_smb(old) and not answers_smb(new)

    conf.write_bytes(left_by_someone_else.replace(BROKEN_LINE.encode(), b""))  # the administrator fixes it
    converged = result_of(localhost_play(tmp_path, samba_task(conf, [new]), name="rerun.yml"), "change ports")
    assert converged.get("failed") is not True, converged.get("msg")
    assert converged["changed"] is True and [e["port"] for e in converged["after"]] == [new]
    assert passes_testparm(conf) and answers_smb(new) and not answers_smb(old)
    again = result_of(localhost_play(tmp_path, samba_task(conf, [new]), name="again.yml"), "change ports")
    assert again.get("failed") is not True and again["changed"] is False
