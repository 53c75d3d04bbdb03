"""Benchmark pysmbd against Samba's smbd on the same loopback, with the same smbclient (not a test).

What it measures, for each server on its own alternative port:

* ``get`` and ``put`` of one large file (512 MiB by default) with ``smbclient -m SMB3``, first with
  ``--client-protection=sign`` then ``=encrypt``; both servers require signing. Best of ``--repeat`` runs,
  wall time of the whole smbclient command (connect + authenticate + transfer).
* memory: PSS summed over every server process (``/proc/PID/smaps_rollup``) while ``--sessions``
  smbprotocol clients each hold an authenticated session and a tree connect, idle.

Run as root on a machine with samba, smbclient and libnss-wrapper (smbd's user exists only through
nss_wrapper, nothing is added to /etc/passwd)::

    .venv/bin/python bench/pysmbd/bench_vs_samba.py --output bench/pysmbd/RESULTS-pysmbd.md

``--profile sign|encrypt`` runs pysmbd under cProfile for one get and one put and prints the top costs.

``--clients N`` (issue 15, goal 4) runs N smbclient gets of the file in parallel instead, signed then encrypted, and
reports the aggregate MiB/s (N x size / wall time until the last one ends) of each server in the same run;
``--workers 1 2 4`` runs one pysmbd per ``[server] workers`` value beside Samba; ``--sessions`` adds their memory::

    .venv/bin/python bench/pysmbd/bench_vs_samba.py --clients 16 --size-mib 64 --repeat 5 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for the shared peers module

from peers import Server, need, start_pysmbd, start_smbd

from tests.support.peers import pysmbd_command

USER, PASSWORD = "bench", "Bench-Passw0rd"
MIB = 1024 * 1024


def smbclient_command(port: int, mode: str, command: str) -> List[str]:
    return [
        need("smbclient", "smbclient"),
        "//127.0.0.1/data",
        "-p",
        str(port),
        "-U",
        f"{USER}%{PASSWORD}",
        "-m",
        "SMB3",
        f"--client-protection={mode}",
        "-c",
        command,
    ]


def timed_transfer(server: Server, mode: str, direction: str, work: Path, size: int) -> tuple:
    """(wall seconds, server CPU seconds) for one smbclient get or put of the big file."""
    if direction == "get":
        command = f"get big.bin {work / 'got.bin'}"
    else:
        command = f"put {work / 'local.bin'} put-{server.name}.bin"
    pids_before = set(server.pids())
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run(
        smbclient_command(server.port, mode, command), capture_output=True, text=True, timeout=900, check=False
    )
    elapsed = time.perf_counter() - started
    # smbd serves each connection in a child that exits at disconnect: until the parent has reaped it, its CPU
    # time is in no /proc entry we read (it made a run count ~0 s/GiB), so wait for the process tree to settle.
    settle_deadline = time.monotonic() + 5.0
    while set(server.pids()) != pids_before and time.monotonic() < settle_deadline:
        time.sleep(0.05)
    cpu = server.cpu_seconds() - cpu_before
    if done.returncode != 0:
        sys.exit(f"{server.name} {mode} {direction} failed: {done.stdout}{done.stderr}")
    produced = work / "got.bin" if direction == "get" else work / "share" / f"put-{server.name}.bin"
    if produced.stat().st_size != size:
        sys.exit(f"{server.name} {mode} {direction}: {produced} has {produced.stat().st_size} bytes, not {size}")
    return elapsed, cpu


def parallel_gets(server: Server, mode: str, clients: int, size: int) -> tuple:
    """(aggregate MiB/s, server CPU s/GiB) of ``clients`` smbclient gets of the big file started together (each to
    /dev/null)."""
    pids_before = set(server.pids())
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    running = [
        subprocess.Popen(
            smbclient_command(server.port, mode, "get big.bin /dev/null"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _client in range(clients)
    ]
    failures = []
    for process in running:
        output = process.communicate(timeout=900)[0]
        if process.returncode != 0:
            failures.append(output)
    elapsed = time.perf_counter() - started
    settle_deadline = time.monotonic() + 5.0  # smbd's children must be reaped for their CPU time to count
    while set(server.pids()) != pids_before and time.monotonic() < settle_deadline:
        time.sleep(0.05)
    cpu = server.cpu_seconds() - cpu_before
    if failures:
        sys.exit(f"{server.name} {mode}: {len(failures)} of {clients} gets failed: {failures[0]}")
    return clients * size / MIB / elapsed, cpu * 1024 * MIB / (clients * size)


def run_concurrent(args: argparse.Namespace, work: Path, share: Path) -> str:
    """``--clients``: Samba and one pysmbd per ``--workers`` value side by side, the order rotating at every repeat;
    best and median aggregate figures, server CPU per GiB, and (``--sessions``) PSS with that many idle sessions."""
    size = args.size_mib * MIB
    args.load_before = os.getloadavg()[0]
    servers: List[Server] = []
    results: Dict[tuple, List[tuple]] = {}
    memory: Dict[str, tuple] = {}
    try:
        if "samba" in args.servers:
            servers.append(start_smbd(work, share, user=USER, password=PASSWORD))
        if "pysmbd" in args.servers:
            for workers in args.workers:
                server = start_pysmbd(work / f"w{workers}", share, user=USER, password=PASSWORD, workers=workers)
                server.name = f"pysmbd workers={workers}"
                servers.append(server)
        for mode in args.modes:
            for repeat in range(args.repeat):
                shift = repeat % len(servers)
                for server in servers[shift:] + servers[:shift]:
                    figure, cpu = parallel_gets(server, mode, args.clients, size)
                    results.setdefault((server.name, mode), []).append((figure, cpu))
                    print(
                        f"{server.name:18} {mode:8} {args.clients} parallel gets: {figure:7.1f} MiB/s, {cpu:.2f} s/GiB"
                    )
        if args.sessions:
            for server in servers:
                memory[server.name] = idle_sessions_pss(server, args.sessions)
                print(f"{server.name:18} {args.sessions} idle sessions: {memory[server.name][0] / 1024:.1f} MiB PSS")
    finally:
        for server in servers:
            server.stop()
    lines = [
        f"## {args.clients} concurrent clients, pysmbd vs Samba smbd ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Command: `{' '.join(['.venv/bin/python', *sys.argv])}`",
        f"Machine: {os.cpu_count()} CPUs, load average {args.load_before:.2f} before and {os.getloadavg()[0]:.2f} after.",
        f"{args.clients} `smbclient -m SMB3` gets of one {args.size_mib} MiB file started together: aggregate MiB/s "
        f"(clients x size / time until the last ends), {args.repeat} runs per server in rotating order; server CPU "
        "s/GiB: user+system CPU of every server process per GiB moved (median).",
        "",
        "| mode | server | best MiB/s | median MiB/s | runs | vs Samba (best / median) | CPU s/GiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in args.modes:
        samba = results.get(("samba", mode))
        for server in servers:
            runs = results[(server.name, mode)]
            figures = sorted(figure for figure, _cpu in runs)
            best, median = figures[-1], statistics.median(figures)
            ratio = (
                ""
                if samba is None or server.name == "samba"
                else (
                    f"{best / max(f for f, _c in samba):.2f}x / {median / statistics.median(f for f, _c in samba):.2f}x"
                )
            )
            lines.append(
                f"| {mode} | {server.name} | {best:.1f} | {median:.1f} | {', '.join(f'{f:.0f}' for f, _c in runs)} | "
                f"{ratio} | {statistics.median(c for _f, c in runs):.2f} |"
            )
    if memory:
        lines += [
            "",
            f"PSS with {args.sessions} idle authenticated sessions (tree connected), all server processes:",
            "",
        ]
        lines += ["| server | processes | PSS MiB |", "|---|---|---|"]
        lines += [f"| {name} | {procs} | {kib / 1024:.1f} |" for name, (kib, procs) in memory.items()]
    return "\n".join(lines) + "\n"


def idle_sessions_pss(server: Server, count: int) -> tuple:
    """(PSS KiB, processes) while ``count`` clients each hold an authenticated session and a tree connect."""
    from smbprotocol.connection import Connection
    from smbprotocol.session import Session
    from smbprotocol.tree import TreeConnect

    connections = []
    try:
        for _session in range(count):
            connection = Connection(uuid.uuid4(), "127.0.0.1", server.port, require_signing=True)
            connection.connect(timeout=30)
            connections.append(connection)
            session = Session(connection, USER, PASSWORD, require_encryption=False)
            session.connect()
            TreeConnect(session, r"\\127.0.0.1\data").connect()
        time.sleep(2)  # let forked children settle
        memory = server.memory()
        return memory["pss_mib"] * 1024, memory["processes"]
    finally:
        for connection in connections:
            try:
                connection.disconnect(close=True)
            except Exception:  # a bench must still stop its servers
                pass


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MIB)
    with path.open("wb") as stream:
        for _block in range(size // MIB):
            stream.write(block)


def run_benchmark(args: argparse.Namespace, work: Path, share: Path) -> str:
    """Both servers run side by side; runs alternate between them so a change in the machine's load
    hits both alike (the order flips at every repeat)."""
    size = args.size_mib * MIB
    args.load_before = os.getloadavg()[0]
    results: Dict[tuple, float] = {}
    cpu_per_gib: Dict[tuple, float] = {}
    memory: Dict[str, tuple] = {}
    starters = {"samba": start_smbd, "pysmbd": start_pysmbd}
    servers: List[Server] = []
    try:
        for name in args.servers:
            servers.append(starters[name](work, share, user=USER, password=PASSWORD))
        for mode in args.modes:
            for direction in args.directions:
                runs: Dict[str, list] = {server.name: [] for server in servers}
                for repeat in range(args.repeat):
                    for server in servers if repeat % 2 == 0 else list(reversed(servers)):
                        runs[server.name].append(timed_transfer(server, mode, direction, work, size))
                for server in servers:
                    key = (server.name, mode, direction)
                    results[key] = size / MIB / min(wall for wall, _cpu in runs[server.name])
                    cpu_per_gib[key] = min(cpu for _wall, cpu in runs[server.name]) * 1024 * MIB / size
                    print(
                        f"{server.name:7} {mode:8} {direction}: {results[key]:7.1f} MiB/s, "
                        f"server CPU {cpu_per_gib[key]:.2f} s/GiB"
                    )
        if args.sessions:
            for server in servers:
                memory[server.name] = idle_sessions_pss(server, args.sessions)
                print(f"{server.name:7} {args.sessions} idle sessions: {memory[server.name][0] / 1024:.1f} MiB PSS")
    finally:
        for server in servers:
            server.stop()
    return report(args, results, cpu_per_gib, memory)


def pysmbd_version() -> str:
    done = subprocess.run([pysmbd_command(), "--version"], capture_output=True, text=True, timeout=30, check=False)
    return done.stdout.strip().split()[-1] if done.returncode == 0 else "unknown"


def report(
    args: argparse.Namespace, results: Dict[tuple, float], cpu_per_gib: Dict[tuple, float], memory: Dict[str, tuple]
) -> str:
    if len(args.servers) < 2:
        return ""  # nothing to compare: the per-server lines above are the result
    smbd_version = subprocess.run(
        [need("smbd", "samba"), "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    lines = [
        f"## pysmbd vs Samba smbd ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Command: `{' '.join(['.venv/bin/python', *sys.argv])}`",
        f"Versions: {smbd_version}, pysmbd {pysmbd_version()}, Python {sys.version.split()[0]}, "
        f"smbclient from the same Samba.",
        f"Machine: {os.cpu_count()} CPUs, load average {args.load_before:.2f} before and {os.getloadavg()[0]:.2f} after "
        "(other jobs shared the CPUs: figures are indicative).",
        f"smbclient -m SMB3, {args.size_mib} MiB file, best of {args.repeat} runs alternating between the servers, "
        "wall time of the whole smbclient command;",
        "server CPU s/GiB: user+system CPU of all server processes per GiB moved (less sensitive to other load).",
        "",
        "| mode | op | Samba MiB/s | pysmbd MiB/s | pysmbd / Samba | target | Samba CPU s/GiB | pysmbd CPU s/GiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode in args.modes:
        for direction in args.directions:
            samba, ours = results[("samba", mode, direction)], results[("pysmbd", mode, direction)]
            ratio = ours / samba
            lines.append(
                f"| {mode} | {direction} | {samba:.1f} | {ours:.1f} | {ratio:.2f}x | "
                f"{'met' if ratio >= 0.8 else 'MISSED'} (>= 0.8x) | "
                f"{cpu_per_gib[('samba', mode, direction)]:.2f} | {cpu_per_gib[('pysmbd', mode, direction)]:.2f} |"
            )
    if memory:
        samba_kib, samba_procs = memory["samba"]
        ours_kib, ours_procs = memory["pysmbd"]
        lines += [
            "",
            f"Memory with {args.sessions} idle authenticated sessions (tree connected), PSS summed over all server processes:",
            "",
            "| server | processes | PSS MiB |",
            "|---|---|---|",
            f"| Samba smbd | {samba_procs} | {samba_kib / 1024:.1f} |",
            f"| pysmbd | {ours_procs} | {ours_kib / 1024:.1f} |",
            "",
            f"pysmbd / Samba = {ours_kib / samba_kib:.2f} (target < 0.5: {'met' if ours_kib < samba_kib / 2 else 'MISSED'})",
        ]
    return "\n".join(lines) + "\n"


def profile(args: argparse.Namespace, work: Path, share: Path) -> None:
    size = args.size_mib * MIB
    output = work / "pysmbd.prof"
    server = start_pysmbd(work, share, user=USER, password=PASSWORD, profile_to=output)
    try:
        for direction in args.directions:
            seconds, _cpu = timed_transfer(server, args.profile, direction, work, size)
            print(f"pysmbd (profiled) {args.profile} {direction}: {size / MIB / seconds:.1f} MiB/s")
    finally:
        server.stop()
    stats = pstats.Stats(str(output))
    stats.sort_stats("tottime").print_stats(20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--modes", nargs="+", default=["sign", "encrypt"], choices=["sign", "encrypt"])
    parser.add_argument("--directions", nargs="+", default=["get", "put"], choices=["get", "put"])
    parser.add_argument("--servers", nargs="+", default=["samba", "pysmbd"], choices=["samba", "pysmbd"])
    parser.add_argument("--output", type=Path, help="append the Markdown results to this file")
    parser.add_argument("--profile", choices=["sign", "encrypt"], help="profile pysmbd instead of comparing")
    parser.add_argument("--clients", type=int, default=0, help="N parallel gets per run instead of one get and put")
    parser.add_argument(
        "--workers", nargs="+", default=["1"], help="with --clients: one pysmbd per [server] workers value (or auto)"
    )
    args = parser.parse_args()
    # smbd enters the share as its user, so the work directory must be traversable by everyone.
    work = Path(tempfile.mkdtemp(prefix="pysmbd-bench-"))
    os.chmod(work, 0o755)
    share = work / "share"
    share.mkdir()
    os.chmod(share, 0o777)  # mkdir applies the umask
    try:
        make_file(share / "big.bin", args.size_mib * MIB)
        os.chmod(share / "big.bin", 0o644)
        if not args.clients:
            make_file(work / "local.bin", args.size_mib * MIB)
        if args.profile:
            profile(args, work, share)
            return 0
        text = run_concurrent(args, work, share) if args.clients else run_benchmark(args, work, share)
        if text:
            print(text)
        if args.output:
            with args.output.open("a", encoding="utf-8") as stream:
                stream.write(text + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
