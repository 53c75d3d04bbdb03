"""``[server] workers = N``: a supervisor process and N worker processes, each a whole pysmbd event loop.

Why: one Python process runs on one CPU at a time (AES-CMAC signing holds the GIL), and on a loaded machine the
kernel shares CPU per runnable thread, so one process serving many clients gets a small share. Samba runs one
process per connection.

How it works:

* every worker binds every TCP listener itself with ``SO_REUSEPORT``; the kernel spreads new connections over the
  workers by address hash, and a connection (its sessions, trees and opens) stays in the worker that accepted it.
  QUIC is served by worker 0 only: a QUIC connection's datagrams must all reach the process that owns it, and
  ``SO_REUSEPORT`` on UDP spreads them by address, which a migrating client changes;
* share modes and byte-range locks hold across workers (``pysmbd.core.peer_locks``: kernel OFD locks under
  ``<state_dir>/locks``); a pending delete (DeletePending) is known only in the worker that set it;
* ``max_connections`` and ``max_connections_per_address`` count the connections of every worker
  (``ConnectionCounts``); a worker makes room by closing its own oldest connection without a session. The other
  server-wide limits are divided between the workers, rounded up (``worker_config``): max_open_files, max_memory
  and login_failure_limit;
* the supervisor holds the pidfile and writes ``status.json``, summing the workers' own status files
  (``<state_dir>/workers/N.json``); SIGHUP (``pysmbd reload``) is forwarded to every worker, each reconciling its
  own listeners as a single process does (new ports opened first, removed ones closed after), and the reload is
  reported finished when every worker has; SIGTERM stops them all; a worker that dies is started again.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import mmap
import os
import signal
import struct
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from pysmbd import __version__
from pysmbd.config import Config, ConfigError, load_config
from pysmbd.server import eventlog
from pysmbd.server.statusfile import AlreadyRunning, PidFile, pid_path, status_path, write_json_atomically

WAITER_RETRY_INTERVAL = 0.2
"""How often a worker looks again at LOCK requests that may wait on another worker's lock."""
READY_TIMEOUT = 60.0
RELOAD_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
STATUS_INTERVAL = 0.5
RESTART_DELAY = 1.0
"""A worker that died within this many seconds of its start waits this long before it is started again."""
_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)


def locks_dir(state_dir: Path) -> Path:
    return state_dir / "locks"


def worker_status_path(state_dir: Path, index: int) -> Path:
    return state_dir / "workers" / f"{index}.json"


class ConnectionCounts:
    """Each worker's connections, in a small shared file, so that ``max_connections`` and
    ``max_connections_per_address`` count the connections of every worker.

    Per worker: its total (8 bytes) and a row of 16-bit counts per slot of client address (a hash; addresses that
    share a slot count together, which can only refuse early, never admit more). Each worker writes only its own
    part, so no lock is needed; two workers admitting at the same instant may each pass a limit by one."""

    FILE = "connections"
    SLOTS = 1 << 16

    def __init__(self, directory: Path, index: int, count: int) -> None:
        self.index, self.count = index, count
        fd = os.open(directory / self.FILE, os.O_RDWR | os.O_CLOEXEC)
        try:
            self._map = mmap.mmap(fd, self.size(count))
        finally:
            os.close(fd)
        self._slots: Dict[int, int] = {}
        self.clear(index)

    @classmethod
    def size(cls, count: int) -> int:
        return count * (8 + 2 * cls.SLOTS)

    @classmethod
    def prepare(cls, directory: Path, count: int) -> None:
        with open(directory / cls.FILE, "wb") as stream:
            stream.truncate(cls.size(count))

    def _row(self, index: int) -> int:
        return 8 * self.count + 2 * self.SLOTS * index

    def clear(self, index: int) -> None:
        """Zero a worker's counts (its own at start; the supervisor's for a worker that died)."""
        struct.pack_into("=Q", self._map, 8 * index, 0)
        row = self._row(index)
        self._map[row : row + 2 * self.SLOTS] = bytes(2 * self.SLOTS)

    def publish(self, connections: int) -> None:
        struct.pack_into("=Q", self._map, 8 * self.index, connections)

    def elsewhere(self) -> int:
        """Connections held by the other workers."""
        counts = struct.unpack_from(f"={self.count}Q", self._map)
        return sum(counts) - counts[self.index]

    def _slot(self, host: str) -> int:
        return hash(host) % self.SLOTS  # workers fork from one supervisor: one hash seed

    def host_changed(self, host: str, delta: int) -> None:
        slot = self._slot(host)
        held = max(self._slots.get(slot, 0) + delta, 0)
        if held:
            self._slots[slot] = held
        else:
            self._slots.pop(slot, None)
        struct.pack_into("=H", self._map, self._row(self.index) + 2 * slot, min(held, 0xFFFF))

    def elsewhere_from(self, host: str) -> int:
        """Connections the other workers hold from ``host`` (or from an address of the same slot)."""
        offset = 2 * self._slot(host)
        return sum(
            struct.unpack_from("=H", self._map, self._row(index) + offset)[0]
            for index in range(self.count)
            if index != self.index
        )


