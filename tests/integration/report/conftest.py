"""A small fleet for the report tests: two pysmbd servers on their own loopback addresses and one Samba.

The report is only as real as the verify results it is made of, so ``fleet_run`` starts real servers, runs a
playbook that verifies the whole fleet, moves one server to a new port with server_ports, verifies again, and
writes the report of both phases. The tests then read the files it wrote with the tools a person would use:
Chromium, ndiff and xsltproc.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

import pytest

from tests.integration.verify.conftest import start_samba
from tests.support.ansible_run import PlayRun, run_playbook
from tests.support.net import free_tcp_ports
from tests.support.peers import pysmbd_command, pysmbd_users_line, terminate_pid

USER = "reporter"
PASSWORD = "Fleet-rep0rt-pa55"
# The whole 127.0.0.0/8 block is loopback on Linux: each pysmbd host gets its own address, as in bench/fleet.
PYSMBD_ADDRESSES = {"fs1": "127.0.3.1", "fs2": "127.0.3.2"}


@dataclass
class PysmbdHost:
    name: str
    address: str
    config: Path
    state_dir: Path

    def stop(self) -> None:
        pidfile = self.state_dir / "pysmbd.pid"
        if pidfile.exists():
            terminate_pid(int(pidfile.read_text().strip()))


def start_pysmbd(root: Path, name: str, address: str, port: int) -> PysmbdHost:
    """``pysmbd serve --daemon`` on ``address:port`` with one share, as server_ports' pysmbd backend expects."""
    home = root / name
    (home / "share").mkdir(parents=True)
    users = home / "users"
    users.write_text(pysmbd_users_line(USER, PASSWORD))
    config = home / "pysmbd.toml"
    config.write_text(
        f'[server]\nname = "{name.upper()}"\nusers_file = "{users}"\nstate_dir = "{home / "state"}"\n\n'
        f'[[listeners]]\ntransport = "tcp"\naddress = "{address}"\nport = {port}\n\n'
        f'[[shares]]\nname = "data"\npath = "{home / "share"}"\nread_only = false\n'
    )
    subprocess.run([pysmbd_command(), "serve", "--config", str(config), "--daemon"], timeout=60, check=True)
    return PysmbdHost(name, address, config, home / "state")


@dataclass
class FleetRun:
    """What the playbook did: its results, the files the report wrote, and the ports each host used."""

    run: PlayRun
    out: Path
    ports: Dict[str, int] = field(default_factory=dict)
    """``old`` and ``new`` (fs1 moves from one to the other), ``fs2`` and ``samba`` (they stay)."""
    hosts: List[str] = field(default_factory=list)

    def result(self, task: str, host: str = "fs1") -> dict:
        assert task in self.run.results, f"task {task!r} did not run:\n{self.run.stdout[-4000:]}"
        return self.run.results[task][host]


def _playbook(fs1: PysmbdHost) -> list:
    report = {
        "phases": [{"name": "before", "results_var": "proof_before"}, {"name": "after", "results_var": "proof_after"}],
        "title": "Moving fs1 to a new port",
        "html": "{{ out }}/fleet.html",
        "nmap_xml": "{{ out }}/fleet-{phase}.xml",
        "markdown": "{{ out }}/fleet.md",
    }
    verify = {
        "host": "{{ ansible_host }}",
        "fail_on_mismatch": False,
    }
    return [
        {
            "hosts": "fleet",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "verify before",
                    "smb.alternative_ports.verify": {**verify, "endpoints": "{{ endpoints_before }}"},
                    "register": "proof_before",
                },
                {
                    "name": "move fs1",
                    "smb.alternative_ports.server_ports": {
                        "backend": "pysmbd",
                        "config_path": str(fs1.config),
                        "executable": pysmbd_command(),
                        "address": fs1.address,
                        "ports": [{"transport": "tcp", "port": "{{ new_port }}"}],
                        "exclusive": True,
                    },
                    "when": "inventory_hostname == 'fs1'",
                },
                {
                    "name": "verify after",
                    "smb.alternative_ports.verify": {**verify, "endpoints": "{{ endpoints_after }}"},
                    "register": "proof_after",
                },
                {"name": "report", "smb.alternative_ports.report": report, "diff": True},
                {"name": "report again", "smb.alternative_ports.report": report},
                {
                    "name": "report in check mode",
                    "smb.alternative_ports.report": {**report, "html": "{{ out }}/check/fleet.html"},
                    "check_mode": True,
                    "diff": True,
                },
            ],
        }
    ]


def _inventory(out: Path, hosts: Dict[str, str], ports: Dict[str, int]) -> dict:
    old, new = ports["old"], ports["new"]
    common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    fs1_before = [{"port": old}, {"port": new, "expect": "closed"}]
    fs1_after = [{"port": new}, {"port": old, "expect": "closed"}]
    stays = {"fs2": [{"port": ports["fs2"]}], "samba": [{"port": ports["samba"]}]}
    host_vars = {
        "fs1": {"endpoints_before": fs1_before, "endpoints_after": fs1_after, "new_port": new},
        "fs2": {"endpoints_before": stays["fs2"], "endpoints_after": stays["fs2"]},
        "samba": {"endpoints_before": stays["samba"], "endpoints_after": stays["samba"]},
    }
    return {
        "fleet": {
            "hosts": {name: {"ansible_host": address, **host_vars[name]} for name, address in hosts.items()},
            "vars": {**common, "out": str(out)},
        }
    }


@pytest.fixture(scope="package")
def fleet_run(tmp_path_factory) -> FleetRun:
    root = tmp_path_factory.mktemp("report-fleet")
    out = root / "out"
    (out / "check").mkdir(parents=True)
    old, new, fs2_port, samba_port = free_tcp_ports(4)
    ports = {"old": old, "new": new, "fs2": fs2_port, "samba": samba_port}
    servers = []
    samba = None
    try:
        fs1 = start_pysmbd(root, "fs1", PYSMBD_ADDRESSES["fs1"], old)
        servers.append(fs1)
        servers.append(start_pysmbd(root, "fs2", PYSMBD_ADDRESSES["fs2"], fs2_port))
        samba = start_samba(root, [samba_port], {USER: PASSWORD})  # listens on 127.0.0.1 (interfaces = lo)
        for server, port in ((fs1, old), (servers[1], fs2_port)):
            _wait_listening(server, port)
        hosts = {"fs1": fs1.address, "fs2": servers[1].address, "samba": "127.0.0.1"}
        playbook = root / "fleet.yml"
        playbook.write_text(json.dumps(_playbook(fs1), indent=2))  # JSON is YAML
        inventory = root / "inventory.yml"
        inventory.write_text(json.dumps(_inventory(out, hosts, ports), indent=2))
        run = run_playbook(playbook, inventory, timeout=240)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        yield FleetRun(run, out, ports, list(hosts))
    finally:
        for server in servers:
            server.stop()
        if samba is not None:
            samba.stop()


def _wait_listening(server: PysmbdHost, port: int) -> None:
    """pysmbd --daemon returns before its listeners are bound; wait for the one on the host's own address."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection((server.address, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"pysmbd {server.name} did not listen on {server.address}:{port}") from None
            time.sleep(0.1)
