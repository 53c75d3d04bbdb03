"""pysmbd as a test peer: one layout, one config writer and one starter for the tests and the benchmarks.

``prepare_pysmbd(root, user, password, ports)`` lays out a server under ``root`` (a users file made by
``pysmbd hash-password``, the share ``data``, the state directory, the log) and writes its config;
``start_pysmbd(...)`` does that and starts it. How it runs is ``mode``, since the tests need all three:

- ``"child"``: ``pysmbd serve`` in the foreground as the test's own child (what most tests and benches want);
- ``"daemon"``: ``pysmbd serve --daemon``, the supervisor the pysmbd role installs, stopped through its pid file;
- ``"quic"``: pysmbd's server with the QUIC adapter registered (tests/support/pysmbd_quic_runner.py), which
  prints ``READY`` once bound and ``RELOADED ...`` after each SIGHUP.

Every mode runs as its own process, so the server never shares a GIL with the client under test.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

import pytest

from tests.support.peers import process_alive, pysmbd_command, stop_process, terminate_pid

QUIC_RUNNER = Path(__file__).with_name("pysmbd_quic_runner.py")
START_TIMEOUT = 30.0


def pysmbd_status(config: Path) -> dict:
    """``pysmbd status --json`` for the server of ``config``: the listeners as the server itself reports them,
    which is what server_ports reads too (a port that accepts connections may belong to someone else)."""
    return json.loads(_status_output(config))


def pysmbd_listening_ports(config: Path) -> List[int]:
    """The ports the server of ``config`` says it listens on now, sorted."""
    return sorted(x["port"] for x in pysmbd_status(config)["listeners"] if x["state"] == "listening")


def serve_pysmbd(
    config: Path, log: Path, *, log_level: Optional[str] = None, profile_to: Optional[Path] = None
) -> subprocess.Popen:
    """Start ``pysmbd serve`` for ``config`` in the foreground, as the test's own child (stop it with
    stop_process), logging to ``log``; what it prints on stderr (a config it refuses, a traceback) goes to
    ``<log>.stderr``, which wait_until_running shows. ``log_level``: pysmbd's ``--log-level``."""
    command = [pysmbd_command(), "serve", "--config", str(config), "--log-file", str(log)]
    command += ["--log-level", log_level] if log_level else []
    if profile_to is not None:  # the same server under cProfile, for a benchmark's profile
        command = [sys.executable, "-m", "cProfile", "-o", str(profile_to), "-m", "pysmbd", *command[1:]]
    with open(_stderr_file(log), "w") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)


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


