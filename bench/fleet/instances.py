"""A fleet of pysmbd instances on one machine: one per loopback address 127.0.1.N, each with its own files.

Each instance N lives in ``<work>/hostNNN/`` (``pysmbd.toml``, ``state/`` with its pidfile, status and log,
``share/``) and listens on ``127.0.1.N:<port>``. All instances share one users file with a generated
password (it never leaves ``<work>``). The whole 127.0.0.0/8 block is loopback on Linux, so nothing needs to be
added to an interface.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.peers import terminate_pid
from tests.support.pysmbd_server import PysmbdServer, pysmbd_listening_ports

MAX_INSTANCES = 254  # 127.0.1.1 .. 127.0.1.254


@dataclass(frozen=True)
class Instance:
    number: int
    root: Path

    @property
    def name(self) -> str:
        return f"fleet{self.number:03d}"

    @property
    def address(self) -> str:
        return f"127.0.1.{self.number}"

    @property
    def config(self) -> Path:
        return self.root / "pysmbd.toml"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "pysmbd.pid"

    def pid(self) -> Optional[int]:
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None


def instances(work: Path, count: int) -> List[Instance]:
    if not 1 <= count <= MAX_INSTANCES:
        raise ValueError(f"count must be 1-{MAX_INSTANCES} (one address per instance in 127.0.1.0/24)")
    return [Instance(n, work / f"host{n:03d}") for n in range(1, count + 1)]


def port_free_everywhere(port: int, addresses: Iterable[str]) -> bool:
    """True when ``port`` can be bound on every address (nothing else holds it, not even on 0.0.0.0)."""
    for address in addresses:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def pick_ports(fleet: List[Instance], wanted: int, start: int = 24000) -> List[int]:
    """``wanted`` port numbers free on every instance's address (fixed numbers make the fleet's table uniform)."""
    addresses = [i.address for i in fleet]
    found: List[int] = []
    port = start
    while len(found) < wanted:
        if port > 65000:
            raise RuntimeError("no free port found on every fleet address")
        if port_free_everywhere(port, addresses):
            found.append(port)
        port += 1
    return found


def pick_distinct_ports(fleet: List[Instance], start: int, avoid: Iterable[int] = ()) -> Dict[str, int]:
    """A different free port for each instance (on its own address), as if every host were its own machine."""
    taken = set(avoid)
    chosen: Dict[str, int] = {}
    port = start
    for instance in fleet:
        while port in taken or not port_free_everywhere(port, [instance.address]):
            port += 1
            if port > 65000:
                raise RuntimeError("ran out of ports")
        chosen[instance.name] = port
        taken.add(port)
        port += 1
    return chosen


def write_users(work: Path, pysmbd: str) -> str:
    """One account for the whole fleet; returns its (generated) password."""
    password = "Fleet-" + secrets.token_urlsafe(16)
    line = subprocess.run(
        [pysmbd, "hash-password", "--user", "fleet"],
        input=password,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if line.returncode != 0:
        raise RuntimeError(f"pysmbd hash-password failed: {line.stderr.strip()}")
    users = work / "users"
    users.write_text(line.stdout)
    users.chmod(0o600)
    return password


def write_config(instance: Instance, users: Path, port: int) -> None:
    """The instance's pysmbd.toml, written as the tests write theirs (tests/support/pysmbd_server.py)."""
    server = PysmbdServer(
        instance.root,
        instance.config,
        [port],
        address=instance.address,
        users_file=users,
        server_settings=f'name = "{instance.name.upper()}"\nmax_connections = 100',
        share_settings="read_only = false",
    )
    server.share.mkdir(parents=True, exist_ok=True)
    instance.state_dir.mkdir(parents=True, exist_ok=True)
    server.write_config()


def start(instance: Instance, pysmbd: str) -> None:
    done = subprocess.run(
        [pysmbd, "serve", "--config", str(instance.config), "--daemon"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{instance.name} ({instance.address}) did not start: {done.stderr.strip()}")


def stop(instance: Instance, timeout: float = 15.0) -> None:
    pid = instance.pid()
    if pid is not None:
        terminate_pid(pid, timeout)


def up(work: Path, count: int, pysmbd: str, port: int, parallel: int = 8) -> List[Instance]:
    """Write every instance's files and start them all (``parallel`` at a time)."""
    work.mkdir(parents=True, exist_ok=True)
    fleet = instances(work, count)
    users = work / "users"
    for instance in fleet:
        write_config(instance, users, port)
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda i: start(i, pysmbd), fleet))
    return fleet


def down(work: Path, parallel: int = 16) -> int:
    """Stop every instance that has a pidfile under ``work``; returns how many were asked to stop."""
    fleet = sorted(work.glob("host[0-9][0-9][0-9]"))
    found = [Instance(int(p.name[4:]), p) for p in fleet]
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(stop, found))
    return len(found)


def remove(work: Path) -> None:
    down(work)
    shutil.rmtree(work, ignore_errors=True)


def pss_kib(pids: Iterable[int]) -> int:
    """Proportional set size summed over ``pids`` (what the fleet really costs in memory)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total


def listening_ports(instance: Instance, pysmbd: str) -> List[int]:
    """The ports the instance says it listens on now; none when it does not answer ``pysmbd status``."""
    try:
        return pysmbd_listening_ports(instance.config)
    except (json.JSONDecodeError, KeyError):  # not running: no status document, or one without listeners
        return []


def write_inventory(
    fleet: List[Instance],
    path: Path,
    python: str,
    pysmbd: str,
    old_port: int,
    new_port: int,
    new_ports: Optional[Dict[str, int]] = None,
    target_python: Optional[str] = None,
) -> None:
    """A JSON inventory: every instance a host reached over the local connection.

    ``new_ports`` gives some hosts their own new port instead of the fleet-wide ``new_port``. ``target_python``
    runs the fleet hosts' modules (the controller, implicit localhost, keeps ``python``).
    """
    hosts = {
        i.name: {
            "ansible_host": i.address,
            "fleet_config": str(i.config),
            "fleet_state_dir": str(i.state_dir),
            **({"fleet_new_port": new_ports[i.name]} if new_ports and i.name in new_ports else {}),
        }
        for i in fleet
    }
    inventory = {
        "all": {
            "children": {
                "fleet": {
                    "hosts": hosts,
                    **({"vars": {"ansible_python_interpreter": target_python}} if target_python else {}),
                }
            },
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": python,
                "fleet_pysmbd": pysmbd,
                "fleet_old_port": old_port,
                "fleet_new_port": new_port,
            },
        }
    }
    path.write_text(json.dumps(inventory, indent=1))
