"""Start pysmbd and Samba's smbd for the load benchmark, each on its own free loopback port, and measure them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

USER, PASSWORD = "load", "Load-Passw0rd"
PYSMBD = str(Path(sys.executable).with_name("pysmbd"))
NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def need(tool: str, package: str) -> str:
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if not found:
        sys.exit(f"{tool} is missing: apt-get install {package}")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode} before listening on port {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on port {port} within 30 s")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    def tree(self) -> List[int]:
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

    def memory(self) -> Dict[str, float]:
        """RSS and PSS in MiB summed over the process tree (PSS splits shared pages fairly between smbd children)."""
        rss = pss = 0
        for pid in self.tree():
            try:
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
            except (OSError, ValueError):
                continue
        return {"rss_mib": rss / 2**20, "pss_mib": pss / 2**20, "processes": len(self.tree())}

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / TICKS
            except (OSError, IndexError, ValueError):
                continue
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.name == "samba":
                os.killpg(self.process.pid, signal.SIGTERM)  # smbd's children share its session
            else:
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start_pysmbd(work: Path, *, max_connections: int) -> Server:
    root = work / "pysmbd"
    share = root / "share"
    share.mkdir(parents=True)
    line = subprocess.run(
        [PYSMBD, "hash-password", "--user", USER], input=PASSWORD + "\n", capture_output=True, text=True, check=True
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
    process = subprocess.Popen(
        [PYSMBD, "serve", "--config", str(config), "--log-file", str(log), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process, "pysmbd")
    return Server("pysmbd", port, process, log)


def start_smbd(work: Path) -> Server:
    """A standalone smbd with its own smb.conf and private dirs; its user exists only through nss_wrapper."""
    smbd, smbpasswd = need("smbd", "samba"), need("smbpasswd", "samba-common-bin")
    if not os.path.exists(NSS_WRAPPER):
        sys.exit("nss_wrapper is missing: apt-get install libnss-wrapper")
    root = work / "samba"
    dirs = {name: root / name for name in ("private", "state", "lock", "cache", "pid", "ncalrpc", "share")}
    for directory in dirs.values():
        directory.mkdir(parents=True)
    root.chmod(0o755)
    (root / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        f"{USER}:x:61000:61000:{USER}:{root}:/bin/false\n"
    )
    (root / "group").write_text(f"root:x:0:\nnogroup:x:65534:\n{USER}:x:61000:\n")
    os.chown(dirs["share"], 61000, 61000)
    env = {**os.environ, "LD_PRELOAD": NSS_WRAPPER, "NSS_WRAPPER_PASSWD": str(root / "passwd")}
    env["NSS_WRAPPER_GROUP"] = str(root / "group")
    port = free_port()
    conf = root / "smb.conf"
    settings = {
        "netbios name": "LOADSMBD",
        "server role": "standalone server",
        "smb ports": port,
        "interfaces": "lo",
        "bind interfaces only": "yes",
        "private dir": dirs["private"],
        "state directory": dirs["state"],
        "lock directory": dirs["lock"],
        "cache directory": dirs["cache"],
        "pid directory": dirs["pid"],
        "ncalrpc dir": dirs["ncalrpc"],
        "passdb backend": f"tdbsam:{dirs['private'] / 'passdb.tdb'}",
        "log file": root / "log.smbd",
        "log level": "0",
        "server signing": "mandatory",
        "server min protocol": "SMB2_02",
        "load printers": "no",
        "printcap name": "/dev/null",
        "disable spoolss": "yes",
        "disable netbios": "yes",
        "map to guest": "Never",
    }
    conf.write_text(
        "[global]\n"
        + "".join(f"{key} = {value}\n" for key, value in settings.items())
        + f"[data]\npath = {dirs['share']}\nread only = no\n"
    )
    subprocess.run(
        [smbpasswd, "-c", str(conf), "-s", "-a", USER],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        env=env,
        text=True,
        capture_output=True,
        check=True,
        timeout=30,
    )
    process = subprocess.Popen(
        [smbd, "--foreground", "--no-process-group", "-s", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    wait_for_port(port, process, "smbd")
    return Server("samba", port, process, root / "log.smbd")
