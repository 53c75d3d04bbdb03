"""State every connection of one server shares: the core's ServerContext, limits and the registry.

A reload updates this object in place, so connections that stay see the new shares, users file
and limits on their next request, and new connections get them from the start.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional

from pysmbd.config import Config
from pysmbd.core.context import PipeHandler, ServerContext, ShareConfig, new_server_guid
from pysmbd.server import eventlog
from pysmbd.server.admission import LoginThrottle, RateLimitedLog
from pysmbd.server.budget import MemoryBudget
from pysmbd.server.core_events import CoreConnection
from pysmbd.server.frame_deadline import FrameDeadlines
from pysmbd.server.registry import ConnectionRegistry

CoreFactory = Callable[[ServerContext, str, str], CoreConnection]
# Threads for large READ/WRITE system calls; each connection runs one at a time, so this bounds how many
# connections wait on the disk at once.
IO_THREADS = min(16, (os.cpu_count() or 1) + 4)


def default_core_factory(context: ServerContext, peer: str, transport: str) -> CoreConnection:
    from pysmbd.core.connection import SMBServerConnection  # the core is imported only when serving

    return SMBServerConnection(context, transport=transport, peer=peer)


def _call_later(delay: float, callback: Callable[[], None]) -> bool:
    """The rate-limited log's scheduler: ``call_later`` on the running loop (summaries wait for the next event
    when there is none, as in tests that drive the runtime without a loop)."""
    try:
        asyncio.get_running_loop().call_later(delay, callback)
    except RuntimeError:
        return False
    return True


def _schedule(delay: float, callback: Callable[[], None]) -> None:
    """The core's timer (oplock break and durable handle timeouts): ``call_later`` on the running loop; without a
    loop (the core driven by hand) the timeout never fires, as the core documents."""
    try:
        asyncio.get_running_loop().call_later(delay, callback)
    except RuntimeError:
        pass


def apply_open_settings(context: ServerContext, config: Config) -> None:
    """The ``[server]`` settings of oplocks and durable handles, at start and at each reload."""
    settings = config.server
    context.oplocks = settings.oplocks
    context.oplock_break_timeout = settings.oplock_break_timeout
    context.durable_handles = settings.durable_handles
    context.durable_handle_timeout = settings.durable_handle_timeout
    context.kept_durable_opens.limit = settings.max_kept_durable_opens


def share_configs(config: Config) -> dict:
    return {
        share.name: ShareConfig(
            name=share.name,
            path=share.path,
            read_only=share.read_only,
            guest_ok=share.guest_ok,
            encrypt=share.encrypt,
            comment=share.comment,
            valid_users=frozenset(share.valid_users),
            read_only_users=frozenset(share.read_only_users),
        )
        for share in config.shares
    }


def _access(share: Optional[ShareConfig]) -> tuple:
    """What a connected tree keeps from its share (the comment does not matter)."""
    if share is None:
        return ()
    return (share.path, share.read_only, share.guest_ok, share.encrypt, share.valid_users, share.read_only_users)


def _call_soon(callback: Callable[[], None]) -> object:
    return asyncio.get_running_loop().call_soon(callback)


class Runtime:
    """The server-wide state behind every adapter."""

    def __init__(
        self,
        config: Config,
        *,
        core_factory: CoreFactory = default_core_factory,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self._core_factory = core_factory
        self.connection_log = RateLimitedLog(config.server.refused_log_interval, schedule=_call_later)
        self.registry = ConnectionRegistry(
            config.server.max_connections,
            on_change,
            max_connections_per_address=config.server.max_connections_per_address,
            connection_log=self.connection_log,
        )
        self.login_throttle = LoginThrottle(
            config.server.login_failure_limit, config.server.login_failure_window, config.server.login_delay_max
        )
        self.context = ServerContext(
            server_name=config.server.name,
            workgroup=config.server.workgroup,
            server_guid=new_server_guid(),
            users_file=config.server.users_file,
            require_signing=config.server.require_signing,
            max_frame_size=config.server.max_frame_size,
            max_open_files=config.server.max_open_files,
            max_opens_per_session=config.server.max_opens_per_session,
            shares=share_configs(config),
            start_time=time.time(),
            pipe_factory=self.open_pipe,
            schedule=_schedule,
        )
        apply_open_settings(self.context, config)
        self.memory = MemoryBudget(
            config.server.max_memory_per_connection, config.server.max_memory, schedule=_call_soon
        )
        self.io_pool = ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="pysmbd-io")
        self.frame_deadlines = FrameDeadlines(lambda: self.frame_timeout)

    def shutdown(self) -> None:
        """Stop the IO threads once the connections are gone (queued jobs still run: they close their files)."""
        self.io_pool.shutdown(wait=False)

    @property
    def idle_timeout(self) -> float:
        return self.config.server.idle_timeout

    @property
    def login_timeout(self) -> float:
        return self.config.server.login_timeout

    @property
    def frame_timeout(self) -> float:
        return self.config.server.frame_timeout

    @property
    def drain_timeout(self) -> float:
        return self.config.server.drain_timeout

    def apply(self, config: Config) -> List[str]:
        """Take a reloaded configuration (listeners are the manager's business).

        Trees keep the share settings they connected with, so connections that use a share that was
        removed or changed are closed: their clients reconnect and get the new settings (or are refused).
        Returns the names of those shares.
        """
        before = share_configs(self.config)
        after = share_configs(config)
        changed = [name for name, share in before.items() if _access(after.get(name)) != _access(share)]
        affected = self.registry.using_shares(changed)
        if affected:
            eventlog.info(
                "connections_closed_for_share_change",
                shares=changed,
                connections=len(affected),
                reason="their trees use a share the reload removed or changed; the clients reconnect",
            )
        for connection in affected:
            connection.close()
        self.config = config
        self.registry.max_connections = config.server.max_connections
        self.registry.max_connections_per_address = config.server.max_connections_per_address
        self.connection_log.interval = config.server.refused_log_interval
        self.login_throttle.failure_limit = config.server.login_failure_limit
        self.login_throttle.window = config.server.login_failure_window
        self.login_throttle.max_delay = config.server.login_delay_max
        self.memory.configure(config.server.max_memory_per_connection, config.server.max_memory)
        context = self.context
        context.server_name = config.server.name
        context.workgroup = config.server.workgroup
        context.users_file = config.server.users_file
        context.require_signing = config.server.require_signing
        context.max_frame_size = config.server.max_frame_size
        context.max_open_files = config.server.max_open_files
        context.max_opens_per_session = config.server.max_opens_per_session
        context.shares = after
        apply_open_settings(context, config)
        return changed

    def new_core_connection(self, *, peer: str, transport: str) -> CoreConnection:
        return self._core_factory(self.context, peer, transport)

    def open_pipe(self, name: str) -> Optional[PipeHandler]:
        """The core's ``pipe_factory``: a fresh pipe for each CREATE on IPC$."""
        from pysmbd.rpc.pipes import open_pipe

        return open_pipe(name, self.context)
