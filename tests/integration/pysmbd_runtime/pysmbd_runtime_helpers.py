"""Helpers shared by the pysmbd runtime integration tests: the pysmbd and smbclient commands."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Optional

from tests.support.peers import require_tool

USER, PASSWORD = "alice", "Secret-123"
PYSMBD = str(Path(sys.executable).with_name("pysmbd"))


def run_pysmbd(
    *args: str, stdin: str = "", timeout: float = 30, cwd: Optional[str] = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYSMBD, *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )


def port_refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def smbclient(port: int, *args: str, user: str = USER, password: str = PASSWORD, timeout: float = 60):
    binary = require_tool("smbclient", "smbclient")
    return subprocess.run(
        [binary, "-p", str(port), "-U", f"{user}%{password}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HOME": "/nonexistent"},
        check=False,
    )
