"""``pysmbd serve --daemon``: detach from the terminal when no service manager does it for us.

The foreground process waits until the detached server reports that its listeners are bound (or
why they are not) over a pipe, and exits 0 or 1 accordingly, so ``pysmbd serve --daemon && next``
only goes on when the server really serves. The pidfile is written by the server itself.
"""

from __future__ import annotations

import os
import select
import sys
import time
from pathlib import Path
from typing import Optional

READY_TIMEOUT = 60.0


def detach(log_file: Path) -> int:
    """Fork twice and return, in the daemon, the descriptor ``report_ready`` writes to.

    The original process never returns: it exits with the daemon's start result.
    """
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child:
        os.close(write_fd)
        message = _read_report(read_fd, READY_TIMEOUT)
        os.waitpid(child, 0)
        if message == "ok":
            os._exit(0)
        reason = (
            message[len("error ") :]
            if message.startswith("error ")
            else f"pysmbd stopped before it was ready; see {log_file}"
        )
        print(f"pysmbd: {reason}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)
    os.close(read_fd)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")
    os.umask(0o022)
    _redirect_stdio(log_file)
    return write_fd


def report_ready(fd: int, error: Optional[str]) -> None:
    """Tell the waiting foreground process whether the server started."""
    try:
        os.write(fd, b"ok" if error is None else b"error " + error.encode("utf-8", "replace"))
    finally:
        os.close(fd)


def _read_report(fd: int, timeout: float) -> str:
    chunks = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return f"error pysmbd did not report ready within {timeout:g} seconds"
        readable = select.select([fd], [], [], remaining)[0]
        if not readable:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            os.close(fd)
            return b"".join(chunks).decode("utf-8", "replace")
        chunks.append(chunk)


def _redirect_stdio(log_file: Path) -> None:
    """stdin from /dev/null; stdout and stderr (tracebacks included) to the log file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(null_fd)
    os.close(log_fd)
