"""Real peers for the verify tests: Samba's smbd on alternative ports, a blackholed namespace, an HTTP server.

``start_samba(tmp_path, ports, users, shares=None, extra_globals=None)`` is meant to be reused:

    from tests.integration.verify.conftest import free_tcp_ports, start_samba

    server = start_samba(tmp_path, free_tcp_ports(2), {"alice": "Secret-1"})
    try: ...                      # server.ports, server.conf, server.shares, server.env (for smbstatus etc.)
    finally: server.stop()

It starts a standalone smbd that touches nothing outside ``tmp_path`` (and the default share's own temporary
directory): its own smb.conf with private, state, lock, cache and pid directories, ``interfaces = lo`` with
``bind interfaces only``. Its users exist only for that smbd: nss_wrapper (Debian package libnss-wrapper)
gives smbd and smbpasswd a passwd and group file under ``tmp_path``, so no system account is created.
"""

from __future__ import annotations

import ctypes
import http.server
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Also imported from here by bench/verify and bench/peers.py: keep these names importable from this module.
from tests.support.net import free_tcp_ports, wait_for_port
from tests.support.peers import require_tool, stop_process

NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_FIRST_TEST_UID = 61000


@dataclass
class SambaServer:
    """A running standalone smbd; ``stop()`` ends it and waits for it."""

    process: subprocess.Popen
    conf: Path
    ports: list
    shares: dict
    users: dict
    log: Path
    env: dict = field(default_factory=dict)
    owned_dirs: list = field(default_factory=list)

    def stop(self) -> None:
        stop_process(self.process, timeout=10)
        for directory in self.owned_dirs:
            shutil.rmtree(directory, ignore_errors=True)


def _nss_wrapper_env(root: Path, users: dict) -> dict:
    """Files for nss_wrapper: root, nobody and the test users (uid 61000+), with one group each."""
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


def _smb_conf(root: Path, ports: list, shares: dict, extra_globals: dict) -> str:
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
    lines.append("")
    for name, path in shares.items():
        Path(path).mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o777)
        lines += ["[%s]" % name, "path = %s" % path, "read only = no", "guest ok = no", ""]
    return "\n".join(lines)


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
):
    """Start smbd listening on ``ports`` (127.0.0.1 only) with ``users`` ({name: password}) and ``shares``
    ({name: directory}; default: one share ``data``); ``extra_globals`` adds [global] options, such as
    ``{"server max protocol": "SMB3_00"}``. Return a SambaServer; call ``stop()``.

    smbd works in a share as the logged-in user (uid 61000+), so every directory above a share you pass must
    be traversable by others (pytest's tmp_path is not: its root is mode 0700)."""
    smbd = require_tool("smbd", "samba")
    smbpasswd = require_tool("smbpasswd", "samba-common-bin")
    if not os.path.exists(NSS_WRAPPER):
        pytest.fail(
            "nss_wrapper is missing: install the Debian package libnss-wrapper (apt-get install libnss-wrapper)"
        )
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
    conf = root / "smb.conf"
    conf.write_text(_smb_conf(root, ports, shares, extra_globals or {}))
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


SAMBA_USER = "verifier"
SAMBA_PASSWORD = "Corr3ct-Horse-Battery"


@pytest.fixture(scope="package")
def samba(tmp_path_factory):
    """One smbd for the package, on two free alternative ports, with user ``verifier`` and share ``data``."""
    ports = free_tcp_ports(2)
    server = start_samba(tmp_path_factory.mktemp("verify-samba"), ports, {SAMBA_USER: SAMBA_PASSWORD})
    yield server
    server.stop()


def _run(*args: str, stdin: str | None = None) -> None:
    subprocess.run(list(args), input=stdin, text=True, capture_output=True, timeout=30, check=True)


@dataclass
class Blackhole:
    """A network namespace at ``address`` (reached over a veth pair) whose firewall drops every TCP packet,
    except that ``reject_port`` answers with ICMP host-unreachable."""

    namespace: str
    address: str
    reject_port: int


@pytest.fixture
def blackhole():
    ip = require_tool("ip", "iproute2")
    nft = require_tool("nft", "nftables")
    tag = "%05d" % (os.getpid() % 100000)
    namespace, outer, inner = "vfy-ns-" + tag, "vfyo" + tag, "vfyi" + tag
    # A random /30 in 198.18.0.0/15 (benchmarking range): nothing real lives there, and parallel runs rarely clash.
    base = (198 << 24) | (18 << 16) | (random.randrange(1 << 15) << 2)
    outer_ip, inner_ip = socket.inet_ntoa(struct.pack(">I", base + 1)), socket.inet_ntoa(struct.pack(">I", base + 2))
    reject_port = 4446
    try:
        _run(ip, "netns", "add", namespace)
        _run(ip, "link", "add", outer, "type", "veth", "peer", "name", inner)
        _run(ip, "link", "set", inner, "netns", namespace)
        _run(ip, "addr", "add", outer_ip + "/30", "dev", outer)
        _run(ip, "link", "set", outer, "up")
        _run(ip, "-n", namespace, "addr", "add", inner_ip + "/30", "dev", inner)
        _run(ip, "-n", namespace, "link", "set", inner, "up")
        _run(ip, "-n", namespace, "link", "set", "lo", "up")
        rules = (
            "table inet verify_blackhole {\n chain input {\n  type filter hook input priority 0; policy accept;\n"
            "  tcp dport %d reject with icmp type host-unreachable\n  meta l4proto tcp drop\n }\n}\n" % reject_port
        )
        _run(ip, "netns", "exec", namespace, nft, "-f", "-", stdin=rules)
    except subprocess.CalledProcessError as exc:
        subprocess.run([ip, "netns", "del", namespace], capture_output=True, timeout=30, check=False)
        subprocess.run([ip, "link", "del", outer], capture_output=True, timeout=30, check=False)
        pytest.fail("could not build the blackhole namespace (needs root): %s: %s" % (exc.cmd, exc.stderr))
    yield Blackhole(namespace, inner_ip, reject_port)
    subprocess.run([ip, "netns", "del", namespace], capture_output=True, timeout=30, check=False)
    subprocess.run([ip, "link", "del", outer], capture_output=True, timeout=30, check=False)


class _QuietHttpHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def http_server():
    """Python's own HTTP server on a free loopback port; yields the port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _QuietHttpHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
