"""Fleet scale: converge a port change across N pysmbd hosts with Ansible's fan-out, then verify the matrix.

Usage (from the repository root, as root, after `make venv`):

    .venv/bin/python bench/fleet/fleet.py run [--count 200] [--forks 20] [--work /tmp/smb-ap-fleet]
    .venv/bin/python bench/fleet/fleet.py up --count 200      # only start the fleet (and write the inventory)
    .venv/bin/python bench/fleet/fleet.py down                # stop every instance of the work directory

``run`` starts N pysmbd instances (127.0.1.1..N, one config and state directory each) on one port, then:

1. the single-host baseline: converge.yml (the entry role) and verify.yml on fleet001 alone, after which
   fleet001 is put back on the old port;
2. the fleet: converge.yml on all N hosts with ``--forks``, then verify.yml (new port open, old port closed on
   every host), also with ``--forks``;
3. checks each instance's own status (pysmbd status: listening on the new port only), sums the fleet's memory
   (PSS), stops everything and prints a Markdown table (also written to ``<work>/results.md`` and ``.json``).

Per-host cost: wall time and CPU time (user + system of every process Ansible started) of the fleet run divided
by N, beside the single-host run. With no serial step, fleet wall ~ max(single wall x N / forks, fleet CPU /
cores); a serial step shows as wall time far above both.

The hosts are this machine, so that CPU time includes the work a real fleet does on its own hosts: the modules
run for each host (server_ports, with the ``pysmbd`` commands it starts). Those run through ``<work>/target-python``
(``/usr/bin/time`` around the Python), which adds up their CPU time; the controller's share is the rest: Ansible's
main process and workers, the action plugins (validate, verify from the controller), and the shell commands that
copy each module to its host (on SSH, the ssh client instead). The table shows both.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import instances as fleet_instances  # a sibling file, not a package

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def pysmbd_command() -> str:
    found = VENV_BIN / "pysmbd"
    if not os.access(found, os.X_OK):
        sys.exit(f"{found} is missing: run `make venv` first")
    return str(found)


def environment() -> Dict[str, str]:
    link = ROOT / ".tmp" / "collections" / "ansible_collections" / "smb" / "alternative_ports"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(ROOT, target_is_directory=True)
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".tmp" / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_DISPLAY_OK_HOSTS="false",
        ANSIBLE_DISPLAY_SKIPPED_HOSTS="false",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


TIME = Path("/usr/bin/time")


def write_target_python(work: Path) -> Optional[str]:
    """A Python for the fleet hosts' modules that appends each run's CPU seconds (user system) to target-cpu.txt."""
    if not os.access(TIME, os.X_OK):
        print(f"{TIME} is missing (apt-get install time): target CPU is not separated from the controller's")
        return None
    wrapper = work / "target-python"
    wrapper.write_text(f'#!/bin/sh\nexec {TIME} -a -o {work / "target-cpu.txt"} -f "%U %S" {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def target_cpu_seconds(work: Path) -> float:
    try:
        lines = (work / "target-cpu.txt").read_text().splitlines()
    except FileNotFoundError:
        return 0.0
    # /usr/bin/time writes "Command exited with non-zero status N" before the figures of a failed module.
    return sum(float(u) + float(s) for u, s in (line.split() for line in lines if line[:1].isdigit()))


def play(playbook: str, inventory: Path, forks: int, limit: str = "", log: Path | None = None) -> Dict[str, object]:
    """Run one playbook; returns wall and CPU seconds (all, and on the hosts' side), the recap totals and the
    per-task spans (task_spans)."""
    command = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "-f", str(forks), str(HERE / playbook)]
    if limit:
        command += ["--limit", limit]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    target_before = target_cpu_seconds(inventory.parent)
    started = time.monotonic()
    env = environment()
    spans_file = (log or Path("/dev/null")).with_suffix(".spans.json")
    env.update(
        ANSIBLE_CALLBACK_PLUGINS=str(HERE / "callbacks"),
        ANSIBLE_CALLBACKS_ENABLED="task_spans",
        FLEET_SPANS_FILE=str(spans_file) if log else "",
    )
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    target_cpu = target_cpu_seconds(inventory.parent) - target_before
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    recap = RECAP.findall(done.stdout)
    totals = {
        "hosts": len(recap),
        "changed": sum(1 for row in recap if int(row[2]) > 0),
        "failed": sum(1 for row in recap if int(row[4]) > 0 or int(row[3]) > 0),
    }
    spans = json.loads(spans_file.read_text()) if log and spans_file.exists() else {"tasks": []}
    return {
        "command": " ".join(command),
        "rc": done.returncode,
        "wall_s": wall,
        "cpu_s": cpu,
        "target_cpu_s": target_cpu,
        "controller_cpu_s": cpu - target_cpu,
        **totals,
        "tasks": spans["tasks"],
    }


def brief(run: Dict[str, object]) -> Dict[str, object]:
    return {key: value for key, value in run.items() if key not in ("tasks", "command")}


def reset_host(instance: fleet_instances.Instance, users: Path, pysmbd: str, port: int) -> None:
    fleet_instances.stop(instance)
    fleet_instances.write_config(instance, users, port)
    fleet_instances.start(instance, pysmbd)


def command_up(args: argparse.Namespace) -> int:
    pysmbd = pysmbd_command()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    fleet = fleet_instances.instances(work, args.count)
    old_port, new_port = fleet_instances.pick_ports(fleet, 2)
    fleet_instances.write_users(work, pysmbd)
    started = time.monotonic()
    fleet_instances.up(work, args.count, pysmbd, old_port)
    print(f"{args.count} instances listening on 127.0.1.1-{args.count}:{old_port} in {time.monotonic() - started:.1f}s")
    inventory = work / "inventory.json"
    target_python = write_target_python(work)
    fleet_instances.write_inventory(fleet, inventory, sys.executable, pysmbd, old_port, new_port, None, target_python)
    print(f"inventory: {inventory} (fleet_old_port={old_port}, fleet_new_port={new_port})")
    return 0


def command_down(args: argparse.Namespace) -> int:
    count = fleet_instances.down(Path(args.work))
    print(f"stopped the instances of {count} hosts under {args.work}")
    return 0


def command_run(args: argparse.Namespace) -> int:
    pysmbd = pysmbd_command()
    work = Path(args.work)
    fleet_instances.remove(work)
    work.mkdir(parents=True)
    fleet = fleet_instances.instances(work, args.count)
    old_port, new_port = fleet_instances.pick_ports(fleet, 2)
    new_ports = (
        fleet_instances.pick_distinct_ports(fleet, new_port + 1, avoid=[old_port, new_port])
        if args.distinct_ports
        else None
    )
    fleet_instances.write_users(work, pysmbd)
    inventory = work / "inventory.json"
    target_python = write_target_python(work)
    fleet_instances.write_inventory(
        fleet, inventory, sys.executable, pysmbd, old_port, new_port, new_ports, target_python
    )
    results: Dict[str, object] = {
        "count": args.count,
        "forks": args.forks,
        "cores": os.cpu_count(),
        "new_port": "one per host" if new_ports else "the same on every host",
    }
    try:
        started = time.monotonic()
        fleet_instances.up(work, args.count, pysmbd, old_port)
        results["startup_s"] = time.monotonic() - started
        results["pss_mib"] = fleet_instances.pss_kib(filter(None, (i.pid() for i in fleet))) / 1024
        print(f"fleet up: {args.count} instances in {results['startup_s']:.1f}s, {results['pss_mib']:.0f} MiB PSS")

        first = fleet[0]
        results["single_converge"] = play("converge.yml", inventory, 1, first.name, work / "single-converge.log")
        results["single_verify"] = play("verify.yml", inventory, 1, first.name, work / "single-verify.log")
        print("single host:", brief(results["single_converge"]), brief(results["single_verify"]))
        reset_host(first, work / "users", pysmbd, old_port)

        results["fleet_converge"] = play("converge.yml", inventory, args.forks, "", work / "fleet-converge.log")
        print("fleet converge:", brief(results["fleet_converge"]))
        results["fleet_verify"] = play("verify.yml", inventory, args.forks, "", work / "fleet-verify.log")
        print("fleet verify:", brief(results["fleet_verify"]))
        results["status_mismatches"] = status_mismatches(fleet, pysmbd, new_ports or {}, new_port)
    finally:
        if not args.keep:
            fleet_instances.down(work)
    report = markdown(results)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    (work / "results.md").write_text(report)
    print(report)
    return 0 if not results.get("status_mismatches") else 1


def status_mismatches(
    fleet: List[fleet_instances.Instance], pysmbd: str, new_ports: Dict[str, int], new_port: int
) -> List[str]:
    """Each instance's own view (pysmbd status): it must listen on its new port and nothing else."""
    wrong = []
    for instance in fleet:
        ports = fleet_instances.listening_ports(instance, pysmbd)
        if ports != [new_ports.get(instance.name, new_port)]:
            wrong.append(f"{instance.name}: {ports}")
    return wrong


def markdown(results: Dict[str, object]) -> str:
    count, forks = results["count"], results["forks"]
    rows = []
    for label, key, hosts in (
        ("converge, 1 host", "single_converge", 1),
        ("verify, 1 host", "single_verify", 1),
        (f"converge, {count} hosts, forks={forks}", "fleet_converge", count),
        (f"verify, {count} hosts, forks={forks}", "fleet_verify", count),
    ):
        run = results.get(key)
        if not isinstance(run, dict):
            continue
        rows.append(
            f"| {label} | {run['wall_s']:.1f} | {run['wall_s'] / hosts:.2f} | {run['cpu_s']:.1f} | "
            f"{run['cpu_s'] / hosts:.2f} | {run['controller_cpu_s'] / hosts:.2f} | {run['target_cpu_s'] / hosts:.2f} | "
            f"{run['hosts']} | {run['changed']} | {run['failed']} | {run['rc']} |"
        )
    lines = [
        *fan_out_table(results),
        f"{count} pysmbd hosts, {results['cores']} cores, new port: {results['new_port']}; fleet start-up "
        f"{results.get('startup_s', 0):.1f} s, {results.get('pss_mib', 0):.0f} MiB PSS for the {count} servers.",
        "",
        "| run | wall s | wall s/host | CPU s | CPU s/host | of it controller s/host | of it hosts' modules s/host "
        "| hosts | changed | failed | rc |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"Instances not listening on exactly the new port afterwards (pysmbd status): "
        f"{results.get('status_mismatches') or 'none'}",
    ]
    return "\n".join(lines) + "\n"


def fan_out_table(results: Dict[str, object]) -> List[str]:
    """Per task of the fleet converge: span, summed host time and how many hosts were busy on average.

    Busy hosts near ``forks`` means the task fans out; near 1 means something inside it runs one host at a time.
    """
    run = results.get("fleet_converge")
    if not isinstance(run, dict) or not run.get("tasks"):
        return []
    lines = [
        f"Fleet converge, per task (forks={results['forks']}; busy = host seconds / span):",
        "",
        "| task | hosts | span s | host s | busy |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    spans = 0.0
    for task in run["tasks"]:
        span = task["span_seconds"]
        spans += span
        busy = task["host_seconds"] / span if span > 0 else 0.0
        name = task["name"].replace("smb.alternative_ports.alternative_ports : ", "")
        lines.append(f"| {name} | {task['hosts']} | {span:.1f} | {task['host_seconds']:.1f} | {busy:.1f} |")
    lines += [
        "",
        f"Sum of task spans {spans:.1f} s of {run['wall_s']:.1f} s wall (the rest is start-up and the "
        "strategy between tasks).",
        "",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/smb-ap-fleet", help="where the instances' files live")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="the whole benchmark")
    run.add_argument("--count", type=int, default=200)
    run.add_argument("--forks", type=int, default=20)
    run.add_argument("--keep", action="store_true", help="leave the fleet running afterwards")
    run.add_argument(
        "--distinct-ports",
        action="store_true",
        help="move each host to its own new port (as separate machines would not see each other's listeners)",
    )
    up = commands.add_parser("up", help="start the fleet and write its inventory")
    up.add_argument("--count", type=int, default=200)
    commands.add_parser("down", help="stop the fleet")
    args = parser.parse_args()
    return {"run": command_run, "up": command_up, "down": command_down}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
