"""Where the wall time of each 4 MiB READ goes, over QUIC and over TCP: a per-READ timeline of a large SMB read.

    .venv/bin/python bench/quic/timeline_quic_read.py [--size-mib 128] [--max-datagram-size 1452]

The same pysmbd and the same read as bench_quic_read.py (one file, 4 MiB READs, signing on, each read hashed), once
over TCP and once over QUIC. Both processes stamp events on the same monotonic clock (one host): the client when
smbprotocol sends a request and when its transport hands back an answer, the pysmbd process (its QUIC runner started
through this file, which wraps two methods of the QUIC adapter first) when the request's stream data reaches the
adapter and after each run of datagrams it sends. It prints the median and the 90th percentile of each step of a READ
as a Markdown table; a transport's steps follow each other and add up to its READ cycle, so the longest one is where
the time goes. TCP has no server-side stamps, so its answer is one step.
"""

from __future__ import annotations

import argparse
import atexit
import os
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EVENTS_ENV = "TIMELINE_QUIC_READ_EVENTS"
"""Where the pysmbd process writes its events (one ``name time count`` line each)."""


def serve(runner: str, arguments: list) -> None:
    """In the pysmbd process: stamp the QUIC adapter's events, then run the QUIC runner as its own ``__main__``."""
    from pysmbd.server import quic

    events: list = []
    stamp = time.monotonic
    adapter = quic.SMBQuicConnection
    stream_data, transmit = adapter._stream_data, adapter.transmit

    def stamped_stream_data(self, event) -> None:
        events.append(("request", stamp(), len(event.data)))
        stream_data(self, event)

    def stamped_transmit(self) -> None:
        runs = self._runs
        if runs is not None and not getattr(runs, "stamped", False):

            def stamped_runs(now, runs=runs):
                for run in runs(now):
                    yield run  # the caller sends it before it asks for the next one
                    events.append(("run", stamp(), len(run)))

            stamped_runs.stamped = True
            self._runs = stamped_runs
        transmit(self)

    adapter._stream_data, adapter.transmit = stamped_stream_data, stamped_transmit

    def write_events() -> None:
        with open(os.environ[EVENTS_ENV], "w") as out:
            out.writelines(f"{name} {at:.6f} {count}\n" for name, at, count in events)

    atexit.register(write_events)
    sys.argv = [runner, *arguments]
    runpy.run_path(runner, run_name="__main__")


def stamp_the_client(events: list) -> None:
    """Stamp smbprotocol's requests and answers on both transports, in this process."""
    from smbprotocol import transport

    from ansible_collections.smb.alternative_ports.plugins.module_utils import _smb_over_quic

    for cls in (transport.Tcp, _smb_over_quic.SmbQuicTransport):
        send, recv = cls.send, cls.recv

        def stamped_send(self, header, send=send) -> None:
            events.append(("send", time.monotonic(), len(header)))
            send(self, header)

        def stamped_recv(self, timeout, recv=recv):
            message = recv(self, timeout)
            events.append(("answer", time.monotonic(), len(message)))
            return message

        cls.send, cls.recv = stamped_send, stamped_recv


def read_steps(events: list, large: int) -> dict:
    """Each step of each READ (a request answered by at least ``large`` bytes), in seconds, by step name."""
    steps: dict = {}
    current = None
    last_answer = None
    for name, at, count in sorted(events, key=lambda event: event[1]):
        if name == "send":  # one request at a time: each send starts the next exchange
            if last_answer is not None:
                steps.setdefault("answer handed over to the next request (smbprotocol, the caller)", []).append(
                    at - last_answer
                )
                last_answer = None
            current = {"send": at, "runs": []}
        elif current is None:
            continue
        elif name == "request" and "request" not in current:
            current["request"] = at
        elif name == "run":
            current["runs"].append(at)
        elif name == "answer":
            if count >= large:
                current["answer"] = last_answer = at
                _add_steps(steps, current)
            current = None
    return steps


def _add_steps(steps: dict, read: dict) -> None:
    runs, answer = read["runs"], read["answer"]
    marks = [("request sent", read["send"])]
    if "request" in read:
        marks.append(("request at the server's adapter", read["request"]))
    if runs:
        marks += [("first run sent", runs[0]), ("last run sent", runs[-1])]
    marks.append(("answer handed to smbprotocol", answer))
    for (start, started), (end, ended) in zip(marks, marks[1:]):
        steps.setdefault(f"{start} to {end}", []).append(ended - started)


def read_over(transport: str, server, size: int, datagram: int) -> None:
    """The read bench_quic_read.py times (the same session, 4 MiB READs and SHA-256 check), stamped here."""
    from bench_quic_read import read_file

    port = server.quic_port if transport == "quic" else server.tcp_port
    read_file(port, transport, str(server.certificate.certificate), "big.bin", size, 4 * 1024 * 1024, datagram)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=128)
    parser.add_argument("--max-datagram-size", type=int, default=1452)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(Path(__file__).parent))  # bench_quic_read, whose read this one stamps
    from tests.support.collection import use_checkout_as_collection

    use_checkout_as_collection()  # lays out ansible_collections/smb/alternative_ports on sys.path
    from tests.support import pysmbd_server

    class _StampedPopen(subprocess.Popen):
        """subprocess.Popen that starts pysmbd's QUIC runner through ``serve`` of this file."""

        def __init__(self, command: list, **kwargs) -> None:
            if str(command[1]) == str(pysmbd_server.QUIC_RUNNER):
                command = [command[0], __file__, "--serve", *map(str, command[1:])]
            super().__init__(command, **kwargs)

    size, datagram = args.size_mib * 1024 * 1024, args.max_datagram_size
    client_events: list = []
    stamp_the_client(client_events)
    with tempfile.TemporaryDirectory(prefix="timeline-quic-") as tmp:
        server_events_file = Path(tmp) / "server-events.txt"
        os.environ[EVENTS_ENV] = str(server_events_file)
        pysmbd_server.subprocess.Popen = _StampedPopen  # only the QUIC runner is wrapped, see _StampedPopen
        server = pysmbd_server.start_quic_pysmbd(Path(tmp) / "pysmbd", quic_settings=f"max_datagram_size = {datagram}")
        steps = {}
        try:
            with (server.share / "big.bin").open("wb") as handle:
                for _mib in range(args.size_mib):
                    handle.write(os.urandom(1024 * 1024))
            for transport in ("tcp", "quic"):
                client_events.clear()
                read_over(transport, server, size, datagram)
                steps[transport] = list(client_events)
        finally:
            server.stop()  # SIGTERM: the runner returns from its main loop and the events are written
        server_events = [
            (name, float(at), int(count))
            for name, at, count in (line.split() for line in server_events_file.read_text().splitlines())
        ]
    large = 1024 * 1024
    print(
        f"# Per-READ timeline, {args.size_mib} MiB in 4 MiB READs, QUIC datagrams of {datagram} bytes"
        f" ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.1f})\n"
    )
    print("| transport | step | median ms | p90 ms | READs |")
    print("|---|---|---|---|---|")
    for transport in ("tcp", "quic"):
        events = steps[transport] + (server_events if transport == "quic" else [])
        for step, seconds in read_steps(events, large).items():
            ordered = sorted(seconds)
            median, p90 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, len(ordered) * 9 // 10)]
            print(f"| {transport} | {step} | {median * 1000:.2f} | {p90 * 1000:.2f} | {len(ordered)} |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(main())
