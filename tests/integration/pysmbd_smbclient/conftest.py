"""Fixtures: a pysmbd core served on a free loopback port, with one user and a few shares."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from pysmbd.core.context import ShareConfig
from pysmbd.core.users import nt_hash
from tests.support.pysmbd_context import make_context

from .adapter import ThreadedServer

USER = "alice"
PASSWORD = "Corr3ct-Horse"


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: install the Debian package {package} (apt-get install {package})")
    return path


@dataclass
class RunningServer:
    port: int
    share: Path
    read_only_share: Path
    encrypted_share: Path
    workdir: Path

    def smbclient(
        self, *args: str, share: str = "share", timeout: int = 60, anonymous: bool = False
    ) -> subprocess.CompletedProcess:
        """Run Samba's smbclient against this server; returns the finished process (never raises)."""
        command = [require_binary("smbclient", "smbclient"), f"//127.0.0.1/{share}", "-p", str(self.port)]
        command += ["-N"] if anonymous else ["-U", f"{USER}%{PASSWORD}"]
        command += list(args)
        return subprocess.run(command, cwd=self.workdir, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def pysmbd_server(tmp_path: Path):
    yield from _serve(tmp_path, guest_share=False)


@pytest.fixture
def guest_server(tmp_path: Path):
    """Like pysmbd_server, plus a share ``pub`` that allows guests (its directory is ``workdir/../pub``)."""
    yield from _serve(tmp_path, guest_share=True)


def _serve(tmp_path: Path, *, guest_share: bool):
    from pysmbd.rpc.pipes import open_pipe

    share = tmp_path / "share"
    read_only = tmp_path / "ro"
    encrypted = tmp_path / "enc"
    workdir = tmp_path / "client"
    for directory in (share, read_only, encrypted, workdir):
        directory.mkdir()
    (read_only / "readme.txt").write_text("read me\n")
    users = tmp_path / "users"
    users.write_text(f"{USER}:1000:{'X' * 32}:{nt_hash(PASSWORD).hex().upper()}:[U          ]:LCT-00000000:\n")
    shares = {
        "share": ShareConfig("share", share, comment="test share"),
        "ro": ShareConfig("ro", read_only, read_only=True),
        "enc": ShareConfig("enc", encrypted, encrypt=True),
    }
    if guest_share:
        (tmp_path / "pub").mkdir()
        shares["pub"] = ShareConfig("pub", tmp_path / "pub", guest_ok=True)
    context = make_context(users_file=users, shares=shares)
    context.pipe_factory = lambda name: open_pipe(name, context)
    with ThreadedServer(context) as server:
        yield RunningServer(server.port, share, read_only, encrypted, workdir)
