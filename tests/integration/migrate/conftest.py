"""A small fleet for the migration tests: pysmbd servers on their own loopback addresses (127.0.13.N), each with
its own config, state and share, all on one old port, and the inventory the migrate role runs against; a Samba
server, an emulated Windows server (QUIC) and an emulated Windows client join it where a test asks."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._smb_over_quic import connect_smb_over_quic
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_mapping import run_client_mapping
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_mapping_move import (
    run_client_mapping_move,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_port_policy import (
    run_client_port_policy,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget
from tests.support.net import free_tcp_ports, free_udp_port
from tests.support.peers import pysmbd_command, terminate_pid
from tests.support.plays import winrm_host_vars
from tests.support.pysmbd_server import pysmbd_status
from tests.support.samba import daemon_smbds
from tests.support.smb_session import SmbSession
from tests.support.windows_host import EmulatedWindowsHost, HostUser
from tests.support.windows_host.state import WindowsState, quic_ready

USER = "migrator"
PASSWORD = "Migrate-pa55!"
WINDOWS_USER = "Administrator"
MAPPING_PASSWORD = "Mapping-pa55!"
PLAYBOOK = "- hosts: fleet\n  gather_facts: false\n  roles:\n    - smb.alternative_ports.migrate\n"


@dataclass
class Server:
    name: str
    address: str
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "pysmbd.toml"

    def status(self) -> dict:
        return pysmbd_status(self.config)

    def listening(self) -> List[int]:
        return sorted(row["port"] for row in self.status()["listeners"] if row["state"] == "listening")

    def answers(self, port: int) -> bool:
        """A TCP connect succeeds (closed ports on loopback refuse at once)."""
        with socket.socket() as sock:
            sock.settimeout(3)
            return sock.connect_ex((self.address, port)) == 0


@dataclass
class Fleet:
    servers: List[Server]
    old_port: int
    new_port: int
    work: Path

    @property
    def state_file(self) -> Path:
        return self.work / "migration-state.json"

    @property
    def playbook(self) -> Path:
        return self.work / "migrate.yml"

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def inventory(
        self,
        host_vars: Dict[str, dict] | None = None,
        more_servers: Dict[str, dict] | None = None,
        windows_clients: Dict[str, dict] | None = None,
    ) -> Path:
        """The fleet group (these pysmbd servers, plus ``more_servers``), and Windows clients outside it."""
        hosts = {
            s.name: {
                "ansible_host": s.address,
                "migrate_pysmbd_config": str(s.config),
                **(host_vars or {}).get(s.name, {}),
            }
            for s in self.servers
        }
        hosts.update(more_servers or {})
        document = {
            "all": {
                "children": {"fleet": {"hosts": hosts}, "windows_clients": {"hosts": windows_clients or {}}},
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                    "migrate_pysmbd_executable": pysmbd_command(),
                    "migrate_listen_address": "{{ ansible_host }}",
                    "migrate_firewall": False,
                    "migrate_from": {"transport": "tcp", "port": self.old_port},
                    "migrate_to": {"transport": "tcp", "port": self.new_port},
                    "migrate_state_file": str(self.state_file),
                    "migrate_verify_timeout": 3,
                    "migrate_drain_interval": 1,
                    "migrate_windows_clients": sorted(windows_clients or {}),
                },
            }
        }
        path = self.work / "inventory.json"
        path.write_text(json.dumps(document, indent=1))
        return path


def _users_file(work: Path) -> Path:
    nt_hash = subprocess.run(
        [pysmbd_command(), "hash-password"], input=PASSWORD, capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    users = work / "users"
    users.write_text(f"{USER}:1000:{'X' * 32}:{nt_hash}:[U          ]:LCT-00000000:\n")
    users.chmod(0o600)
    return users


def _start(server: Server, users: Path, port: int) -> None:
    (server.root / "share").mkdir(parents=True)
    state = server.root / "state"
    server.config.write_text(
        f'[server]\nname = "{server.name.upper()}"\nusers_file = "{users}"\nstate_dir = "{state}"\n\n'
        f'[[listeners]]\ntransport = "tcp"\naddress = "{server.address}"\nport = {port}\n\n'
        f'[[shares]]\nname = "data"\npath = "{server.root / "share"}"\nread_only = false\n'
    )
    subprocess.run(
        [pysmbd_command(), "serve", "--config", str(server.config), "--daemon"],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )


@pytest.fixture
def fleet(tmp_path: Path):
    old_port, new_port = free_tcp_ports(2)
    users = _users_file(tmp_path)
    servers = [Server(f"srv{n}", f"127.0.13.{n}", tmp_path / f"srv{n}") for n in (1, 2, 3)]
    started = []
    try:
        for server in servers:
            _start(server, users, old_port)
            started.append(server)
        fleet = Fleet(servers, old_port, new_port, tmp_path)
        fleet.playbook.write_text(PLAYBOOK)
        yield fleet
    finally:
        for server in started:
            pidfile = server.root / "state" / "pysmbd.pid"
            if pidfile.exists():
                terminate_pid(int(pidfile.read_text().strip()))


@pytest.fixture
def samba_server(tmp_path: Path, fleet: Fleet):
    """Debian's smbd, standalone from its own smb.conf at 127.0.0.1, moving between TCP ports of its own: inventory
    variables of one more fleet server. Its own ports, because the Samba backend cannot tell which addresses smbd
    binds, so it counts a pysmbd of the fleet on the same port at another address as a conflict (rightly, for an
    smbd that binds every address) and the concurrent adds would race."""

    def listening(port: int) -> bool:
        with socket.socket() as sock:
            sock.settimeout(3)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    old, new = free_tcp_ports(2)
    with daemon_smbds(tmp_path, ready=listening) as start:
        conf = start(old)
        yield {
            "samba1": {
                "ansible_host": "127.0.0.1",
                "migrate_backend": "samba",
                "migrate_smb_conf": str(conf),
                "migrate_from": {"transport": "tcp", "port": old},
                "migrate_to": {"transport": "tcp", "port": new},
            }
        }


@pytest.fixture
def windows_client():
    """The emulated Windows host (real WinRM) as a client whose Alternative Port Mappings policy moves."""
    password = "Pw-" + secrets.token_urlsafe(12)
    host = EmulatedWindowsHost(users=[HostUser(WINDOWS_USER, password)], tls=False).start()
    target = WinRMTarget.from_values(
        {"host": host.address[0], "port": host.address[1], "user": WINDOWS_USER, "password": password, "scheme": "http"}
    )
    yield {"win1": winrm_host_vars(host.address, WINDOWS_USER, password)}, target
    host.stop()


@pytest.fixture
def windows_server():
    """The emulated Windows Server 2025 (real WinRM) as a fleet server: SMB over QUIC ready (a certificate mapping),
    serving real SMB over QUIC (the bundled pysmbd) on its QUIC alternative ports, one of them the old port. Windows
    cannot move TCP, so it moves from one QUIC alternative port to another. Yields (inventory hosts, host, old, new)."""
    password = "Pw-" + secrets.token_urlsafe(12)
    old, new = free_udp_port(), free_udp_port()
    state = quic_ready(WindowsState(), "win-srv1")
    state.alternative_ports.append({"TransportType": "Quic", "Port": old, "Instances": "Default"})
    host = EmulatedWindowsHost(users=[HostUser(WINDOWS_USER, password)], serve_smb=True, initial_state=state).start()
    try:
        variables = {
            **winrm_host_vars(host.address, WINDOWS_USER, password),
            "migrate_from": {"transport": "quic", "port": old},
            "migrate_to": {"transport": "quic", "port": new},
            "migrate_verify_fingerprint_sha256": host.smb.fingerprint_sha256,
            # Windows tells no session's port (Get-SmbSession has none): the drain waits this whole timeout.
            "migrate_drain_timeout": 2,
        }
        yield {"win-srv1": variables}, host, old, new
    finally:
        host.stop()


def windows_quic_session(host: EmulatedWindowsHost, port: int) -> SmbSession:
    """An SMB session over QUIC on the emulated Windows server's share "data", as its administrator, pinned to its
    certificate."""
    user = host.users[0]
    fingerprint = host.smb.fingerprint_sha256
    return SmbSession(
        port,
        user.name,
        user.password,
        connect=lambda connection: connect_smb_over_quic(connection, 10, fingerprint_sha256=fingerprint),
    )


def global_mappings(target) -> List[tuple]:
    """The client's global mappings as Get-SmbGlobalMapping reports them: (local path, remote path, transport, port)."""
    mappings = run_client_mapping_move(target, {"moves": []}, True)["before"]
    return sorted((m["local_path"] or "", m["remote_path"], m["transport"], m["port"]) for m in mappings)


def map_globally(target, remote_path: str, port: int, local_path: str = "") -> None:
    """A global mapping on the old port, as an administrator made it (New-SmbGlobalMapping -TcpPort -Credential)."""
    args = {"remote_path": remote_path, "tcp_port": port, "username": "FILES\\svc", "password": MAPPING_PASSWORD}
    run_client_mapping(target, {**args, **({"local_path": local_path} if local_path else {})}, False)


def policy(target) -> List[str]:
    return run_client_port_policy(target, {"entries": []}, True)["before"]["entries"]


def set_policy(target, lines: List[str]) -> None:
    entries = []
    for line in lines:
        server, transport, port = line.rsplit(":", 2)
        entries.append({"server": server, "transport": transport, "port": int(port)})
    run_client_port_policy(target, {"entries": entries, "exclusive": True}, False)
