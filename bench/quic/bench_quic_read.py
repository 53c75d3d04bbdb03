"""SMB over QUIC against Direct TCP: one 256 MiB file read from the same pysmbd, with the same client.

    .venv/bin/python bench/quic/bench_quic_read.py [--size-mib 256] [--rounds 3] [--chunk-mib 4]

One pysmbd process serves both a TCP and a QUIC listener (started like the QUIC tests start it, as its own
process so it never shares a GIL with the client). smbprotocol reads the file over each transport in turn, with
signing and no SMB encryption (QUIC already encrypts with TLS 1.3; TCP is plain, as Windows' default is),
and every read is checked against the file's SHA-256. It prints a Markdown table, and with ``--record``
appends it to bench/quic/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.support.collection import use_checkout_as_collection  # noqa: E402

use_checkout_as_collection()  # lays out ansible_collections/smb/alternative_ports on sys.path

from ansible_collections.smb.alternative_ports.plugins.module_utils._smb_over_quic import (  # noqa: E402
    connect_smb_over_quic,
)
from tests.support.accounts import QUIC_PASSWORD as PASSWORD  # noqa: E402
from tests.support.accounts import QUIC_USER as USER  # noqa: E402
from tests.support.pysmbd_server import start_quic_pysmbd  # noqa: E402
from tests.support.smb_session import SmbSession  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def minor_faults(pid: int) -> int:
    """Minor page faults of a process so far, from /proc: memory the kernel had to hand out (and zero) anew."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def read_file(port: int, transport: str, cafile: str, name: str, size: int, chunk: int, datagram: int) -> tuple:
    def over_quic(connection) -> None:
        connect_smb_over_quic(connection, 10, cafile=cafile, max_datagram_size=datagram)

    session = SmbSession(port, USER, PASSWORD, connect=over_quic if transport == "quic" else None)
    try:
        handle = session.open_file(name, write=False)
        digest = hashlib.sha256()
        started = time.perf_counter()
        for offset in range(0, size, chunk):
            digest.update(handle.read(offset, min(chunk, size - offset)))
        elapsed = time.perf_counter() - started
        handle.close()
        return elapsed, digest.hexdigest()
    finally:
        session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk-mib", type=int, default=4, help="bytes per READ request (default 4 MiB)")
    parser.add_argument(
        "--max-datagram-size", type=int, default=1200, help="QUIC datagram size of server and client (default 1200)"
    )
    parser.add_argument("--record", action="store_true", help="append the table to bench/quic/RESULTS.md")
    args = parser.parse_args()
    size, chunk, datagram = args.size_mib * 1024 * 1024, args.chunk_mib * 1024 * 1024, args.max_datagram_size
    with tempfile.TemporaryDirectory(prefix="bench-quic-") as tmp:
        server = start_quic_pysmbd(Path(tmp) / "pysmbd", quic_settings=f"max_datagram_size = {datagram}")
        try:
            payload = server.share / "big.bin"
            with payload.open("wb") as handle:
                for _mib in range(args.size_mib):
                    handle.write(os.urandom(1024 * 1024))
            expected = hashlib.sha256(payload.read_bytes()).hexdigest()
            ports = {"tcp": server.tcp_port, "quic": server.quic_port}
            timings: dict = {"tcp": [], "quic": []}
            server_cpu: dict = {"tcp": [], "quic": []}
            client_cpu: dict = {"tcp": [], "quic": []}
            client_faults: dict = {"tcp": [], "quic": []}
            for _round in range(args.rounds):
                for transport in ("tcp", "quic"):  # interleaved, so drift in machine load hits both alike
                    before, client_before = cpu_seconds(server.process.pid), cpu_seconds(os.getpid())
                    faults_before = minor_faults(os.getpid())
                    elapsed, digest = read_file(
                        ports[transport],
                        transport,
                        str(server.certificate.certificate),
                        "big.bin",
                        size,
                        chunk,
                        datagram,
                    )
                    server_cpu[transport].append(cpu_seconds(server.process.pid) - before)
                    client_cpu[transport].append(cpu_seconds(os.getpid()) - client_before)
                    client_faults[transport].append(minor_faults(os.getpid()) - faults_before)
                    if digest != expected:
                        print(f"{transport}: the data read back differs from the file", file=sys.stderr)
                        return 1
                    timings[transport].append(elapsed)
        finally:
            server.stop()
    lines = [
        f"### {args.size_mib} MiB read, pysmbd over TCP vs QUIC ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Command: `.venv/bin/python bench/quic/bench_quic_read.py --size-mib {args.size_mib} --rounds {args.rounds}"
        f" --chunk-mib {args.chunk_mib} --max-datagram-size {datagram}`;"
        f" {platform.node()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end, Python {platform.python_version()};"
        f" client smbprotocol, {args.chunk_mib} MiB READs, signing on, no SMB encryption; QUIC datagrams of {datagram} bytes; every read SHA-256 checked.",
        "",
        "| transport | best s | median s | best MiB/s | median MiB/s | server CPU s | client CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for transport in ("tcp", "quic"):
        runs = sorted(timings[transport])
        median = runs[len(runs) // 2]
        cpu = sorted(server_cpu[transport])[len(runs) // 2]
        client = sorted(client_cpu[transport])[len(runs) // 2]
        lines.append(
            f"| {transport} | {runs[0]:.2f} | {median:.2f} | {args.size_mib / runs[0]:.1f} | {args.size_mib / median:.1f}"
            f" | {cpu:.2f} | {client:.2f} |"
        )
    tcp_median = sorted(timings["tcp"])[len(timings["tcp"]) // 2]
    quic_median = sorted(timings["quic"])[len(timings["quic"]) // 2]
    # On a busy host the wall time stretches with the share of CPU the two processes get; the busier of them per MiB
    # bounds the throughput a quiet 2-core host would see, so that ratio is printed too.
    reads = -(-size // chunk)
    busiest = {t: max(_median(server_cpu[t]), _median(client_cpu[t])) / args.size_mib for t in ("tcp", "quic")}
    lines += [
        "",
        f"QUIC / TCP throughput (median): {tcp_median / quic_median:.2f}. CPU columns are medians per read"
        " (server: the pysmbd process; client: this process, smbprotocol plus verify's QUIC client on qh3)."
        f" CPU of the busier process per MiB: TCP {busiest['tcp'] * 1000:.1f} ms, QUIC {busiest['quic'] * 1000:.1f} ms"
        f" (QUIC / TCP bound on a quiet host: {busiest['tcp'] / busiest['quic']:.2f})."
        f" Client minor page faults per {args.chunk_mib} MiB READ (median): TCP {_median(client_faults['tcp']) / reads:.0f},"
        f" QUIC {_median(client_faults['quic']) / reads:.0f} (fresh pages smbprotocol's copies get from malloc; they vary from run"
        " to run and slow both transports alike: bench/quic/RESULTS.md, 2026-12-03).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.record:
        with (Path(__file__).with_name("RESULTS.md")).open("a") as handle:
            handle.write(text + "\n")
    return 0


def _median(values: list) -> float:
    return sorted(values)[len(values) // 2]


if __name__ == "__main__":
    sys.exit(main())
