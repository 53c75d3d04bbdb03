"""The servers the benchmarks compare, each on its own free loopback port: pysmbd, and Samba's smbd.

Both are started as the tests start them (tests/support/pysmbd_server.py and tests/support/samba.py: smbd
standalone, own smb.conf and private dirs, users only through nss_wrapper); this module adds what the benchmarks
measure: the process tree's CPU time and memory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import pytest  # noqa: E402  (the starters fail a test with pytest.fail; a benchmark exits with the message)

from tests.support.collection import use_checkout_as_collection  # noqa: E402
from tests.support.net import free_tcp_ports  # noqa: E402
from tests.support.pysmbd_server import start_pysmbd as start_pysmbd_server  # noqa: E402
from tests.support.samba import NSS_WRAPPER, SambaServer, start_samba  # noqa: E402

# As pytest would: what the tests assume (the collection on sys.path, this venv first on PATH).
use_checkout_as_collection()

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
# What the benchmarks add to start_samba's smb.conf; a later line wins in smb.conf, so these override its defaults.
SMBD_GLOBALS = {"server signing": "mandatory", "log level": "0"}


def need(tool: str, package: str) -> str:
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if not found:
        sys.exit(f"{tool} is missing: apt-get install {package}")
    return found


def free_port() -> int:
    return free_tcp_ports(1)[0]


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path
    samba: Optional[SambaServer] = None

    def pids(self) -> List[int]:
        """The server's pid and its descendants (smbd forks one child per connection)."""
        children: Dict[int, List[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its children, reaped or alive (robust to other load)."""
        ticks = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
                if pid == self.process.pid:
                    ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: children already reaped
            except (OSError, IndexError, ValueError):
                continue
        return ticks / TICKS

    def memory(self) -> Dict[str, float]:
        """RSS and PSS in MiB summed over the process tree (PSS splits shared pages fairly between smbd children)."""
        pids = self.pids()
        rss = pss = 0
        for pid in pids:
            try:
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
            except (OSError, ValueError):
                continue
        return {"rss_mib": rss / 2**20, "pss_mib": pss / 2**20, "processes": len(pids)}

    def stop(self) -> None:
        # smbd leads its own session, so its whole process group is the server: signal every child too.
        def signal_server(signum: int) -> None:
            if self.samba is not None:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)

        if self.process.poll() is None:
            signal_server(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                signal_server(signal.SIGKILL)
                self.process.wait(timeout=30)
        if self.samba is not None:
            self.samba.stop()  # the process is gone by now: this only removes directories start_samba made


def _per_address_cap(max_connections: int) -> str:
    """Every client of a benchmark comes from 127.0.0.1: the per-address cap must not be what is measured. A tree
    from before issue 14 (an A/B run on PYTHONPATH) has no such cap, and its config refuses the key."""
    if importlib.util.find_spec("pysmbd.server.admission") is None:
        return ""
    return f"\nmax_connections_per_address = {max_connections}"


def start_pysmbd(
    work: Path,
    share: Path,
    *,
    user: str,
    password: str,
    max_connections: int = 5000,
    profile_to: Optional[Path] = None,
    workers: str = "1",
) -> Server:
    """pysmbd with one signed share ``data`` at ``share``; ``profile_to`` runs it under cProfile."""
    try:
        server = start_pysmbd_server(
            work / "pysmbd",
            user,
            password,
            [free_port()],
            share=share,
            server_settings=(
                f"require_signing = true\nmax_connections = {max_connections}{_per_address_cap(max_connections)}"
                + ("" if workers == "1" else f"\nworkers = {workers if workers.isdigit() else repr(workers)}")
            ),
            log_level="warning",
            profile_to=profile_to,
        )
    except pytest.fail.Exception as error:  # a benchmark reports and exits, it has no test to fail
        sys.exit(f"pysmbd: {error}")
    return Server("pysmbd", server.tcp_port, server.process, server.log)


def start_smbd(work: Path, share: Path, *, user: str, password: str) -> Server:
    """A standalone smbd (``start_samba``) with one share ``data`` at ``share``, requiring signing."""
    # Checked here too: start_samba would fail a test, a benchmark exits with the package to install.
    need("smbd", "samba")
    need("smbpasswd", "samba-common-bin")
    if not os.path.exists(NSS_WRAPPER):
        sys.exit("nss_wrapper is missing: apt-get install libnss-wrapper")
    port = free_port()
    try:
        samba = start_samba(work, [port], {user: password}, {"data": share}, SMBD_GLOBALS)
    except (RuntimeError, pytest.fail.Exception) as error:
        sys.exit(f"smbd: {error}")
    return Server("samba", port, samba.process, samba.log, samba)
