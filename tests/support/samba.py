"""Samba's smbd as a test peer: one smb.conf writer and one starter, for the tests and the benchmarks.

``start_samba(tmp_path, ports, users, shares=None, extra_globals=None)`` starts a standalone smbd that touches
nothing outside ``tmp_path / "samba"`` (and the default share's own temporary directory): its own smb.conf with
private, state, lock, cache and pid directories, ``interfaces = lo`` with ``bind interfaces only``.

Two ways to run it, because the tests need both:

- as pytest's child (the default): its users exist only for that smbd, through nss_wrapper (Debian package
  libnss-wrapper), which gives smbd and smbpasswd a passwd and group file under ``tmp_path``, so no system
  account is created; it dies with pytest;
- ``daemon=True``: forked into the background with ``smbd -D -s <smb.conf>``, the way server_ports' samba
  backend restarts it (it finds smbd through the pid file in smb.conf's pid directory). A restarted smbd has no
  nss_wrapper, so a daemon has no users of its own.

    server = start_samba(tmp_path, free_tcp_ports(2), {"alice": "Secret-1"})
    try: ...                      # server.ports, server.conf, server.shares, server.env (for smbstatus etc.)
    finally: server.stop()
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

from tests.support.net import wait_for_port
from tests.support.peers import require_tool, stop_process, terminate_pid

NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_FIRST_TEST_UID = 61000


@dataclass
class SambaServer:
    """A running standalone smbd; ``stop()`` ends it and waits for it.

    ``process`` is smbd itself when it runs as pytest's child, None for a daemon (found through its pid file,
    which a restart by server_ports rewrites)."""

    process: Optional[subprocess.Popen]
    conf: Path
    ports: list
    shares: dict
    users: dict
    log: Path
    env: dict = field(default_factory=dict)
    owned_dirs: list = field(default_factory=list)

    @property
    def pidfile(self) -> Path:
        return self.conf.parent / "pid" / "smbd.pid"

    def pid(self) -> Optional[int]:
        """The main smbd's pid: the child's, or the daemon's from its pid file if there is one."""
        if self.process is not None:
            return self.process.pid
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the main smbd (it stops its children) and wait for it; remove the directories it was given."""
        if self.process is not None:
            stop_process(self.process, timeout=timeout)
        else:
            pid = self.pid()
            if pid is not None:
                terminate_pid(pid, timeout)
        for directory in self.owned_dirs:
            shutil.rmtree(directory, ignore_errors=True)


def _nss_wrapper_env(root: Path, users: dict) -> dict:
    """Files for nss_wrapper: root, nobody and the test users (uid 61000+), with one group each."""
    if not os.path.exists(NSS_WRAPPER):
        pytest.fail(
            "nss_wrapper is missing: install the Debian package libnss-wrapper (apt-get install libnss-wrapper)"
        )
    # smbd also looks up its guest account (nobody) at start, even with guest access off.
    passwd = ["root:x:0:0:root:/root:/bin/sh", "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin"]
    group = ["root:x:0:", "nogroup:x:65534:"]
    for offset, name in enumerate(sorted(users)):
        uid = _FIRST_TEST_UID + offset
        passwd.append("%s:x:%d:%d:%s:%s:/bin/false" % (name, uid, uid, name, root))
        group.append("%s:x:%d:" % (name, uid))
    (root / "passwd").write_text("\n".join(passwd) + "\n")
    (root / "group").write_text("\n".join(group) + "\n")
    env = dict(os.environ)
    env.update(
        LD_PRELOAD=NSS_WRAPPER,
        NSS_WRAPPER_PASSWD=str(root / "passwd"),
        NSS_WRAPPER_GROUP=str(root / "group"),
    )
    return env


def write_smb_conf(root: Path, ports: list, shares: dict, extra_globals: dict) -> Path:
    """``root/smb.conf`` for a standalone smbd on loopback ``ports``, its directories under ``root``; written as
    testparm prints it (a tab before each parameter), since some tests edit it line by line. ``extra_globals``
    come last in [global], so they override the defaults (a later line wins in smb.conf)."""
    dirs = {name: root / name for name in ("private", "state", "lock", "cache", "pid", "ncalrpc")}
    for directory in dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "[global]",
        "netbios name = VERIFYTEST",
        "workgroup = WORKGROUP",
        "server role = standalone server",
        "smb ports = %s" % " ".join(str(port) for port in ports),
        "interfaces = lo",
        "bind interfaces only = yes",
        "private dir = %s" % dirs["private"],
        "state directory = %s" % dirs["state"],
        "lock directory = %s" % dirs["lock"],
        "cache directory = %s" % dirs["cache"],
        "pid directory = %s" % dirs["pid"],
        "ncalrpc dir = %s" % dirs["ncalrpc"],
        "passdb backend = tdbsam:%s" % (dirs["private"] / "passdb.tdb"),
        "log file = %s" % (root / "log.smbd"),
        "log level = 1",
        "map to guest = Never",
        "load printers = no",
        "printing = bsd",
        "printcap name = /dev/null",
        "disable spoolss = yes",
        "disable netbios = yes",
        "server min protocol = SMB2_02",
        "max connections = 0",
    ]
    lines += ["%s = %s" % item for item in extra_globals.items()]
    text = [lines[0]] + ["\t" + line for line in lines[1:]] + [""]
    for name, path in shares.items():
        Path(path).mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o777)
        text += ["[%s]" % name, "\tpath = %s" % path, "\tread only = no", "\tguest ok = no", ""]
    conf = root / "smb.conf"
    conf.write_text("\n".join(text))
    return conf


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM smbd when pytest dies, even by SIGKILL or a timeout,
    since its own session keeps it out of reach of signals sent to pytest's process group."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_samba(
    tmp_path: Path,
    ports: list,
    users: dict,
    shares: dict | None = None,
    extra_globals: dict | None = None,
    timeout: float = 30.0,
    *,
    daemon: bool = False,
    ready: Optional[Callable[[int], bool]] = None,
) -> SambaServer:
    """Start smbd listening on ``ports`` (127.0.0.1 only) with ``users`` ({name: password}) and ``shares``
    ({name: directory}; default: one share ``data``); ``extra_globals`` adds [global] options, such as
    ``{"server max protocol": "SMB3_00"}``. Return a SambaServer; call ``stop()``.

    ``daemon``: ``smbd -D`` instead of a child (see the module's docstring); ``ready(port)`` is then the
    caller's idea of "serving" (listening, or answering SMB), checked once smbd wrote its pid file.

    smbd works in a share as the logged-in user (uid 61000+), so every directory above a share you pass must
    be traversable by others (pytest's tmp_path is not: its root is mode 0700)."""
    smbd = require_tool("smbd", "samba")
    if daemon and users:
        raise ValueError("a daemon smbd has no users of its own: server_ports restarts it without nss_wrapper")
    root = tmp_path / "samba"
    root.mkdir(parents=True, exist_ok=True)
    owned_dirs = []
    if shares is None:
        # smbd enters a share as the logged-in user, who cannot traverse pytest's 0700 tmp_path: the default
        # share lives in its own world-traversable directory, removed by stop().
        share_root = tempfile.mkdtemp(prefix="verify-samba-share-")
        os.chmod(share_root, 0o755)
        owned_dirs.append(share_root)
        shares = {"data": os.path.join(share_root, "data")}
    conf = write_smb_conf(root, ports, shares, extra_globals or {})
    if daemon:
        require_tool("testparm", "samba-common-bin")  # the samba backend validates every smb.conf with it
        return _start_daemon(smbd, conf, list(ports), shares, owned_dirs, timeout, ready)
    smbpasswd = require_tool("smbpasswd", "samba-common-bin")
    env = _nss_wrapper_env(root, users)
    for name, password in users.items():
        subprocess.run(
            [smbpasswd, "-c", str(conf), "-s", "-a", name],
            input="%s\n%s\n" % (password, password),
            env=env,
            text=True,
            capture_output=True,
            timeout=30,
            check=True,
        )
    log = root / "smbd.stdout"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [smbd, "--foreground", "--no-process-group", "--debug-stdout", "-s", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            # smbd signals its whole process group when it exits: give it its own, or it takes pytest along.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    server = SambaServer(process, conf, list(ports), shares, users, log, env, owned_dirs)
    try:
        for port in ports:
            wait_for_port(port, process, timeout, log)
    except BaseException:
        server.stop()
        raise
    return server


def _start_daemon(
    smbd: str,
    conf: Path,
    ports: list,
    shares: dict,
    owned_dirs: list,
    timeout: float,
    ready: Optional[Callable[[int], bool]],
) -> SambaServer:
    subprocess.run([smbd, "-D", "-s", str(conf)], timeout=30, check=True)
    server = SambaServer(None, conf, ports, shares, {}, conf.parent / "log.smbd", dict(os.environ), owned_dirs)
    deadline = time.monotonic() + timeout
    for port in ports:
        while not (server.pidfile.exists() and (ready(port) if ready else _listens(port))):
            if time.monotonic() > deadline:
                server.stop()
                raise AssertionError(f"smbd did not serve on {port} within {timeout:g} s")
            time.sleep(0.2)
    return server


def _listens(port: int) -> bool:
    try:
        wait_for_port(port, None, 0.5)
    except RuntimeError:
        return False
    return True


@contextmanager
def daemon_smbds(tmp_path: Path, ready: Callable[[int], bool]) -> Iterator[Callable[[int], Path]]:
    """For a fixture: ``start(port)`` starts a daemon smbd (``start_samba(daemon=True)``) serving once
    ``ready(port)``, and returns its smb.conf; every one is stopped at the end, whichever pid server_ports left
    it with."""
    started: List[SambaServer] = []

    def start(port: int) -> Path:
        started.append(start_samba(tmp_path, [port], {}, daemon=True, ready=ready, timeout=20))
        return started[-1].conf

    try:
        yield start
    finally:
        for server in started:
            server.stop(timeout=15)
