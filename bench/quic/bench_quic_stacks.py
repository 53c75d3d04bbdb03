"""QUIC stacks for Python 3.11 compared on one bulk stream: aioquic and qh3, each as server and as client, and TCP.

    .venv/bin/python bench/quic/bench_quic_stacks.py [--size-mib 64] [--rounds 3] [--max-datagram-size 1200]

No SMB here: a server process sends ``--size-mib`` MiB on the one bidirectional stream a client opens (what
SMB over QUIC does with a large READ), over loopback, with TLS 1.3 and ALPN ``smb``, the datagram size set on
both ends and 24 MiB flow-control windows (as verify's client and pysmbd use). Every pairing of server stack
and client stack runs in the same session, interleaved, with a plain asyncio TCP stream as the peer figure.
Server and client are separate processes, as in production. Each side uses its stack's own asyncio adapter
(``serve``/``connect``); qh3's ``connect`` brings its batching UDP transport (recvmmsg/GRO), its ``serve``
does not. It prints a Markdown table, and with ``--record`` appends it to bench/quic/RESULTS.md.

Looked at and left out: ``aiopquic`` (picoquic bindings) needs Python 3.12 or later; ``aioquic-mitmproxy`` is a
2023 fork of aioquic 0.9 with the same pure-Python packet path.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import platform
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STACKS = ("aioquic", "qh3")
# qh3's serve() reads and sends one datagram per call; "qh3-batched" is the same server on qh3's batching transport
# (recvmmsg in, GSO sendmsg out: what qh3's connect() uses on the client side). Server only.
BATCHED = "qh3-batched"
WINDOW = 24 * 1024 * 1024
CHUNK = 1024 * 1024


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _modules(stack: str):
    asyncio_api = importlib.import_module(f"{stack}.asyncio")
    configuration = importlib.import_module(f"{stack}.quic.configuration")
    events = importlib.import_module(f"{stack}.quic.events")
    return asyncio_api, configuration.QuicConfiguration, events


# ----------------------------------------------------------------------------------------------- server side


async def serve_quic(server_kind: str, port: int, size: int, datagram: int, cert: str, key: str) -> None:
    stack = "qh3" if server_kind == BATCHED else server_kind
    api, QuicConfiguration, events = _modules(stack)
    configuration = QuicConfiguration(is_client=False, alpn_protocols=["smb"], max_datagram_size=datagram)
    configuration.max_data = configuration.max_stream_data = WINDOW
    configuration.load_cert_chain(cert, key)

    class Sender(api.QuicConnectionProtocol):
        def quic_event_received(self, event) -> None:
            if isinstance(event, events.StreamDataReceived) and event.data:
                # Queue it all at once, as pysmbd queues a whole READ response: the stack paces it out.
                block = os.urandom(CHUNK)
                for offset in range(0, size, CHUNK):
                    step = min(CHUNK, size - offset)
                    self._quic.send_stream_data(event.stream_id, block[:step], end_stream=offset + step >= size)
                self.transmit()

    if server_kind == BATCHED:
        from qh3.asyncio._transport import create_optimized_datagram_transport
        from qh3.asyncio.server import QuicServer

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        await create_optimized_datagram_transport(
            asyncio.get_running_loop(),
            lambda: QuicServer(configuration=configuration, create_protocol=Sender),
            sock=sock,
        )
    else:
        await api.serve("127.0.0.1", port, configuration=configuration, create_protocol=Sender)
    print("READY", flush=True)
    await asyncio.Event().wait()


async def serve_tcp(port: int, size: int) -> None:
    block = os.urandom(CHUNK)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(2)
        sent = 0
        while sent < size:
            step = min(CHUNK, size - sent)
            writer.write(block[:step])
            sent += step
            await writer.drain()
        writer.close()

    await asyncio.start_server(handle, "127.0.0.1", port)
    print("READY", flush=True)
    await asyncio.Event().wait()


# ----------------------------------------------------------------------------------------------- client side


async def read_quic(stack: str, port: int, size: int, datagram: int) -> None:
    api, QuicConfiguration, events = _modules(stack)
    configuration = QuicConfiguration(is_client=True, alpn_protocols=["smb"], max_datagram_size=datagram)
    configuration.max_data = configuration.max_stream_data = WINDOW
    configuration.verify_mode = ssl.CERT_NONE
    if stack == "qh3":
        configuration.probe_datagram_size = False  # as verify's client: the configured size, nothing larger
    done = asyncio.get_running_loop().create_future()

    class Receiver(api.QuicConnectionProtocol):
        received = 0

        def quic_event_received(self, event) -> None:
            if isinstance(event, events.StreamDataReceived):
                self.received += len(event.data)
                if event.end_stream and not done.done():
                    done.set_result(self.received)

    async with api.connect("127.0.0.1", port, configuration=configuration, create_protocol=Receiver) as client:
        stream_id = client._quic.get_next_available_stream_id()
        client._quic.send_stream_data(stream_id, b"go")
        client.transmit()
        received = await done
    if received != size:
        raise SystemExit(f"received {received} bytes, expected {size}")


async def read_tcp(port: int, size: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"go")
    received = 0
    while True:
        data = await reader.read(CHUNK)
        if not data:
            break
        received += len(data)
    writer.close()
    if received != size:
        raise SystemExit(f"received {received} bytes, expected {size}")


# ----------------------------------------------------------------------------------------------------- driver


def start_server(kind: str, size: int, datagram: int, cert: str, key: str) -> tuple:
    sock_type = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, sock_type) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, __file__, "--serve", kind, "--port", str(port), "--size", str(size)]
    command += ["--max-datagram-size", str(datagram), "--cert", cert, "--key", key]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    if process.stdout.readline().strip() != "READY":
        raise SystemExit(f"the {kind} server did not start")
    return process, port


def run_pair(server_kind: str, client_kind: str, size: int, datagram: int, cert: str, key: str) -> tuple:
    server, port = start_server(server_kind, size, datagram, cert, key)
    try:
        server_before, client_before = cpu_seconds(server.pid), time.process_time()
        started = time.perf_counter()
        if client_kind == "tcp":
            asyncio.run(read_tcp(port, size))
        else:
            asyncio.run(read_quic(client_kind, port, size, datagram))
        elapsed = time.perf_counter() - started
        return elapsed, cpu_seconds(server.pid) - server_before, time.process_time() - client_before
    finally:
        server.kill()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-datagram-size", type=int, default=1200)
    parser.add_argument("--record", action="store_true", help="append the table to bench/quic/RESULTS.md")
    parser.add_argument("--serve", choices=("tcp", BATCHED, *STACKS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    datagram = args.max_datagram_size
    if args.serve == "tcp":
        asyncio.run(serve_tcp(args.port, args.size))
        return 0
    if args.serve:
        asyncio.run(serve_quic(args.serve, args.port, args.size, datagram, args.cert, args.key))
        return 0

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "roles" / "pysmbd" / "files" / "pysmbd" / "src"))
    from pysmbd.server.certs import generate_self_signed

    size = args.size_mib * 1024 * 1024
    pairs = [("tcp", "tcp")] + [(server, client) for server in STACKS for client in STACKS]
    pairs += [(BATCHED, client) for client in STACKS]
    timings: dict = {pair: [] for pair in pairs}
    with tempfile.TemporaryDirectory(prefix="bench-stacks-") as tmp:
        pair_files = generate_self_signed(Path(tmp) / "cert.pem", Path(tmp) / "key.pem", ["localhost"])
        cert, key = str(pair_files.certificate), str(pair_files.private_key)
        for _round in range(args.rounds):
            for pair in pairs:  # interleaved, so drift in machine load hits every pairing alike
                timings[pair].append(run_pair(pair[0], pair[1], size, datagram, cert, key))
    lines = [
        f"### QUIC stacks, one {args.size_mib} MiB stream at {datagram}-byte datagrams"
        f" ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Command: `.venv/bin/python bench/quic/bench_quic_stacks.py --size-mib {args.size_mib} --rounds {args.rounds}"
        f" --max-datagram-size {datagram}`;"
        f" {platform.node()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end, Python {platform.python_version()};"
        f" aioquic {_version('aioquic')}, qh3 {_version('qh3')}; server and client in separate processes on loopback.",
        "",
        "| server | client | median s | median MiB/s | / TCP | server CPU s | client CPU s | / TCP by CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    tcp_median = _median([run[0] for run in timings[("tcp", "tcp")]])
    # The busier process per byte bounds what a quiet host would reach; the wall time stretches with machine load.
    tcp_busiest = max(
        _median([run[1] for run in timings[("tcp", "tcp")]]), _median([run[2] for run in timings[("tcp", "tcp")]])
    )
    for pair in pairs:
        median = _median([run[0] for run in timings[pair]])
        server_cpu = _median([run[1] for run in timings[pair]])
        client_cpu = _median([run[2] for run in timings[pair]])
        lines.append(
            f"| {pair[0]} | {pair[1]} | {median:.2f} | {args.size_mib / median:.1f} | {tcp_median / median:.2f}"
            f" | {server_cpu:.2f} | {client_cpu:.2f} | {tcp_busiest / max(server_cpu, client_cpu):.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        with (Path(__file__).with_name("RESULTS.md")).open("a") as handle:
            handle.write(text + "\n")
    return 0


def _median(values: list) -> float:
    return sorted(values)[len(values) // 2]


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    sys.exit(main())
