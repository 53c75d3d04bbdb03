"""The servers the benchmarks compare, each on its own free loopback port: pysmbd, and Samba's smbd.

smbd comes from the verify tests' ``start_samba`` (standalone, own smb.conf and private dirs, users only
through nss_wrapper); this module adds what the benchmarks measure: the process tree's CPU time and memory.
"""

from __future__ import annotations

import importlib
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
# The top conftest first, as pytest would: it sets up what the tests assume (collection link, venv first on PATH).
importlib.import_module("tests.conftest")
from tests.integration.verify import conftest as verify_peers  # noqa: E402

PYSMBD = str(Path(sys.executable).with_name("pysmbd"))
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
    return verify_peers.free_tcp_ports(1)[0]


def wait_for_port(port: int, process: subprocess.Popen, what: str, log: Optional[Path] = None) -> None:
    try:
        verify_peers.wait_for_port(port, process, 30, log)
    except RuntimeError as error:  # a benchmark reports and exits, it has no test to fail
        sys.exit(f"{what}: {error}")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path
    samba: Optional[verify_peers.SambaServer] = None

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


def start_pysmbd(
    work: Path,
    share: Path,
    *,
    user: str,
    password: str,
    max_connections: int = 5000,
    profile_to: Optional[Path] = None,
) -> Server:
    """pysmbd with one signed share ``data`` at ``share``; ``profile_to`` runs it under cProfile."""
    root = work / "pysmbd"
    root.mkdir(parents=True, exist_ok=True)
    share.mkdir(parents=True, exist_ok=True)
    line = subprocess.run(
        [PYSMBD, "hash-password", "--user", user], input=password + "\n", capture_output=True, text=True, check=True
    )
    (root / "users").write_text(line.stdout)
    port = free_port()
    config = root / "pysmbd.toml"
    config.write_text(
        f'[server]\nusers_file = "{root / "users"}"\nstate_dir = "{root / "state"}"\n'
        f"require_signing = true\nmax_connections = {max_connections}\n"
        f'[[listeners]]\naddress = "127.0.0.1"\nport = {port}\n'
        f'[[shares]]\nname = "data"\npath = "{share}"\n'
    )
    log = root / "pysmbd.log"
    command = [PYSMBD, "serve", "--config", str(config), "--log-file", str(log), "--log-level", "warning"]
    if profile_to is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile_to), "-m", "pysmbd", *command[1:]]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process, "pysmbd", log)
    return Server("pysmbd", port, process, log)


def start_smbd(work: Path, share: Path, *, user: str, password: str) -> Server:
    """A standalone smbd (``start_samba``) with one share ``data`` at ``share``, requiring signing."""
    # Checked here too: start_samba would fail a test, a benchmark exits with the package to install.
    need("smbd", "samba")
    need("smbpasswd", "samba-common-bin")
    if not os.path.exists(verify_peers.NSS_WRAPPER):
        sys.exit("nss_wrapper is missing: apt-get install libnss-wrapper")
    port = free_port()
    try:
        samba = verify_peers.start_samba(work, [port], {user: password}, {"data": share}, SMBD_GLOBALS)
    except RuntimeError as error:
        sys.exit(f"smbd: {error}")
    return Server("samba", port, samba.process, samba.log, samba)
