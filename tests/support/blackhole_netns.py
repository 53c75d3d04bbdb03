"""A network namespace whose firewall drops every TCP packet: a host that never answers, for timeout tests.

Needs root (ip netns, veth, nftables). The namespace sits at a random /30 in 198.18.0.0/15 (the benchmarking
range): nothing real lives there, and parallel runs rarely clash.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pytest

from tests.support.peers import require_tool


@dataclass
class Blackhole:
    """A network namespace at ``address`` (reached over a veth pair) whose firewall drops every TCP packet,
    except that ``reject_port`` answers with ICMP host-unreachable."""

    namespace: str
    address: str
    reject_port: int


def _run(*args: str, stdin: str | None = None) -> None:
    subprocess.run(list(args), input=stdin, text=True, capture_output=True, timeout=30, check=True)


@contextmanager
def blackholed_namespace(reject_port: int = 4446) -> Iterator[Blackhole]:
    """Build the namespace, yield it, and remove it with its veth pair; fail the test when it cannot be built."""
    ip = require_tool("ip", "iproute2")
    nft = require_tool("nft", "nftables")
    tag = "%05d" % (os.getpid() % 100000)
    namespace, outer, inner = "vfy-ns-" + tag, "vfyo" + tag, "vfyi" + tag
    base = (198 << 24) | (18 << 16) | (random.randrange(1 << 15) << 2)
    outer_ip, inner_ip = socket.inet_ntoa(struct.pack(">I", base + 1)), socket.inet_ntoa(struct.pack(">I", base + 2))

    def remove() -> None:
        subprocess.run([ip, "netns", "del", namespace], capture_output=True, timeout=30, check=False)
        subprocess.run([ip, "link", "del", outer], capture_output=True, timeout=30, check=False)

    try:
        _run(ip, "netns", "add", namespace)
        _run(ip, "link", "add", outer, "type", "veth", "peer", "name", inner)
        _run(ip, "link", "set", inner, "netns", namespace)
        _run(ip, "addr", "add", outer_ip + "/30", "dev", outer)
        _run(ip, "link", "set", outer, "up")
        _run(ip, "-n", namespace, "addr", "add", inner_ip + "/30", "dev", inner)
        _run(ip, "-n", namespace, "link", "set", inner, "up")
        _run(ip, "-n", namespace, "link", "set", "lo", "up")
        rules = (
            "table inet verify_blackhole {\n chain input {\n  type filter hook input priority 0; policy accept;\n"
            "  tcp dport %d reject with icmp type host-unreachable\n  meta l4proto tcp drop\n }\n}\n" % reject_port
        )
        _run(ip, "netns", "exec", namespace, nft, "-f", "-", stdin=rules)
    except subprocess.CalledProcessError as exc:
        remove()
        pytest.fail("could not build the blackhole namespace (needs root): %s: %s" % (exc.cmd, exc.stderr))
    try:
        yield Blackhole(namespace, inner_ip, reject_port)
    finally:
        remove()
