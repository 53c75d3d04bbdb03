"""A disk full while server_ports writes pysmbd's config: the old file stays, byte for byte, and keeps serving.

The config lives on a 64 KiB tmpfs the test mounts and fills to the last byte; pysmbd's state directory lives
elsewhere (a full /etc does not stop /run). After the space is freed, the same task converges.
"""

from __future__ import annotations

import secrets

import pytest

from tests.support.accounts import FAULTS_USER
from tests.support.full_disk import fill_to_the_brim
from tests.support.net import free_tcp_ports
from tests.support.plays import localhost_play, pysmbd_ports_task, result_of
from tests.support.pysmbd_server import prepare_pysmbd
from tests.support.smbclient_cli import answers_smb

pytestmark = [pytest.mark.slow, pytest.mark.peer]


def test_a_full_disk_leaves_the_old_config_intact_and_serving_and_a_rerun_converges(
    tmp_path, tiny_tmpfs, pysmbd_servers
):
    old, new = free_tcp_ports(2)
    config = tiny_tmpfs / "pysmbd.toml"
    server = pysmbd_servers(
        prepare_pysmbd(
            tmp_path,
            FAULTS_USER,
            secrets.token_urlsafe(12),
            [old],
            config=config,
            mode="daemon",
            share_settings="read_only = false",
        )
    )
    assert server.listening_ports() == [old]
    original = server.config.read_bytes()
    filler = fill_to_the_brim(tiny_tmpfs)
    move = pysmbd_ports_task(server.config, [new], extra="ignore_errors: true")

    run = localhost_play(tmp_path, move)
    failed = result_of(run, "change ports")
    assert failed.get("failed") is True, failed
    message = failed["msg"]
    assert str(server.config) in message and "No space left on device" in message, message
    assert "MODULE FAILURE" not in message and "Traceback" not in message, message
    assert server.config.read_bytes() == original
    assert sorted(p.name for p in tiny_tmpfs.iterdir()) == ["filler", "pysmbd.toml"]  # no half-written temp file
    assert server.listening_ports() == [old]
    assert answers_smb(old) and not answers_smb(new)

    filler.unlink()
    rerun = localhost_play(tmp_path, move, name="rerun.yml")
    converged = result_of(rerun, "change ports")
    assert converged.get("failed") is not True, converged.get("msg")
    assert converged["changed"] is True and [e["port"] for e in converged["after"]] == [new]
    assert server.listening_ports() == [new]
    assert answers_smb(new) and not answers_smb(old)
    again = result_of(localhost_play(tmp_path, move, name="again.yml"), "change ports")
    assert again["changed"] is False and again.get("failed") is not True
