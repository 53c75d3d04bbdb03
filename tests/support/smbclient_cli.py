"""Samba's smbclient command as the tests' SMB client of record (Debian package smbclient)."""

from __future__ import annotations

import os
import subprocess

from tests.support.peers import require_tool


def answers_smb(port: int) -> bool:
    """Samba's smbclient got an SMB answer on 127.0.0.1:``port`` (even a refused anonymous login is an answer)."""
    done = subprocess.run(
        [require_tool("smbclient", "smbclient"), "-L", "//127.0.0.1", "-p", str(port), "-N", "-t", "5", "-m", "SMB3"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = done.stdout + done.stderr
    return "do_connect: Connection to" not in output and "NT_STATUS_CONNECTION_REFUSED" not in output


def run_smbclient(port: int, *args: str, user: str, password: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """smbclient on ``port`` logged in as ``user`` (no smb.conf of the machine's own user: HOME is unset); the
    finished process, never raising, so a test can assert on the refusal it expects."""
    return subprocess.run(
        [require_tool("smbclient", "smbclient"), "-p", str(port), "-U", f"{user}%{password}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HOME": "/nonexistent"},
        check=False,
    )