@dataclass
class PysmbdServer:
    """One pysmbd laid out under ``root``; its config is ``root/pysmbd.toml`` unless given elsewhere (a fault
    test puts it on a filesystem that fills up, away from the state directory)."""

    root: Path
    config: Path
    ports: List[int]
    """The TCP listeners' ports."""
    address: str = "127.0.0.1"
    quic_port: Optional[int] = None
    quic_files: Optional[Sequence[Path]] = None
    """(certificate, private key) for the [quic] table."""
    server_settings: str = ""
    """Lines added to [server], such as ``max_connections = 3``."""
    quic_settings: str = ""
    """Lines added to [quic], such as ``max_datagram_size = 1200``."""
    share_settings: str = ""
    """Lines added to the share ``data``, such as ``read_only = false``."""
    more_shares: str = ""
    """More [[shares]] tables, as TOML."""
    mode: str = "child"
    process: Optional[subprocess.Popen] = None
    certificate: object = None
    """The GeneratedCertificate of a QUIC server made by ``start_pysmbd(quic=True)``."""
    password: str = ""
    share: Optional[Path] = None
    """The directory of the share ``data``: ``root/share`` unless given (a benchmark's data set)."""
    users_file: Optional[Path] = None
    """``root/users`` unless given (a fleet of servers shares one)."""

    def __post_init__(self) -> None:
        self.share = self.share or self.root / "share"
        self.users_file = self.users_file or self.root / "users"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def log(self) -> Path:
        return self.root / ("server.log" if self.mode == "quic" else "pysmbd.log")

    @property
    def tcp_port(self) -> int:
        return self.ports[0]

    def write_config(
        self,
        ports: Optional[List[int]] = None,
        *,
        quic_port: Optional[int] = None,
        server: Optional[str] = None,
        shares: str = "",
    ) -> None:
        """(Re)write the config; the running server reads it at a reload. Ports and [server] lines that are not
        given stay as they were; ``shares`` (more [[shares]] tables) is the whole list each time, so a rewrite
        without it removes the shares an earlier one added."""
        self.ports = list(self.ports if ports is None else ports)
        self.quic_port = self.quic_port if quic_port is None else quic_port
        self.server_settings = self.server_settings if server is None else server
        self.more_shares = shares
        listeners = "".join(
            f'[[listeners]]\ntransport = "tcp"\naddress = "{self.address}"\nport = {port}\n' for port in self.ports
        )
        quic = ""
        if self.quic_port is not None:
            listeners += f'[[listeners]]\ntransport = "quic"\naddress = "{self.address}"\nport = {self.quic_port}\n'
        if self.quic_files:
            certificate, private_key = self.quic_files
            quic = f'[quic]\ncertificate = "{certificate}"\nprivate_key = "{private_key}"\n{self.quic_settings}\n'
        self.config.write_text(
            "[server]\n"
            f'users_file = "{self.users_file}"\n'
            f'state_dir = "{self.state_dir}"\n'
            f"{self.server_settings}\n"
            f"{_workers_line(self.server_settings)}"
            f"{listeners}"
            f"{quic}"
            f'[[shares]]\nname = "data"\npath = "{self.share}"\n{self.share_settings}\n'
            f"{self.more_shares}"
        )

    def start(
        self, mode: Optional[str] = None, *, log_level: Optional[str] = None, profile_to: Optional[Path] = None
    ) -> PysmbdServer:
        """Start the server and return once it serves; fail the test with its log if it does not."""
        self.mode = mode or self.mode
        if self.mode == "daemon":
            subprocess.run(
                [pysmbd_command(), "serve", "--config", str(self.config), "--daemon"], timeout=60, check=True
            )
        elif self.mode == "quic":
            self._start_quic_runner()
        else:
            self.process = serve_pysmbd(self.config, self.log, log_level=log_level, profile_to=profile_to)
            wait_until_running(self.process, self.config, self.log)
        return self

    def _start_quic_runner(self) -> None:
        with open(self.log, "w") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, str(QUIC_RUNNER), "--config", str(self.config)],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        line = self.read_line(START_TIMEOUT)
        if line != "READY":
            self.stop()
            pytest.fail(
                f"pysmbd with a QUIC listener did not start ({line or 'no answer in 30 s'}):\n{self.log_tail()}"
            )

    def pid(self) -> Optional[int]:
        """The server's pid: the child's, or the supervisor's from its pid file."""
        if self.process is not None:
            return self.process.pid
        try:
            return int((self.state_dir / "pysmbd.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self.pid()
        return pid is not None and (self.process.poll() is None if self.process is not None else process_alive(pid))

    def status(self) -> dict:
        """``pysmbd status --json``: the listeners as the server itself reports them."""
        return pysmbd_status(self.config)

    status_json = status

    def listening_ports(self) -> List[int]:
        return pysmbd_listening_ports(self.config)

    def reload(self):
        """Reload the config. ``pysmbd reload`` (its CompletedProcess) for a child or a daemon; SIGHUP for the
        QUIC runner, returning its ``RELOADED ...`` line."""
        if self.mode == "quic":
            self.process.send_signal(signal.SIGHUP)
            return self.read_line(START_TIMEOUT)
        return subprocess.run(
            [pysmbd_command(), "reload", "--config", str(self.config), "--timeout", "20"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def read_line(self, timeout: float) -> str:
        """The QUIC runner's next line on stdout, or "" after ``timeout`` seconds."""
        readable = select.select([self.process.stdout], [], [], timeout)[0]
        return self.process.stdout.readline().strip() if readable else ""

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM the server (it removes its pid and status files), SIGKILL it if it stays; no-op once gone."""
        if self.process is not None:
            stop_process(self.process)
            return
        pid = self.pid()
        if pid is not None and process_alive(pid):
            terminate_pid(pid)


def _workers_line(server_settings: str) -> str:
    """``PYSMBD_TEST_WORKERS=2`` runs every test server with that many worker processes (unless it sets its own)."""
    workers = os.environ.get("PYSMBD_TEST_WORKERS", "")
    if not workers or "workers" in server_settings:
        return ""
    return f"workers = {workers}\n"


def prepare_pysmbd(
    root: Path,
    user: str,
    password: str,
    ports: List[int],
    *,
    config: Optional[Path] = None,
    quic: bool = False,
    quic_port: Optional[int] = None,
    **settings,
) -> PysmbdServer:
    """Lay out a pysmbd under ``root`` and write its config (see PysmbdServer for ``settings``); start nothing.

    ``quic``: a QUIC listener on ``quic_port`` with a self-signed certificate for localhost and 127.0.0.1 made
    by ``pysmbd.server.certs`` (``server.certificate``); the server then runs in mode ``"quic"``."""
    server = PysmbdServer(
        root, config or root / "pysmbd.toml", list(ports), quic_port=quic_port, password=password, **settings
    )
    root.mkdir(parents=True, exist_ok=True)
    server.share.mkdir(parents=True, exist_ok=True)
    server.users_file.write_text(pysmbd_users_line(user, password) if user else "")  # no user: guests only
    if quic:
        from pysmbd.server.certs import generate_self_signed  # pysmbd is the venv's; bench scripts import late

        server.certificate = generate_self_signed(root / "cert.pem", root / "key.pem", ["localhost", "127.0.0.1"])
        server.quic_files = (server.certificate.certificate, server.certificate.private_key)
        server.mode = "quic"
    server.write_config(shares=server.more_shares)
    return server


def start_pysmbd(root: Path, user: str, password: str, ports: List[int], **options) -> PysmbdServer:
    """``prepare_pysmbd`` and start it (``mode``: "child" by default, "daemon"; "quic" with ``quic=True``;
    ``log_level`` and ``profile_to`` (a cProfile output file) for a child)."""
    mode = options.pop("mode", None)
    log_level, profile_to = options.pop("log_level", None), options.pop("profile_to", None)
    return prepare_pysmbd(root, user, password, ports, **options).start(
        mode, log_level=log_level, profile_to=profile_to
    )


def gen_cert(directory: Path, name: str = "127.0.0.1") -> tuple:
    """A self-signed pair for ``name`` made by ``pysmbd gen-cert``, as an administrator makes one: (certificate,
    private key, SHA-256 fingerprint)."""
    cert, key = directory / "quic-cert.pem", directory / "quic-key.pem"
    done = subprocess.run(
        [pysmbd_command(), "gen-cert", "--cert", str(cert), "--key", str(key), "--name", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    fingerprint = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("sha256 "))
    return cert, key, fingerprint


def run_pysmbd(
    *args: str, stdin: str = "", timeout: float = 30, cwd: Optional[str] = None
) -> subprocess.CompletedProcess:
    """The venv's ``pysmbd`` command with ``args``; the finished process, never raising."""
    return subprocess.run(
        [pysmbd_command(), *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )


def start_quic_pysmbd(root: Path, **settings) -> PysmbdServer:
    """pysmbd with one TCP and one QUIC listener on free loopback ports, as the QUIC account; ``settings`` as for
    PysmbdServer (``server_settings``, ``quic_settings``)."""
    from tests.support.accounts import QUIC_PASSWORD, QUIC_USER
    from tests.support.net import free_port, free_udp_port

    return start_pysmbd(root, QUIC_USER, QUIC_PASSWORD, [free_port()], quic=True, quic_port=free_udp_port(), **settings)


@contextmanager
def stopped_at_exit() -> Iterator[List[PysmbdServer]]:
    """For a fixture: a list to put started servers in; every one still running is stopped at the end."""
    started: List[PysmbdServer] = []
    try:
        yield started
    finally:
        for server in started:
            server.stop()