def _part(value: int, count: int) -> int:
    return math.ceil(value / count) if value else 0


def worker_config(config: Config, count: int) -> Config:
    """What one of ``count`` workers enforces of the server-wide limits (each rounded up; 0 stays "no cap");
    ``max_connections`` and ``max_connections_per_address`` are not divided: the workers count each other's
    connections (``ConnectionCounts``)."""
    server = config.server
    if count <= 1:
        return config
    max_open_files = max(_part(server.max_open_files, count), 16)
    divided = dataclasses.replace(
        server,
        max_open_files=max_open_files,
        max_opens_per_session=min(server.max_opens_per_session, max_open_files),
        max_memory=max(server.max_memory // count, server.max_memory_per_connection),
        login_failure_limit=_part(server.login_failure_limit, count),
    )
    return dataclasses.replace(config, server=divided)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: a worker whose supervisor was killed (SIGKILL) stops too, freeing its ports."""
    import ctypes  # here, in workers only: the import costs every one-process server ~300 KiB

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


@dataclasses.dataclass
class Worker:
    index: int
    pid: int = 0
    started: float = 0.0


class Supervisor:
    """The parent of the workers: start, restart, forward reload and stop, sum the status."""

    def __init__(self, config: Config, run_worker: Callable[[Config, int, int, Callable], int]) -> None:
        """``run_worker(config, index, count, ready)`` serves as one worker and returns its exit code."""
        self.config = config
        self.count = config.server.workers
        self.state_dir = config.server.state_dir
        self._run_worker = run_worker
        self._workers = [Worker(index) for index in range(self.count)]
        self._pidfile = PidFile(pid_path(self.state_dir))
        self._started = time.time()
        self._generation = 0
        self._last_reload: Optional[Dict[str, Any]] = None
        self._stopping = False

    # lifecycle ----------------------------------------------------------------------------------

    def run(self, ready: Callable[[Optional[str]], None]) -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)  # taken one at a time by sigtimedwait below
        try:
            self._pidfile.acquire()
        except (AlreadyRunning, OSError) as exc:
            eventlog.error("server_start_failed", error=str(exc))
            ready(str(exc))
            return 1
        try:
            # imported before the fork, so the workers share these pages instead of each loading its own copy
            for module in ("pysmbd.core.connection", "pysmbd.rpc.pipes"):
                importlib.import_module(module)
            from pysmbd.core.peer_locks import prepare_directory

            prepare_directory(locks_dir(self.state_dir), self.count)
            ConnectionCounts.prepare(locks_dir(self.state_dir), self.count)
            self._counts = ConnectionCounts(locks_dir(self.state_dir), 0, self.count)
            worker_status_path(self.state_dir, 0).parent.mkdir(parents=True, exist_ok=True)
            for worker in self._workers:
                worker_status_path(self.state_dir, worker.index).unlink(missing_ok=True)
            error = self._start_all()
            if error is not None:
                eventlog.error("server_start_failed", error=error)
                self._stop_all()
                ready(error)
                return 1
            self._write_status()
            eventlog.info("server_started", pid=os.getpid(), workers=self.count, version=__version__)
            ready(None)
            self._serve()
            return 0
        finally:
            self._stop_all()
            status_path(self.state_dir).unlink(missing_ok=True)
            self._pidfile.release()
            eventlog.info("server_stopped", pid=os.getpid())

    def _spawn(self, worker: Worker) -> int:
        """Fork one worker; return the read end of the pipe it reports its start on."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_fd)
            code = 1
            try:
                os.close(self._pidfile.fd)  # the supervisor's lock stays the supervisor's
                _die_with_parent()
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                for signum in _SIGNALS:
                    signal.signal(signum, signal.SIG_DFL)

                def report(error: Optional[str]) -> None:
                    os.write(write_fd, b"ok" if error is None else b"error " + error.encode("utf-8", "replace"))
                    os.close(write_fd)

                code = self._run_worker(self.config, worker.index, self.count, report)
            except BaseException as exc:  # a worker never returns into the supervisor's code
                eventlog.error("worker_crashed", worker=worker.index, error=f"{type(exc).__name__}: {exc}")
            finally:
                os._exit(code)
        os.close(write_fd)
        worker.pid, worker.started = pid, time.monotonic()
        return read_fd

    @staticmethod
    def _read_ready(fd: int, timeout: float) -> str:
        import select

        chunks: List[bytes] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                    return f"error the worker did not report ready within {timeout:g} seconds"
                chunk = os.read(fd, 4096)
                if not chunk:
                    return b"".join(chunks).decode("utf-8", "replace") or "error the worker stopped before it was ready"
                chunks.append(chunk)
        finally:
            os.close(fd)

    def _start_all(self) -> Optional[str]:
        """Start every worker, one after the other; the first failure (e.g. a port in use) stops the start."""
        for worker in self._workers:
            message = self._read_ready(self._spawn(worker), READY_TIMEOUT)
            if message != "ok":
                return message[len("error ") :] if message.startswith("error ") else message
        return None

    def _stop_all(self) -> None:
        self._stopping = True
        alive = [worker for worker in self._workers if worker.pid]
        for worker in alive:
            try:
                os.kill(worker.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        for worker in alive:
            while time.monotonic() < deadline:
                done, _status = os.waitpid(worker.pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.02)
            else:
                try:
                    os.kill(worker.pid, signal.SIGKILL)
                    os.waitpid(worker.pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
            worker.pid = 0

    # the loop -----------------------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            info = signal.sigtimedwait(_SIGNALS, STATUS_INTERVAL)
            if info is None:
                self._write_status()
            elif info.si_signo in (signal.SIGTERM, signal.SIGINT):
                eventlog.info("server_stopping")
                return
            elif info.si_signo == signal.SIGCHLD:
                self._restart_dead()
            elif info.si_signo == signal.SIGHUP:
                self._reload()

    def _restart_dead(self) -> None:
        for worker in self._workers:
            if not worker.pid:
                continue
            done, status = os.waitpid(worker.pid, os.WNOHANG)
            if not done:
                continue
            lived = time.monotonic() - worker.started
            eventlog.error(
                "worker_died",
                worker=worker.index,
                pid=worker.pid,
                status=os.waitstatus_to_exitcode(status),
                action="starting it again",
            )
            worker.pid = 0
            worker_status_path(self.state_dir, worker.index).unlink(missing_ok=True)
            self._counts.clear(worker.index)  # its connections died with it
            if lived < RESTART_DELAY:
                time.sleep(RESTART_DELAY)  # a worker that cannot start must not spin
            message = self._read_ready(self._spawn(worker), READY_TIMEOUT)
            if message != "ok":
                eventlog.error("worker_restart_failed", worker=worker.index, error=message)
        self._write_status()

    def _reload(self) -> None:
        """Forward SIGHUP to every worker and wait until each has finished its reload."""
        eventlog.info("reload_started", config=str(self.config.source), workers=self.count)
        try:  # what a restarted worker is given from now on
            self.config = dataclasses.replace(load_config(self.config.source), source=self.config.source)
        except ConfigError:
            pass  # every worker reports the problems in its own status
        before = {worker.index: self._worker_generation(worker) for worker in self._workers}
        for worker in self._workers:
            if worker.pid:
                os.kill(worker.pid, signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_TIMEOUT
        pending = {worker.index for worker in self._workers if worker.pid}
        while pending and time.monotonic() < deadline:
            pending = {index for index in pending if self._worker_generation(self._workers[index]) <= before[index]}
            if pending:
                time.sleep(0.02)
        documents = self._worker_documents()
        errors: List[str] = []
        ok = not pending
        if pending:
            errors.append(f"workers {sorted(pending)} did not finish reloading within {RELOAD_TIMEOUT:g} seconds")
        for document in documents:
            last = document.get("last_reload") or {}
            ok = ok and bool(last.get("ok"))
            errors.extend(error for error in last.get("errors", []) if error not in errors)
        self._generation += 1
        self._last_reload = {"time": _iso(time.time()), "ok": ok, "errors": errors}
        self._write_status()
        eventlog.info("reload_finished", ok=ok, generation=self._generation, errors=errors)

    # status -------------------------------------------------------------------------------------

    def _worker_document(self, worker: Worker) -> Optional[Dict[str, Any]]:
        try:
            document = json.loads(worker_status_path(self.state_dir, worker.index).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return document if document.get("pid") == worker.pid else None

    def _worker_generation(self, worker: Worker) -> int:
        document = self._worker_document(worker)
        return -1 if document is None else document.get("generation", -1)

    def _worker_documents(self) -> List[Dict[str, Any]]:
        return [document for document in map(self._worker_document, self._workers) if document is not None]

    def status(self) -> Dict[str, Any]:
        return summed_status(
            self._worker_documents(),
            pid=os.getpid(),
            started=_iso(self._started),
            config=str(self.config.source),
            generation=self._generation,
            last_reload=self._last_reload,
            workers=[{"index": worker.index, "pid": worker.pid or None} for worker in self._workers],
        )

    def _write_status(self) -> None:
        try:
            write_json_atomically(status_path(self.state_dir), self.status())
        except Exception as exc:  # the supervisor must outlive a bad worker document or a full disk
            eventlog.error("status_write_failed", path=str(status_path(self.state_dir)), error=str(exc))


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def summed_status(documents: List[Dict[str, Any]], **fields: Any) -> Dict[str, Any]:
    """One status document for the whole server from the workers' own: connections, sessions and memory summed;
    a listener is "listening" when every worker that serves it listens (QUIC: worker 0 alone)."""
    listeners: Dict[tuple, Dict[str, Any]] = {}
    for document in documents:
        for row in document.get("listeners", []):
            key = (row["transport"], row["address"], row["port"])
            held = listeners.get(key)
            if held is None or (held["state"] == "listening" and row["state"] != "listening"):
                listeners[key] = dict(row)
    by_listener: Dict[tuple, Dict[str, Any]] = {}
    for document in documents:
        for row in document.get("connections_by_listener") or []:
            key = (row["transport"], row["address"], row["port"])
            held = by_listener.setdefault(key, {**row, "connections": 0, "sessions": 0, "peers": []})
            held["connections"] += row["connections"]
            held["sessions"] += row["sessions"]
            held["peers"] = sorted(held["peers"] + row["peers"])
    memory: Dict[str, int] = {}
    for document in documents:
        for name, value in (document.get("memory") or {}).items():
            if isinstance(value, (int, float)):
                combine = max if name in ("largest_connection", "per_connection_limit") else (lambda a, b: a + b)
                memory[name] = combine(memory.get(name, 0), value)
    status = {
        "pid": fields.pop("pid"),
        "started": fields.pop("started"),
        "version": __version__,
        "config": fields.pop("config"),
        "generation": fields.pop("generation"),
        "listeners": sorted(listeners.values(), key=lambda row: (row["transport"], row["port"], row["address"])),
        "sessions": sum(document.get("sessions", 0) for document in documents),
        "connections": sum(document.get("connections", 0) for document in documents),
        "connections_by_listener": [by_listener[key] for key in sorted(by_listener)],
        "memory": memory,
        "last_reload": fields.pop("last_reload"),
    }
    status.update(fields)
    return status
