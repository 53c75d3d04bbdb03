"""Listeners and the manager that reconciles them with the configuration, without dropping clients.

A listener is anything with ``open()`` and ``close()`` keyed by ``(transport, address, port)``; TCP is
a listening socket with its accept task (``pysmbd.server.tcp``), QUIC a UDP endpoint
(``pysmbd.server.quic``) that, once closed, takes no new client but serves its own until they leave. On a
reload the manager opens what was added *first*, and only when every one of them is bound does it
close what was removed. If one cannot
be bound (port in use, no permission) the old set stays open, so clients that use it keep working,
and the failure is reported. Closing a listener never closes the connections it accepted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Protocol, Sequence

from pysmbd.config import ListenerConfig, ListenerKey
from pysmbd.server import eventlog


class ListenerNotSupported(Exception):
    """This pysmbd cannot serve the listener's transport yet."""


class Listener(Protocol):
    config: ListenerConfig

    async def open(self) -> None:
        """Start accepting; raise OSError (or ListenerNotSupported) when that is impossible."""

    def close(self) -> None:
        """Stop accepting new connections; connections already accepted stay open."""


@dataclass
class ListenerStatus:
    """One row of ``pysmbd status``."""

    config: ListenerConfig
    state: str  # "listening" | "failed"
    error: Optional[str] = None
    configured: bool = True
    """False for a listener the config removed but that stays open because the reload failed."""

    def as_dict(self) -> dict:
        return {
            "transport": self.config.transport,
            "address": self.config.address,
            "port": self.config.port,
            "state": self.state,
            "error": self.error,
            "configured": self.configured,
        }


def describe_bind_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno:
        return f"{os.strerror(exc.errno).lower()} (errno {exc.errno})"
    return str(exc) or type(exc).__name__


class ListenerManager:
    """The set of open listeners, reconciled with the desired set by ``apply()``."""

    def __init__(self, listener_factory: Callable[[ListenerConfig], Listener]) -> None:
        self._factory = listener_factory
        self._open: Dict[ListenerKey, Listener] = {}
        self._failed: Dict[ListenerKey, ListenerStatus] = {}
        self._desired: List[ListenerConfig] = []

    async def apply(self, desired: Sequence[ListenerConfig]) -> List[ListenerStatus]:
        """Open added listeners, then close removed ones if every addition worked; return the failures."""
        self._desired = list(desired)
        desired_keys = {listener.key for listener in desired}
        self._failed = {}
        for config in desired:
            if config.key in self._open:
                continue
            listener = self._factory(config)
            try:
                await listener.open()
            except (OSError, ListenerNotSupported) as exc:
                reason = describe_bind_error(exc)
                self._failed[config.key] = ListenerStatus(config, "failed", reason)
                eventlog.error("listener_failed", listener=config.describe(), error=reason)
                continue
            self._open[config.key] = listener
            eventlog.info("listener_opened", listener=config.describe())
        removed = [key for key in self._open if key not in desired_keys]
        if self._failed and removed:
            eventlog.warning(
                "listeners_kept",
                reason="a new listener failed, so the old set keeps serving",
                listeners=[self._open[key].config.describe() for key in removed],
            )
        elif removed:
            for key in removed:
                listener = self._open.pop(key)
                listener.close()
                eventlog.info("listener_closed", listener=listener.config.describe())
        return list(self._failed.values())

    def close_all(self) -> None:
        for listener in self._open.values():
            listener.close()
            eventlog.info("listener_closed", listener=listener.config.describe())
        self._open.clear()

    def statuses(self) -> List[ListenerStatus]:
        desired_keys = {listener.key for listener in self._desired}
        rows = [
            ListenerStatus(listener.config, "listening", None, key in desired_keys)
            for key, listener in self._open.items()
        ]
        rows.extend(self._failed.values())
        return sorted(rows, key=lambda row: (row.config.transport, row.config.port, row.config.address))
