"""Helpers shared by the pysmbd runtime integration tests: free ports, the pysmbd and smbclient commands."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest

USER, PASSWORD = "alice", "Secret-123"
PYSMBD = str(Path(sys.executable).with_name("pysmbd"))


def require_tool(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        pytest.fail(f"{name} is missing: install the Debian package {package} (apt-get install {package})")
    return found


def free_ports(count: int) -> List[int]:
    sockets = [socket.socket() for _port in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


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
