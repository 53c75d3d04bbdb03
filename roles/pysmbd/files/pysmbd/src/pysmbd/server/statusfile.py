"""The status file (``<state_dir>/status.json``) and the pidfile (``<state_dir>/pysmbd.pid``).

The server rewrites the status file atomically (write a temporary file, then rename) so a reader
never sees half a document. The pidfile is held with an exclusive ``flock`` for the life of the
server: a reader that can take the lock knows no server is running, even if a stale pid remains.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

STATUS_FILE_NAME = "status.json"
PID_FILE_NAME = "pysmbd.pid"


def status_path(state_dir: Path) -> Path:
    return state_dir / STATUS_FILE_NAME


def pid_path(state_dir: Path) -> Path:
    return state_dir / PID_FILE_NAME


def write_json_atomically(path: Path, document: Dict[str, Any]) -> None:
    """Replace ``path`` with ``document`` in one rename, readable by everyone (it holds no secret)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2, sort_keys=False)
            stream.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_status(state_dir: Path) -> Optional[Dict[str, Any]]:
    """The last status the server wrote, or None when there is none."""
    try:
        return json.loads(status_path(state_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


class AlreadyRunning(Exception):
    """Another pysmbd holds the pidfile of this state directory."""


@dataclass
class PidFile:
    """The pidfile of a running server, locked until ``release()``."""

    path: Path
    _fd: int = -1

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise AlreadyRunning(
                    f"another pysmbd (pid {read_pid(self.path) or 'unknown'}) already uses {self.path}; "
                    "stop it or give this server another state_dir"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    @property
    def fd(self) -> int:
        """The locked descriptor (-1 when not held); a forked worker closes its copy."""
        return self._fd

    def release(self) -> None:
        if self._fd >= 0:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = -1


def read_pid(path: Path) -> Optional[int]:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def running_pid(state_dir: Path) -> Optional[int]:
    """The pid of the server that holds this state directory's pidfile lock, or None when none does."""
    path = pid_path(state_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
            return read_pid(path)
        raise
    finally:
        os.close(fd)  # closing drops our shared lock if we got it
    return None
