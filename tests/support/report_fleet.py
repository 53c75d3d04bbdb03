"""A small fleet for the report tests: two pysmbd servers on their own loopback addresses and one Samba, the
playbook that verifies it before and after moving one server, and its inventory.

The report is only as real as the verify results it is made of, so the ``fleet_run`` fixture
(tests/integration/report/conftest.py) starts real servers (tests/support/pysmbd_server.py, samba.py), runs that
playbook, and yields a FleetRun.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from tests.support.accounts import REPORT_PASSWORD, REPORT_USER
from tests.support.ansible_run import PlayRun
from tests.support.peers import pysmbd_command
from tests.support.pysmbd_server import PysmbdServer, gen_cert, prepare_pysmbd, pysmbd_listening_ports

# The whole 127.0.0.0/8 block is loopback on Linux: each pysmbd host gets its own address, as in bench/fleet.
PYSMBD_ADDRESSES = {"fs1": "127.0.3.1", "fs2": "127.0.3.2"}


@dataclass
class PysmbdHost:
    name: str
    server: PysmbdServer
    fingerprint: Optional[str] = None
    """SHA-256 of its QUIC certificate, when it has a QUIC listener."""

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def config(self) -> Path:
        return self.server.config

    def stop(self) -> None:
        self.server.stop()


def start_pysmbd(root: Path, name: str, address: str, port: int, quic_port: Optional[int] = None) -> PysmbdHost:
    """``pysmbd serve --daemon`` on ``address:port`` with one share, as server_ports' pysmbd backend expects, and
    SMB over QUIC on UDP ``quic_port`` with a certificate made by ``pysmbd gen-cert`` (its fingerprint in
    ``fingerprint``)."""
    home = root / name
    home.mkdir(parents=True)
    quic_files, fingerprint = None, None
    if quic_port is not None:
        cert, key, fingerprint = gen_cert(home, name=address)
        quic_files = (cert, key)
    server = prepare_pysmbd(
        home,
        REPORT_USER,
        REPORT_PASSWORD,
        [port],
        address=address,
        quic_port=quic_port,
        quic_files=quic_files,
        server_settings=f'name = "{name.upper()}"',
        share_settings="read_only = false",
    )
    return PysmbdHost(name, server.start("daemon"), fingerprint)


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


def fleet_playbook(fs1: PysmbdHost) -> list:
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


def fleet_inventory(out: Path, hosts: Dict[str, str], ports: Dict[str, int], fingerprint: str) -> dict:
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


def wait_listening(server: PysmbdHost, ports: List[int]) -> None:
    """pysmbd --daemon returns before its listeners are bound: wait until its status says all of ``ports`` listen
    (QUIC listeners too, which a TCP connect cannot see), without connecting to them."""
    deadline = time.monotonic() + 30
    while sorted(ports) != [p for p in pysmbd_listening_ports(server.config) if p in ports]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"pysmbd {server.name} did not listen on {ports} at {server.address}")
        time.sleep(0.1)
