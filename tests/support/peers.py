"""Real peers for the tests: Debian's Samba tools, the venv's pysmbd command, and stopping the processes they run as.

How each peer server is laid out and started lives beside it: tests/support/samba.py, tests/support/pysmbd_server.py.

The tests talk to real servers and clients rather than mocks, so a missing peer must fail the test with what to
install (a Debian package, or ``make venv`` for pysmbd), never skip it: a skipped peer test reads as a pass.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def require_tool(path_or_name: str, package: str) -> str:
    """Return the tool's path, or fail (never skip) naming the Debian package that provides it.

    ``path_or_name`` is an absolute path or a command name; /usr/sbin and /sbin are searched too, since smbd
    and its kin live there and a non-login shell's PATH may lack them.
    """
    found = path_or_name if os.path.isabs(path_or_name) and os.path.exists(path_or_name) else None
    found = found or shutil.which(path_or_name) or shutil.which(path_or_name, path="/usr/sbin:/sbin")
    if not found:
        pytest.fail(
            "%s is missing: install the Debian package %s (apt-get install %s)" % (path_or_name, package, package)
        )
    return found


def pysmbd_command() -> str:
    """The ``pysmbd`` command of this venv (the one the tests' ansible-playbook and modules run too).

    pysmbd is the collection's own server, installed into the venv from roles/pysmbd by ``make venv``, not a
    Debian package: the venv's bin directory is the fallback when PATH does not lead there.
    """
    found = shutil.which("pysmbd") or str(Path(sys.executable).parent / "pysmbd")
    if not os.access(found, os.X_OK):
        pytest.fail("pysmbd is not installed in the venv: run `make venv`")
    return found


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM a server the test started, wait for it, SIGKILL it if it ignores that; no-op if it has exited.

    SIGTERM first so the server runs its own shutdown (pid and status files removed, children stopped), which
    is what the next test and the assertions after a stop rely on.
    """
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def terminate_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM a daemon we did not start as a child (only its pid is known), wait, SIGKILL it if it stays."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_alive(pid):
        time.sleep(0.05)
    if process_alive(pid):
        os.kill(pid, signal.SIGKILL)


def process_alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed daemon reaped by no one still has a /proc entry)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
