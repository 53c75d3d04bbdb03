"""Load benchmark: N concurrent authenticated SMB sessions doing small reads and writes, pysmbd vs smbd.

Not a test: run it by hand (as root, with samba and libnss-wrapper installed)::

    .venv/bin/python bench/load/bench_load.py --sessions 1000 --duration 60 --output bench/load/RESULTS.md

For each server, in the same run and with the same client: every session connects over its own TCP
connection (SMB 2.1, NTLM, signed), opens its own file, then loops WRITE 4 KiB + READ 4 KiB (verifying
the bytes read back) until the deadline. Reported: requests per second, errors, latency percentiles, server
RSS/PSS (summed over smbd's children) idle, with every session logged in, and at the peak of the load, and
server CPU seconds. For pysmbd, ``max_connections`` is set to the session count and ``--extra`` more
connections are attempted mid-load: each must be closed by the server without an answer, and the loaded
sessions must see no error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pstats
import resource
import statistics
import struct
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for the shared peers module

from peers import Server, start_pysmbd, start_smbd
from smb2_client import SMB2Session

USER, PASSWORD = "load", "Load-Passw0rd"
IO_SIZE = 4096
FILE_SPAN = 16 * IO_SIZE


@dataclass
class Outcome:
    server: str
    sessions_opened: int = 0
    login_seconds: float = 0.0
    requests: int = 0
    errors: int = 0
    error_samples: List[str] = field(default_factory=list)
    latencies_ms: List[float] = field(default_factory=list)
    duration: float = 0.0
    memory: Dict[str, dict] = field(default_factory=dict)
    server_cpu_seconds: float = 0.0
    extra_refused: Optional[int] = None
    extra_admitted: Optional[int] = None

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(message)

    def summary(self) -> dict:
        lat = sorted(self.latencies_ms) or [0.0]
        return {
            "server": self.server,
            "sessions": self.sessions_opened,
            "login_seconds": round(self.login_seconds, 1),
            "requests": self.requests,
            "requests_per_second": round(self.requests / self.duration) if self.duration else 0,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "latency_ms_p50": round(statistics.median(lat), 2),
            "latency_ms_p99": round(lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0], 2),
            "memory": self.memory,
            "server_cpu_seconds_under_load": round(self.server_cpu_seconds, 1),
            "extra_connections_refused": self.extra_refused,
            "extra_connections_admitted": self.extra_admitted,
        }


async def _open(port: int, index: int, gate: asyncio.Semaphore, outcome: Outcome):
    async with gate:
        try:
            session = await SMB2Session.open(port, USER, PASSWORD, "data")
            file_id = await session.create(f"load-{index}.bin")
            await session.write(file_id, 0, bytes(FILE_SPAN))
            return session, file_id
        except Exception as error:  # counted: a refused login under load is what we measure
            outcome.error(f"session {index} setup: {error!r}")
            return None


async def _work(session: SMB2Session, file_id: bytes, index: int, deadline: float, outcome: Outcome) -> None:
    step = 0
    try:
        while time.monotonic() < deadline:
            offset = (step % (FILE_SPAN // IO_SIZE)) * IO_SIZE
            payload = struct.pack("<II", index, step) * (IO_SIZE // 8)
            started = time.perf_counter()
            await session.write(file_id, offset, payload)
            middle = time.perf_counter()
            data = await session.read(file_id, offset, IO_SIZE)
            ended = time.perf_counter()
            if data != payload:
                outcome.error(f"session {index}: read back {len(data)} bytes that differ from the write")
            outcome.requests += 2
            if step % 16 == 0:  # a sample is enough for percentiles and keeps the list small
                outcome.latencies_ms += [(middle - started) * 1000, (ended - middle) * 1000]
            step += 1
        await session.close_file(file_id)
    except Exception as error:
        outcome.error(f"session {index} during load: {error!r}")


async def _probe_extra(port: int) -> bool:
    """True when the server closes a connection past its limit without answering a NEGOTIATE."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        negotiate = struct.pack("<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, bytes(16))
        negotiate += struct.pack("<HHHHI16sQH", 36, 1, 1, 0, 0, uuid.uuid4().bytes, 0, 0x0210)
        writer.write(struct.pack(">I", len(negotiate)) + negotiate)
        answer = await asyncio.wait_for(reader.read(4), timeout=10)
        return answer == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        writer.close()


async def _sample_memory(server: Server, outcome: Outcome, stop: asyncio.Event) -> None:
    peak: dict = {}
    while not stop.is_set():
        current = server.memory()
        if current["rss_mib"] > peak.get("rss_mib", 0):
            peak = current
        try:
            await asyncio.wait_for(stop.wait(), timeout=2)
        except asyncio.TimeoutError:
            pass
    outcome.memory["peak_under_load"] = peak


