"""Loopback ports for test servers: free ones to listen on, and waiting until a server listens.

Tests start real servers (pysmbd, smbd, QUIC listeners) on ports the kernel picks, never on fixed ones, so that
parallel runs and a busy CI machine do not collide. The kernel only promises a port is free while a socket holds
it: a port read back here is released before the server binds it, which is good enough on loopback, where
nothing else hands out ports in the meantime but the kernel's own ephemeral range.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import List, Optional


def free_tcp_ports(count: int) -> List[int]:
    """``count`` distinct TCP ports on 127.0.0.1 the kernel says are free now.

    They are all bound at once and only then released: asking one at a time could hand out the same port twice.
    """
    sockets: List[socket.socket] = []
    try:
        for _index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """One port on 127.0.0.1 the kernel says is free now for ``kind``: SOCK_STREAM (TCP) or SOCK_DGRAM (UDP,
    for SMB over QUIC). Also what a test wants for a port where nothing listens."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 the kernel says is free now (SMB over QUIC listens on UDP)."""
    return free_port(socket.SOCK_DGRAM)


def wait_for_port(port: int, process: Optional[subprocess.Popen], timeout: float, log: Optional[Path] = None) -> None:
    """Return once something accepts a TCP connection on 127.0.0.1:``port``.

    Raise RuntimeError, with the tail of ``log`` when given, when ``process`` (the server started for it) exits
    first or nothing listens within ``timeout`` seconds: a server that dies at start says why, not just "timeout".
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                "process exited with %s before listening on %d:\n%s" % (process.returncode, port, _tail(log))
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listened on 127.0.0.1:%d within %gs:\n%s" % (port, timeout, _tail(log)))


def _tail(log: Optional[Path]) -> str:
    return log.read_text(errors="replace")[-3000:] if log and log.exists() else ""


def port_refuses(port: int) -> bool:
    """A TCP connection to 127.0.0.1:``port`` is refused (nothing listens), rather than accepted."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True
