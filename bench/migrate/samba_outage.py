"""How long Samba 4.17's clients lose the server when a migration adds a port (smbd restarts to bind it).

Usage (from the repository root, after `make venv`; needs Debian's samba and libnss-wrapper):

    .venv/bin/python bench/migrate/samba_outage.py [--rounds 3]

Each round starts a standalone smbd (tests/integration/verify's start_samba: its own smb.conf, users through
nss_wrapper) on one port, opens an smbprotocol session that writes and reads 4 KiB every 100 ms, and runs the
migrate role's preflight and add phases (``migrate_stop_after=add``) on it. When an operation fails, the client
reconnects every 100 ms. Printed per round: failed operations, and the outage, from the last operation that
succeeded before the restart to the first that succeeded after it on a new session. The same is done with a
pysmbd server for comparison (its add is a reload: no failure expected).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "fleet"))

import fleet as fleet_bench  # noqa: E402  (environment(), VENV_BIN)

from tests.support.net import free_tcp_ports, wait_for_port  # noqa: E402
from tests.support.samba import start_samba  # noqa: E402
from tests.support.smb_session import SmbSession  # noqa: E402

USER, PASSWORD = "mover", "Outage-pa55!"
PLAYBOOK = "- hosts: servers\n  gather_facts: false\n  roles:\n    - smb.alternative_ports.migrate\n"


class Client(threading.Thread):
    """Writes and reads every 100 ms; after a failure reconnects every 100 ms; records the longest gap."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.session = SmbSession(port, USER, PASSWORD, encrypt=False)
        self.failed = 0
        self.last_ok = time.monotonic()
        self.gaps: list = []
        self.halt = threading.Event()

    def run(self) -> None:
        broken = False
        while not self.halt.is_set():
            try:
                if broken:
                    self.session.close()
                    self.session = SmbSession(self.port, USER, PASSWORD, encrypt=False)
                assert self.session.write_and_read("outage.bin", b"x" * 4096) == b"x" * 4096
                now = time.monotonic()
                if broken:
                    self.gaps.append(now - self.last_ok)
                broken, self.last_ok = False, now
            except Exception:
                self.failed += 1
                broken = True
            self.halt.wait(0.1)
        self.session.close()


def migrate_add(work: Path, host_vars: dict, old: int, new: int) -> subprocess.CompletedProcess:
    inventory = {
        "all": {
            "children": {"servers": {"hosts": {"server1": host_vars}}},
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "migrate_from": {"transport": "tcp", "port": old},
                "migrate_to": {"transport": "tcp", "port": new},
                "migrate_state_file": str(work / "state.json"),
                "migrate_firewall": False,
                "migrate_stop_after": "add",
            },
        }
    }
    (work / "inventory.json").write_text(json.dumps(inventory))
    (work / "migrate.yml").write_text(PLAYBOOK)
    command = [
        str(fleet_bench.VENV_BIN / "ansible-playbook"),
        "-i",
        str(work / "inventory.json"),
        str(work / "migrate.yml"),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=fleet_bench.environment(), timeout=600, check=False
    )


def samba_round(work: Path) -> dict:
    old, new = free_tcp_ports(2)
    # start_samba writes smb.conf and the users, then runs smbd in the foreground (no pid file). The samba backend
    # restarts the smbd of the pid file, so run it again as a daemon, the way a packaged smbd runs.
    server = start_samba(work, [old], {USER: PASSWORD}, shares={"data": str(work / "data")})
    server.stop()
    env = server.env
    pidfile = work / "samba" / "pid" / "smbd.pid"
    subprocess.run(["smbd", "-D", "-s", str(server.conf)], env=env, check=True, timeout=30)
    wait_for_port(old, None, 30)
    wrapper = " ".join(f"{k}={shlex.quote(env[k])}" for k in ("LD_PRELOAD", "NSS_WRAPPER_PASSWD", "NSS_WRAPPER_GROUP"))
    restart = work / "restart-smbd.sh"
    restart.write_text(
        "#!/bin/sh\n"
        f'pid=$(cat {pidfile}); kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done\n'
        f"exec env {wrapper} smbd -D -s {server.conf}\n"
    )
    restart.chmod(0o755)
    client = Client(old)
    client.start()
    time.sleep(1)
    started = time.monotonic()
    done = migrate_add(
        work,
        {
            "ansible_host": "127.0.0.1",
            "migrate_backend": "samba",
            "migrate_smb_conf": str(server.conf),
            "migrate_samba_restart_command": str(restart),
        },
        old,
        new,
    )
    wall = time.monotonic() - started
    time.sleep(2)
    client.halt.set()
    client.join(10)
    pid = pidfile.read_text().strip() if pidfile.exists() else ""
    if pid:
        subprocess.run(["kill", pid], check=False)
    return {
        "server": "samba",
        "rc": done.returncode,
        "add_s": wall,
        "failed_ops": client.failed,
        "outage_s": max(client.gaps, default=0.0),
        "tail": done.stdout[-1500:] if done.returncode else "",
    }


def pysmbd_round(work: Path) -> dict:
    from tests.support.peers import pysmbd_command
    from tests.support.pysmbd_server import pysmbd_users_line

    old, new = free_tcp_ports(2)
    (work / "share").mkdir()
    (work / "users").write_text(pysmbd_users_line(USER, PASSWORD))
    config = work / "pysmbd.toml"
    config.write_text(
        f'[server]\nname = "OUTAGE"\nusers_file = "{work / "users"}"\nstate_dir = "{work / "state"}"\n\n'
        f'[[listeners]]\ntransport = "tcp"\naddress = "127.0.0.1"\nport = {old}\n\n'
        f'[[shares]]\nname = "data"\npath = "{work / "share"}"\nread_only = false\n'
    )
    subprocess.run([pysmbd_command(), "serve", "--config", str(config), "--daemon"], check=True, timeout=60)
    client = Client(old)
    client.start()
    time.sleep(1)
    started = time.monotonic()
    done = migrate_add(
        work,
        {
            "ansible_host": "127.0.0.1",
            "migrate_backend": "pysmbd",
            "migrate_pysmbd_config": str(config),
            "migrate_pysmbd_executable": pysmbd_command(),
            "migrate_listen_address": "127.0.0.1",
        },
        old,
        new,
    )
    wall = time.monotonic() - started
    time.sleep(2)
    client.halt.set()
    client.join(10)
    pid = (work / "state" / "pysmbd.pid").read_text().strip()
    subprocess.run(["kill", pid], check=False)
    return {
        "server": "pysmbd",
        "rc": done.returncode,
        "add_s": wall,
        "failed_ops": client.failed,
        "outage_s": max(client.gaps, default=0.0),
        "tail": done.stdout[-1500:] if done.returncode else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for server_round in [samba_round, pysmbd_round] * args.rounds:
        with tempfile.TemporaryDirectory(prefix="smb-ap-outage-") as directory:
            Path(directory).chmod(0o755)
            rows.append(server_round(Path(directory)))
    print("| server | rc | preflight + add, s | failed client operations | outage, s |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['server']} | {row['rc']} | {row['add_s']:.1f} | {row['failed_ops']} | {row['outage_s']:.2f} |")
        if row["tail"]:
            print(row["tail"], file=sys.stderr)
    return 0 if all(row["rc"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
