"""Where pysmbd's QUIC server and verify's QUIC client spend their time in a large SMB read (cProfile).

    .venv/bin/python bench/quic/profile_quic_read.py [--size-mib 64] [--max-datagram-size 1200] [--top 25]

The same pysmbd and the same read as bench_quic_read.py (one file, 4 MiB READs, signing on), over QUIC only.
Three profiles are printed, sorted by own time: the pysmbd process (its QUIC runner started under cProfile; the
profile covers its whole life, start-up and handshake included, which the read dominates), smbprotocol's receiver
thread (which now drives the QUIC connection itself inside ``recv``: polling, qh3, ACKs; then smbprotocol's signing
check and parsing) and the calling thread (smbprotocol building requests and waiting for answers).
It also counts the datagrams each side sent (from a relay-free UDP socket statistic: /proc/net/snmp), so
ACK traffic shows up next to the data (a GSO send or GRO receive counts once there).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.support.collection import use_checkout_as_collection  # noqa: E402

use_checkout_as_collection()  # lays out ansible_collections/smb/alternative_ports on sys.path

from smbprotocol import connection as smb_connection  # noqa: E402

from ansible_collections.smb.alternative_ports.plugins.module_utils import _smb_over_quic  # noqa: E402
from tests.support import pysmbd_server  # noqa: E402
from tests.support.accounts import QUIC_PASSWORD as PASSWORD  # noqa: E402
from tests.support.accounts import QUIC_USER as USER  # noqa: E402
from tests.support.pysmbd_server import start_quic_pysmbd  # noqa: E402
from tests.support.smb_session import SmbSession  # noqa: E402

PROFILES: dict = {}


class _ProfiledThread(threading.Thread):
    """threading.Thread whose target runs under cProfile (used for smbprotocol's receiver thread)."""

    def run(self) -> None:
        profile = cProfile.Profile()
        PROFILES[self.name] = profile
        profile.runcall(super().run)


def udp_datagrams() -> tuple:
    """(InDatagrams, OutDatagrams, RcvbufErrors) of the whole host, from /proc/net/snmp."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
    fields = dict(zip(lines[0][1:], (int(value) for value in lines[1][1:])))
    return fields["InDatagrams"], fields["OutDatagrams"], fields["RcvbufErrors"]


class _ProfiledPopen(subprocess.Popen):
    """subprocess.Popen that starts pysmbd's QUIC runner under cProfile, writing to SERVER_PROFILE."""

    def __init__(self, command: list, **kwargs) -> None:
        if str(command[1]) == str(pysmbd_server.QUIC_RUNNER):
            command = [command[0], "-m", "cProfile", "-o", str(SERVER_PROFILE[0]), *command[1:]]
        super().__init__(command, **kwargs)


SERVER_PROFILE: list = []


def report(title: str, profile, top: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    return f"## {title}\n\n```\n{out.getvalue().strip()}\n```\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--max-datagram-size", type=int, default=1200)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    size, chunk, datagram = args.size_mib * 1024 * 1024, 4 * 1024 * 1024, args.max_datagram_size
    smb_connection.threading.Thread = _ProfiledThread  # only smbprotocol's connection threads are profiled this way
    with tempfile.TemporaryDirectory(prefix="profile-quic-") as tmp:
        SERVER_PROFILE[:] = [Path(tmp) / "server.prof"]
        pysmbd_server.subprocess.Popen = _ProfiledPopen  # only the QUIC runner is wrapped, see _ProfiledPopen
        server = start_quic_pysmbd(Path(tmp) / "pysmbd", quic_settings=f"max_datagram_size = {datagram}")
        try:
            with (server.share / "big.bin").open("wb") as handle:
                for _mib in range(args.size_mib):
                    handle.write(os.urandom(1024 * 1024))
            cafile = str(server.certificate.certificate)
            session = SmbSession(
                server.quic_port,
                USER,
                PASSWORD,
                connect=lambda c: _smb_over_quic.connect_smb_over_quic(
                    c, 10, cafile=cafile, max_datagram_size=datagram
                ),
            )
            handle = session.open_file("big.bin", write=False)
            caller = cProfile.Profile()
            before = udp_datagrams()
            started = time.perf_counter()
            caller.enable()
            for offset in range(0, size, chunk):
                handle.read(offset, min(chunk, size - offset))
            caller.disable()
            elapsed = time.perf_counter() - started
            after = udp_datagrams()
            handle.close()
            session.close()
        finally:
            server.stop()  # SIGTERM: the runner returns from its main loop and cProfile writes its file
        server_report = report("pysmbd process (QUIC runner)", str(SERVER_PROFILE[0]), args.top)
    received, sent, dropped = (b - a for a, b in zip(before, after))
    print(
        f"# QUIC read of {args.size_mib} MiB at {datagram}-byte datagrams: {elapsed:.2f} s "
        f"({args.size_mib / elapsed:.1f} MiB/s, under cProfile)\n\n"
        f"UDP datagrams on the host during the read: {received} received, {sent} sent, {dropped} dropped for a full"
        f" receive buffer (both ends are on this host, so each datagram counts once in each column; the kernel counts"
        f" a GSO send or a GRO receive once, however many datagrams it carries).\n"
    )
    print(server_report)
    for name, profile in PROFILES.items():
        print(report(f"receiver thread ({name}): QUIC connection and smbprotocol", profile, args.top))
    print(report("calling thread (smbprotocol)", caller, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
