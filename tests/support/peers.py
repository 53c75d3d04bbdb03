"""Real peers for the tests: Debian's Samba tools, the venv's pysmbd, and the processes they run as.

The tests talk to real servers and clients rather than mocks, so a missing peer must fail the test with what to
install (a Debian package, or ``make venv`` for pysmbd), never skip it: a skipped peer test reads as a pass.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

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


def pysmbd_status(config: Path) -> dict:
    """``pysmbd status --json`` for the server of ``config``: the listeners as the server itself reports them,
    which is what server_ports reads too (a port that accepts connections may belong to someone else)."""
    return json.loads(_status_output(config))


def pysmbd_listening_ports(config: Path) -> List[int]:
    """The ports the server of ``config`` says it listens on now, sorted."""
    return sorted(x["port"] for x in pysmbd_status(config)["listeners"] if x["state"] == "listening")


def serve_pysmbd(config: Path, log: Path) -> subprocess.Popen:
    """Start ``pysmbd serve`` for ``config`` in the foreground, as the test's own child (stop it with
    stop_process), logging to ``log``; what it prints on stderr (a config it refuses, a traceback) goes to
    ``<log>.stderr``, which wait_until_running shows. Tests of the ``--daemon`` supervisor start that themselves."""
    with open(_stderr_file(log), "w") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [pysmbd_command(), "serve", "--config", str(config), "--log-file", str(log)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def wait_until_running(process: subprocess.Popen, config: Path, log: Path, timeout: float = 30.0) -> None:
    """Return once ``pysmbd status`` says the server of ``config`` runs (its listeners are bound by then), without
    connecting to it: a probe connection would count against the limits some tests measure. Fail with its log
    and stderr if it exits first or does not come up within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        output = _status_output(config)
        if output and json.loads(output).get("running"):
            return
        if process.poll() is not None or time.monotonic() > deadline:
            outcome = f"exited with {process.returncode}" if process.poll() is not None else f"not up in {timeout:g} s"
            output = "".join(
                path.read_text(errors="replace")[-3000:] for path in (log, _stderr_file(log)) if path.exists()
            )
            pytest.fail(f"pysmbd {outcome}; log and stderr:\n{output}")
        time.sleep(0.05)


def _status_output(config: Path) -> str:
    done = subprocess.run(
        [pysmbd_command(), "status", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.stdout


def _stderr_file(log: Path) -> Path:
    return log.with_name(log.name + ".stderr")


def pysmbd_users_line(user: str, password: str) -> str:
    """A users-file line for ``user`` made by ``pysmbd hash-password --user`` (the way an administrator makes
    one), so the tests exercise the real hashing instead of writing the file format by hand."""
    done = subprocess.run(
        [pysmbd_command(), "hash-password", "--user", user],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


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


@dataclass
class DaemonSmbd:
    """A standalone smbd (Debian's samba) forked into the background from its own smb.conf under ``root``.

    server_ports' samba backend finds a standalone smbd through the pid file in smb.conf's pid directory and
    restarts it with ``smbd -D -s <smb.conf>``, so the smbd under test must be started that same way, not as a
    child of pytest (tests/integration/verify's ``start_samba`` does that, for tests that only talk to smbd).
    Everything it writes stays under ``root``: pid, lock, state, cache and private directories, its logs and
    one share ``data``; it listens on loopback only.
    """

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "smb.conf"

    @property
    def pidfile(self) -> Path:
        return self.root / "pid" / "smbd.pid"

    def start(self, port: int, ready: Callable[[int], bool], timeout: float = 20.0) -> Path:
        """Write smb.conf for ``port``, start smbd and wait until it wrote its pid file and ``ready(port)``
        (the caller's idea of "serving": listening, or answering SMB). Return the smb.conf path."""
        smbd = require_tool("smbd", "samba")
        require_tool("testparm", "samba-common-bin")  # the samba backend validates every smb.conf with it
        for name in ("pid", "lock", "state", "cache", "private", "share"):
            (self.root / name).mkdir()
        self.conf.write_text(
            textwrap.dedent(
                f"""\
                [global]
                \tworkgroup = WORKGROUP
                \tsmb ports = {port}
                \tpid directory = {self.root}/pid
                \tlock directory = {self.root}/lock
                \tstate directory = {self.root}/state
                \tcache directory = {self.root}/cache
                \tprivate dir = {self.root}/private
                \tlog file = {self.root}/log.%m
                \tinterfaces = lo
                \tbind interfaces only = yes
                \tdisable netbios = yes

                [data]
                \tpath = {self.root}/share
                """
            )
        )
        subprocess.run([smbd, "-D", "-s", str(self.conf)], timeout=30, check=True)
        deadline = time.monotonic() + timeout
        while not (self.pidfile.exists() and ready(port)):
            assert time.monotonic() < deadline, f"smbd did not listen on {port}"
            time.sleep(0.2)
        return self.conf

    def pid(self) -> Optional[int]:
        """The main smbd's pid from its pid file (which a restart by server_ports rewrites), if there is one."""
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the main smbd (it stops its children) and wait up to ``timeout`` seconds for it to go."""
        pid = self.pid()
        if pid is not None:
            terminate_pid(pid, timeout)
