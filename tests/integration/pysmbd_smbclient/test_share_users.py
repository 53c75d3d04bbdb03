"""Per-share user lists seen through Samba's smbclient: a share with valid_users refuses everyone else at tree
connect, and a user in read_only_users reads but cannot write."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pysmbd.core.context import ShareConfig
from pysmbd.core.users import nt_hash
from tests.support.peers import require_tool
from tests.support.pysmbd_context import make_context
from tests.support.threaded_pysmbd import ThreadedServer

pytestmark = pytest.mark.peer

USERS = {"alice": "Alice-pass-1", "bob": "Bob-pass-2", "carol": "Carol-pass-3"}


@pytest.fixture
def team_server(tmp_path: Path):
    share = tmp_path / "team"
    share.mkdir()
    (share / "plan.txt").write_text("the plan\n")
    users = tmp_path / "users"
    users.write_text(
        "".join(
            f"{name}:1000:{'X' * 32}:{nt_hash(password).hex().upper()}:[U          ]:LCT-00000000:\n"
            for name, password in USERS.items()
        )
    )
    config = ShareConfig("team", share, valid_users=frozenset({"alice", "bob"}), read_only_users=frozenset({"bob"}))
    with ThreadedServer(make_context(users_file=users, shares={"team": config})) as server:
        yield server.port, share, tmp_path


def smbclient(port: int, user: str, command: str, cwd: Path) -> subprocess.CompletedProcess:
    command_line = [require_tool("smbclient", "smbclient"), "//127.0.0.1/team", "-p", str(port)]
    command_line += ["-U", f"{user}%{USERS[user]}", "-c", command]
    return subprocess.run(
        command_line,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_valid_users_refuses_other_users_at_tree_connect(team_server):
    port, _share, workdir = team_server
    refused = smbclient(port, "carol", "ls", workdir)
    assert refused.returncode != 0
    assert "NT_STATUS_ACCESS_DENIED" in refused.stdout + refused.stderr
    allowed = smbclient(port, "alice", "ls", workdir)
    assert allowed.returncode == 0 and "plan.txt" in allowed.stdout, allowed.stdout + allowed.stderr


def test_read_only_users_read_but_cannot_write(team_server):
    port, share, workdir = team_server
    (workdir / "note.txt").write_text("from bob\n")
    got = smbclient(port, "bob", "get plan.txt copy.txt", workdir)
    assert got.returncode == 0 and (workdir / "copy.txt").read_text() == "the plan\n"
    put = smbclient(port, "bob", "put note.txt", workdir)
    assert "NT_STATUS_ACCESS_DENIED" in put.stdout + put.stderr
    assert not (share / "note.txt").exists()
    assert smbclient(port, "alice", "put note.txt", workdir).returncode == 0
    assert (share / "note.txt").read_text() == "from bob\n"