async def run_load(server: Server, sessions: int, duration: float, extra: int, login_concurrency: int) -> Outcome:
    outcome = Outcome(server.name)
    outcome.memory["idle"] = server.memory()
    gate = asyncio.Semaphore(login_concurrency)
    started = time.monotonic()
    opened = await asyncio.gather(*(_open(server.port, i, gate, outcome) for i in range(sessions)))
    live = [(i, item) for i, item in enumerate(opened) if item is not None]
    outcome.sessions_opened = len(live)
    outcome.login_seconds = time.monotonic() - started
    outcome.memory["all_sessions_logged_in"] = server.memory()

    cpu_before = server.cpu_seconds()
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(_sample_memory(server, outcome, stop_sampling))
    load_started = time.monotonic()
    deadline = load_started + duration
    workers = [asyncio.create_task(_work(s, f, i, deadline, outcome)) for i, (s, f) in live]
    if extra:
        await asyncio.sleep(min(5, duration / 4))
        refused = await asyncio.gather(*(_probe_extra(server.port) for _probe in range(extra)), return_exceptions=True)
        outcome.extra_refused = sum(1 for r in refused if r is True)
        outcome.extra_admitted = extra - outcome.extra_refused
    await asyncio.gather(*workers)
    outcome.duration = time.monotonic() - load_started
    outcome.server_cpu_seconds = server.cpu_seconds() - cpu_before
    stop_sampling.set()
    await sampler
    for _index, (session, _file_id) in live:
        session.close()
    return outcome


def markdown(outcomes: List[dict], args: argparse.Namespace, client_cpu: float) -> str:
    rows = [
        "| server | sessions | req/s | errors | p50 ms | p99 ms | RSS idle | RSS logged in | RSS peak | PSS peak | "
        "server CPU s | server CPU µs/request | login s | extra conns refused |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        m = o["memory"]
        refused = (
            "-"
            if o["extra_connections_refused"] is None
            else (
                f"{o['extra_connections_refused']}/{o['extra_connections_refused'] + o['extra_connections_admitted']}"
            )
        )
        rows.append(
            f"| {o['server']} | {o['sessions']} | {o['requests_per_second']} | {o['errors']} | {o['latency_ms_p50']} | "
            f"{o['latency_ms_p99']} | {m['idle']['rss_mib']:.0f} MiB | {m['all_sessions_logged_in']['rss_mib']:.0f} MiB | "
            f"{m['peak_under_load']['rss_mib']:.0f} MiB ({m['peak_under_load']['processes']} proc) | "
            f"{m['peak_under_load']['pss_mib']:.0f} MiB | {o['server_cpu_seconds_under_load']} | "
            f"{o['server_cpu_seconds_under_load'] * 1e6 / max(o['requests'], 1):.0f} | {o['login_seconds']} | {refused} |"
        )
    command = (
        f".venv/bin/python bench/load/bench_load.py --sessions {args.sessions} --duration {args.duration:g} "
        f"--extra {args.extra}"
    )
    notes = (
        "\nReading it: both servers require signing and get the same client, in the same run, one after the "
        "other. RSS sums every process of the server, so smbd's forked children count their shared pages once "
        "each; PSS shares them out and is the fair memory figure. Server CPU is user+system time of the server's "
        "processes during the load phase. The client (one Python process on the same 2 cores) is a bottleneck "
        "too, so req/s understates both servers; CPU per request compares them without it. "
        "'extra conns refused' counts connections past pysmbd's max_connections (= sessions) that the server "
        "closed without answering their NEGOTIATE while the loaded sessions kept running (errors stays 0).\n"
    )
    return (
        f"Command: `{command}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); one asyncio client process "
        f"(client CPU {client_cpu:.0f} s), SMB 2.1 signed, WRITE+READ of {IO_SIZE} bytes per step.\n\n"
        + "\n".join(rows)
        + "\n"
        + notes
    )


def _print_profile(path: Path, requests: int) -> None:
    """The server's top functions by own time, and by time including callees (the whole run: logins too)."""
    print(f"pysmbd profile ({requests} requests under load): {path}")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per server")
    parser.add_argument("--extra", type=int, default=50, help="connections attempted past pysmbd's limit")
    parser.add_argument("--login-concurrency", type=int, default=50)
    parser.add_argument("--servers", default="pysmbd,samba")
    parser.add_argument("--output", type=Path, help="write the markdown table (and JSON next to it)")
    parser.add_argument(
        "--profile", type=Path, help="run pysmbd under cProfile, write its stats to this file and print the top entries"
    )
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # servers started below inherit it
    if hard < args.sessions * 2 + 100:
        sys.exit(f"ulimit -n is {hard}; raise it to at least {args.sessions * 2 + 100}")
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="pysmbd-load-") as temp:
        Path(temp).chmod(0o755)  # smbd reaches the share as the load user, not as root
        for name in args.servers.split(","):
            work = Path(temp) / name
            work.mkdir()
            if name == "pysmbd":
                server = start_pysmbd(
                    work,
                    work / "share",
                    user=USER,
                    password=PASSWORD,
                    max_connections=args.sessions,
                    profile_to=args.profile,
                )
            else:
                server = start_smbd(work, work / "share", user=USER, password=PASSWORD)
            time.sleep(1)  # the readiness probe's connection must be gone: pysmbd's limit is exact
            try:
                outcome = asyncio.run(
                    run_load(
                        server,
                        args.sessions,
                        args.duration,
                        args.extra if name == "pysmbd" else 0,
                        args.login_concurrency,
                    )
                )
            finally:
                server.stop()
            summary = outcome.summary()
            print(json.dumps(summary, indent=1), flush=True)
            if name == "pysmbd" and args.profile:
                _print_profile(args.profile, outcome.requests)
            outcomes.append(summary)
    client_cpu = resource.getrusage(resource.RUSAGE_SELF)
    table = markdown(outcomes, args, client_cpu.ru_utime + client_cpu.ru_stime)
    print(table)
    if args.output:
        args.output.write_text("# Load: concurrent SMB sessions, pysmbd vs Samba smbd\n\n" + table)
        args.output.with_suffix(".json").write_text(json.dumps(outcomes, indent=1) + "\n")
    return 1 if any(o["errors"] for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
