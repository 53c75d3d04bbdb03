"""A fleet migration at scale: N pysmbd instances (the fleet bench's, 127.0.1.1..N) moved from one TCP port to
another by the migrate role with ``--forks``, while client sessions on the old port write and read every 100 ms.

Usage (from the repository root, after `make venv`):

    .venv/bin/python bench/migrate/bench_migrate.py [--count 200] [--forks 20] [--clients 20] [--work /tmp/smb-ap-migrate]

Records the wall time of each phase (from the state file's events, one-second resolution, plus the run's total),
the client operations done and failed before the client phase ended (the make-before-break promise: zero for
pysmbd), and after (the clients then leave the old port, as moved clients do, so the drain can finish). Prints a
Markdown table, also written to ``<work>/results.md``.
"""

from __future__ import annotations

import argparse
import calendar
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "fleet"))

import fleet as fleet_bench  # noqa: E402  (bench/fleet/fleet.py: environment, pysmbd_command)
import instances as fleet_instances  # noqa: E402

from tests.support.smb_session import SmbSession  # noqa: E402

PLAYBOOK = "- hosts: fleet\n  gather_facts: false\n  roles:\n    - smb.alternative_ports.migrate\n"
PHASES = ("preflight", "add", "clients", "drain", "remove")


class Client(threading.Thread):
    def __init__(self, address: str, port: int, password: str, name: str) -> None:
        super().__init__(daemon=True)
        self.session = SmbSession(port, "fleet", password, host=address)
        self.name_ = name
        self.ok = 0
        self.failures: list = []
        self.halt = threading.Event()

    def run(self) -> None:
        payload = self.name_.encode() * 64
        while not self.halt.is_set():
            try:
                assert self.session.write_and_read(self.name_, payload) == payload
                self.ok += 1
            except Exception:
                self.failures.append(time.monotonic())
            self.halt.wait(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--clients", type=int, default=20, help="sessions on the old port (spread over the fleet)")
    parser.add_argument("--work", default="/tmp/smb-ap-migrate")
    args = parser.parse_args()
    pysmbd = fleet_bench.pysmbd_command()
    work = Path(args.work)
    fleet_instances.remove(work)
    work.mkdir(parents=True)
    fleet = fleet_instances.instances(work, args.count)
    old_port, new_port = fleet_instances.pick_ports(fleet, 2)
    password = fleet_instances.write_users(work, pysmbd)
    fleet_instances.up(work, args.count, pysmbd, old_port)
    inventory = work / "inventory.json"
    fleet_instances.write_inventory(fleet, inventory, sys.executable, pysmbd, old_port, new_port)
    document = json.loads(inventory.read_text())
    state_file = work / "state.json"
    for host in document["all"]["children"]["fleet"]["hosts"].values():
        host["migrate_pysmbd_config"] = host.pop("fleet_config")
    document["all"]["vars"].update(
        migrate_pysmbd_executable=pysmbd,
        migrate_listen_address="{{ ansible_host }}",
        migrate_firewall=False,
        migrate_from={"transport": "tcp", "port": old_port},
        migrate_to={"transport": "tcp", "port": new_port},
        migrate_state_file=str(state_file),
        migrate_drain_timeout=300,
        migrate_drain_interval=2,
    )
    inventory.write_text(json.dumps(document, indent=1))
    playbook = work / "migrate.yml"
    playbook.write_text(PLAYBOOK)
    step = max(1, args.count // max(1, args.clients))
    clients = [Client(i.address, old_port, password, f"{i.name}.bin") for i in fleet[::step][: args.clients]]
    for client in clients:
        client.start()

    command = [
        str(fleet_bench.VENV_BIN / "ansible-playbook"),
        "-i",
        str(inventory),
        "-f",
        str(args.forks),
        str(playbook),
    ]
    started_wall, started = time.time(), time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=fleet_bench.environment()
    )
    output: list = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    moved_at = None
    while process.poll() is None:
        if moved_at is None and state_file.exists():
            try:
                hosts = json.loads(state_file.read_text())["hosts"]
            except ValueError:
                hosts = {}
            if len(hosts) == args.count and all("clients" in h["completed"] for h in hosts.values()):
                moved_at = time.monotonic()
                for client in clients:
                    client.halt.set()
                    client.join(5)
                    client.session.close()
        time.sleep(0.5)
    total = time.monotonic() - started
    reader.join(5)
    (work / "ansible.log").write_text("".join(output))
    state = json.loads(state_file.read_text()) if state_file.exists() else {"events": [], "hosts": {}}
    previous = started_wall
    phase_s = {}
    for event in state["events"]:
        stamp = calendar.timegm(time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ"))
        phase_s[event["phase"]] = phase_s.get(event["phase"], 0) + max(0, stamp - previous)
        previous = stamp
    cutoff = moved_at or time.monotonic()
    failed_before = sum(1 for c in clients for t in c.failures if t <= cutoff)
    done = sum(1 for h in state["hosts"].values() if h["completed"] == list(PHASES))
    lines = [
        "| hosts | forks | clients | rc | migrated | total s | "
        + " | ".join(f"{p} s" for p in PHASES)
        + " | client ops | failed through clients phase |",
        "|" + " --- |" * (9 + len(PHASES)),
        f"| {args.count} | {args.forks} | {len(clients)} | {process.returncode} | {done} | {total:.0f} | "
        + " | ".join(f"{phase_s.get(p, 0):.0f}" for p in PHASES)
        + f" | {sum(c.ok for c in clients)} | {failed_before} |",
        "",
        "command: " + " ".join(command),
    ]
    (work / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    fleet_instances.down(work)
    return 0 if process.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
