"""The server's main loop: start listeners, reload on SIGHUP, stop on SIGTERM, keep the status file current.

Signal handlers only enqueue a command; the main loop runs reloads one at a time (gunicorn's
arbiter does the same), so a burst of SIGHUPs can never interleave two reconciliations.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from pysmbd import __version__
from pysmbd.config import Config, ConfigError, ListenerConfig, load_config
from pysmbd.server import eventlog
from pysmbd.server.listeners import Listener, ListenerManager, ListenerStatus
from pysmbd.server.runtime import CoreFactory, Runtime, default_core_factory
from pysmbd.server.statusfile import AlreadyRunning, PidFile, pid_path, status_path, write_json_atomically
from pysmbd.server.tcp import TCPListener
from pysmbd.server.workers import (
    WAITER_RETRY_INTERVAL,
    ConnectionCounts,
    locks_dir,
    worker_config,
    worker_status_path,
)

STATUS_WRITE_DELAY = 0.1  # coalesce bursts of connection events into one status write
MEMORY_STATUS_INTERVAL = 1.0  # how often the memory figures of the status file are brought up to date
SHUTDOWN_GRACE = 2.0


def iso_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class StartupError(Exception):
    """The server could not start (listener not bound, another server running)."""


class PysmbdServer:
    """One pysmbd process serving the listeners and shares of one configuration file."""

    def __init__(
        self,
        config: Config,
        *,
        core_factory: CoreFactory = default_core_factory,
        worker: Optional[Tuple[int, int]] = None,
    ) -> None:
        """``worker``: (index, count) when this process is one of several workers under ``workers.Supervisor``."""
        self.config = config
        self.state_dir = config.server.state_dir
        self.worker = worker
        self.runtime = Runtime(self._own_share(config), core_factory=core_factory, on_change=self._status_changed)
        self._waiter_timer: Optional[asyncio.TimerHandle] = None
        self._counts: Optional[ConnectionCounts] = None
        self.listeners = ListenerManager(self._make_listener)
        self._commands: Optional[asyncio.Queue] = None
        self._started = time.time()
        self._generation = 0
        self._last_reload: Optional[Dict[str, Any]] = None
        self._status_timer: Optional[asyncio.TimerHandle] = None
        self._memory_timer: Optional[asyncio.TimerHandle] = None
        self._memory_written: Dict[str, int] = {}
        self._pidfile = PidFile(pid_path(self.state_dir))
        self._status_file = (
            status_path(self.state_dir) if worker is None else worker_status_path(self.state_dir, worker[0])
        )

    def _own_share(self, config: Config) -> Config:
        """The configuration this process serves: with several workers, its part of the server-wide limits."""
        return config if self.worker is None else worker_config(config, self.worker[1])

    def _own_listeners(self, listeners: Sequence[ListenerConfig]) -> List[ListenerConfig]:
        """Every listener, but QUIC only in the first worker: a QUIC connection's datagrams must reach one process."""
        if self.worker is None or self.worker[0] == 0:
            return list(listeners)
        return [listener for listener in listeners if listener.transport != "quic"]

    # lifecycle ----------------------------------------------------------------------------------

    async def run(self, ready: Callable[[Optional[str]], None] = lambda error: None) -> int:
        """Serve until SIGTERM/SIGINT; ``ready(None)`` once listening, ``ready(message)`` if start failed."""
        try:
            await self.start()
        except StartupError as exc:
            eventlog.error("server_start_failed", error=str(exc))
            ready(str(exc))
            return 1
        ready(None)
        try:
            await self._serve_commands()
        finally:
            await self.stop()
        return 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._commands = asyncio.Queue()
        if self.worker is None:
            try:
                self._pidfile.acquire()
            except (AlreadyRunning, OSError) as exc:
                raise StartupError(str(exc)) from None
        else:
            from pysmbd.core.peer_locks import PeerLocks

            self.runtime.context.peers = PeerLocks(locks_dir(self.state_dir), *self.worker)
            self._counts = ConnectionCounts(locks_dir(self.state_dir), *self.worker)
            self.runtime.registry.elsewhere = self._counts.elsewhere
            self.runtime.registry.elsewhere_from = self._counts.elsewhere_from
            self.runtime.registry.host_changed = self._counts.host_changed
            self._waiter_timer = loop.call_later(WAITER_RETRY_INTERVAL, self._retry_lock_waiters)
        for signum, command in ((signal.SIGHUP, "reload"), (signal.SIGTERM, "stop"), (signal.SIGINT, "stop")):
            loop.add_signal_handler(signum, self._commands.put_nowait, command)
        failures = await self.listeners.apply(self._own_listeners(self.config.listeners))
        if failures:
            self.listeners.close_all()
            self._remove_signal_handlers()
            self._pidfile.release()
            raise StartupError("; ".join(f"cannot listen on {row.config.describe()}: {row.error}" for row in failures))
        self.write_status()
        self._memory_timer = loop.call_later(MEMORY_STATUS_INTERVAL, self._refresh_memory_status)
        eventlog.info(
            "server_started",
            pid=os.getpid(),
            worker=None if self.worker is None else self.worker[0],
            version=__version__,
            config=str(self.config.source),
            listeners=[listener.describe() for listener in self.config.listeners],
        )

    async def stop(self) -> None:
        self.listeners.close_all()
        for connection in self.runtime.registry.all_connections():
            connection.close()
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while self.runtime.registry.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.runtime.shutdown()
        self._remove_signal_handlers()
        if self._status_timer is not None:
            self._status_timer.cancel()
            self._status_timer = None
        if self._memory_timer is not None:
            self._memory_timer.cancel()
            self._memory_timer = None
        if self._waiter_timer is not None:
            self._waiter_timer.cancel()
            self._waiter_timer = None
        self._status_file.unlink(missing_ok=True)
        self._pidfile.release()
        eventlog.info("server_stopped", pid=os.getpid())

    def request(self, command: str) -> None:
        """Queue "reload" or "stop" (what the signal handlers do)."""
        assert self._commands is not None, "start() first"
        self._commands.put_nowait(command)

    async def _serve_commands(self) -> None:
        assert self._commands is not None
        while True:
            command = await self._commands.get()
            if command == "stop":
                eventlog.info("server_stopping")
                return
            try:
                await self.reload()
            except Exception as exc:  # a bug in a reload must not stop a server that was serving fine
                eventlog.error("reload_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
                self._finish_reload(ok=False, errors=[f"internal error: {type(exc).__name__}: {exc}"])

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)

    # reload -------------------------------------------------------------------------------------

    async def reload(self) -> List[ListenerStatus]:
        """Re-read the config file; open added listeners, then close removed ones. Return the failures."""
        eventlog.info("reload_started", config=str(self.config.source))
        try:
            config = load_config(self.config.source)
        except ConfigError as exc:
            problems = [problem.format(exc.source) for problem in exc.problems]
            eventlog.error("reload_rejected", reason="invalid configuration, nothing changed", problems=problems)
            self._finish_reload(ok=False, errors=problems)
            return []
        if config.server.state_dir != self.state_dir:
            eventlog.warning(
                "reload_ignored_setting",
                setting="server.state_dir",
                reason="the state directory changes only at restart",
                current=str(self.state_dir),
            )
        if self.worker is not None and config.server.workers != self.config.server.workers:
            eventlog.warning(
                "reload_ignored_setting",
                setting="server.workers",
                reason="the number of workers changes only at restart",
                current=self.config.server.workers,
            )
        self.config = config
        self.runtime.apply(self._own_share(config))
        failures = await self.listeners.apply(self._own_listeners(config.listeners))
        errors = [f"cannot listen on {row.config.describe()}: {row.error}" for row in failures]
        self._finish_reload(ok=not failures, errors=errors)
        return failures

    def _finish_reload(self, *, ok: bool, errors: List[str]) -> None:
        self._generation += 1
        self._last_reload = {"time": iso_time(time.time()), "ok": ok, "errors": errors}
        self.write_status()
        eventlog.info("reload_finished", ok=ok, generation=self._generation, errors=errors)

    # status -------------------------------------------------------------------------------------

    def status(self) -> Dict[str, Any]:
        registry = self.runtime.registry
        return {
            "pid": os.getpid(),
            "worker": None if self.worker is None else self.worker[0],
            "started": iso_time(self._started),
            "version": __version__,
            "config": str(self.config.source),
            "generation": self._generation,
            "listeners": [row.as_dict() for row in self.listeners.statuses()],
            "sessions": registry.sessions,
            "connections": registry.connections,
            "connections_by_listener": registry.by_listener(),
            "memory": self.runtime.memory.status(),
            "last_reload": self._last_reload,
        }

    def write_status(self) -> None:
        if self._status_timer is not None:
            self._status_timer.cancel()
            self._status_timer = None
        document = self.status()
        self._memory_written = document["memory"]
        try:
            write_json_atomically(self._status_file, document)
        except OSError as exc:
            eventlog.error("status_write_failed", path=str(self._status_file), error=str(exc))

    def _refresh_memory_status(self) -> None:
        """Rewrite the status file when the memory figures moved (they change without any connection event)."""
        self._memory_timer = asyncio.get_running_loop().call_later(MEMORY_STATUS_INTERVAL, self._refresh_memory_status)
        if self.runtime.memory.status() != self._memory_written:
            self.write_status()

    def _retry_lock_waiters(self) -> None:
        """LOCK requests waiting on another worker's lock: nothing here hears of its unlock, so look again."""
        from pysmbd.core.lock_waiters import grant_free

        self._waiter_timer = asyncio.get_running_loop().call_later(WAITER_RETRY_INTERVAL, self._retry_lock_waiters)
        for shared in list(self.runtime.context.open_files.values()):
            if shared.lock_waiters:
                grant_free(shared.lock_waiters, shared.locks)

    def _status_changed(self) -> None:
        if self._counts is not None:
            self._counts.publish(self.runtime.registry.connections)
        if self._status_timer is None:
            self._status_timer = asyncio.get_running_loop().call_later(STATUS_WRITE_DELAY, self.write_status)

    # listeners ----------------------------------------------------------------------------------

    def _make_listener(self, config: ListenerConfig) -> Listener:
        if config.transport == "quic":
            from pysmbd.server.quic import QUICListener  # qh3 is imported only where QUIC is served

            return QUICListener(config, self.runtime, self.config.quic)
        return TCPListener(config, self.runtime, reuse_port=self.worker is not None)
