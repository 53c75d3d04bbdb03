"""A small fleet for the report tests: two pysmbd servers on their own loopback addresses and one Samba.

The report is only as real as the verify results it is made of, so ``fleet_run`` starts real servers, runs a
playbook that verifies the whole fleet, moves one server to a new port with server_ports, verifies again, and
writes the report of both phases. The tests then read the files it wrote with the tools a person would use:
Chromium, ndiff and xsltproc.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from tests.integration.verify.conftest import start_samba
from tests.support.ansible_run import PlayRun, run_playbook
from tests.support.net import free_tcp_ports, free_udp_port
from tests.support.peers import pysmbd_command, pysmbd_listening_ports, pysmbd_users_line, terminate_pid

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
    fingerprint: Optional[str] = None
    """SHA-256 of its QUIC certificate, when it has a QUIC listener."""

    def stop(self) -> None:
        pidfile = self.state_dir / "pysmbd.pid"
        if pidfile.exists():
            terminate_pid(int(pidfile.read_text().strip()))


def start_pysmbd(root: Path, name: str, address: str, port: int, quic_port: Optional[int] = None) -> PysmbdHost:
    """``pysmbd serve --daemon`` on ``address:port`` with one share, as server_ports' pysmbd backend expects, and
    SMB over QUIC on UDP ``quic_port`` with a self-signed certificate (its fingerprint in ``fingerprint``)."""
    home = root / name
    (home / "share").mkdir(parents=True)
    users = home / "users"
    users.write_text(pysmbd_users_line(USER, PASSWORD))
    listeners = f'[[listeners]]\ntransport = "tcp"\naddress = "{address}"\nport = {port}\n\n'
    fingerprint = None
    if quic_port is not None:
        cert, key, fingerprint = _self_signed(home, address)
        listeners += f'[[listeners]]\ntransport = "quic"\naddress = "{address}"\nport = {quic_port}\n\n'
        listeners += f'[quic]\ncertificate = "{cert}"\nprivate_key = "{key}"\n\n'
    config = home / "pysmbd.toml"
    config.write_text(
        f'[server]\nname = "{name.upper()}"\nusers_file = "{users}"\nstate_dir = "{home / "state"}"\n\n'
        f'{listeners}[[shares]]\nname = "data"\npath = "{home / "share"}"\nread_only = false\n'
    )
    subprocess.run([pysmbd_command(), "serve", "--config", str(config), "--daemon"], timeout=60, check=True)
    return PysmbdHost(name, address, config, home / "state", fingerprint)


def _self_signed(home: Path, address: str) -> tuple:
    """``pysmbd gen-cert`` for ``address``: (certificate, private key, SHA-256 fingerprint)."""
    cert, key = home / "quic-cert.pem", home / "quic-key.pem"
    done = subprocess.run(
        [pysmbd_command(), "gen-cert", "--cert", str(cert), "--key", str(key), "--name", address],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    fingerprint = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("sha256 "))
    return cert, key, fingerprint


@dataclass
class FleetRun:
    """What the playbook did: its results, the files the report wrote, and the ports each host used."""

    run: PlayRun
    out: Path
    ports: Dict[str, int] = field(default_factory=dict)
    """``old`` and ``new`` (fs1 moves from one to the other), ``fs2``, ``samba`` and fs2's UDP ``quic`` (they
    stay)."""
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
        "fingerprint_sha256": "{{ quic_fingerprint | default(omit) }}",
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


def _inventory(out: Path, hosts: Dict[str, str], ports: Dict[str, int], fingerprint: str) -> dict:
    old, new = ports["old"], ports["new"]
    common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    fs1_before = [{"port": old}, {"port": new, "expect": "closed"}]
    fs1_after = [{"port": new}, {"port": old, "expect": "closed"}]
    stays = {
        "fs2": [{"port": ports["fs2"]}, {"transport": "quic", "port": ports["quic"]}],
        "samba": [{"port": ports["samba"]}],
    }
    host_vars = {
        "fs1": {"endpoints_before": fs1_before, "endpoints_after": fs1_after, "new_port": new},
        "fs2": {"endpoints_before": stays["fs2"], "endpoints_after": stays["fs2"], "quic_fingerprint": fingerprint},
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
    ports = {"old": old, "new": new, "fs2": fs2_port, "samba": samba_port, "quic": free_udp_port()}
    servers = []
    samba = None
    try:
        fs1 = start_pysmbd(root, "fs1", PYSMBD_ADDRESSES["fs1"], old)
        servers.append(fs1)
        servers.append(start_pysmbd(root, "fs2", PYSMBD_ADDRESSES["fs2"], fs2_port, ports["quic"]))
        samba = start_samba(root, [samba_port], {USER: PASSWORD})  # listens on 127.0.0.1 (interfaces = lo)
        _wait_listening(fs1, [old])
        _wait_listening(servers[1], [fs2_port, ports["quic"]])
        hosts = {"fs1": fs1.address, "fs2": servers[1].address, "samba": "127.0.0.1"}
        playbook = root / "fleet.yml"
        playbook.write_text(json.dumps(_playbook(fs1), indent=2))  # JSON is YAML
        inventory = root / "inventory.yml"
        inventory.write_text(json.dumps(_inventory(out, hosts, ports, servers[1].fingerprint), indent=2))
        run = run_playbook(playbook, inventory, timeout=240)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        yield FleetRun(run, out, ports, list(hosts))
    finally:
        for server in servers:
            server.stop()
        if samba is not None:
            samba.stop()


def _wait_listening(server: PysmbdHost, ports: List[int]) -> None:
    """pysmbd --daemon returns before its listeners are bound: wait until its status says all of ``ports`` listen
    (QUIC listeners too, which a TCP connect cannot see), without connecting to them."""
    deadline = time.monotonic() + 30
    while sorted(ports) != [p for p in pysmbd_listening_ports(server.config) if p in ports]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"pysmbd {server.name} did not listen on {ports} at {server.address}")
        time.sleep(0.1)
