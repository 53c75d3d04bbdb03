"""Configuration the protocol core needs, shared by every connection of one server."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Protocol

from .durable import KeptOpens

# 8 MiB payload + room for the SMB2 header, the READ/WRITE structures and a transform header.
DEFAULT_MAX_FRAME_SIZE = 8 * 1024 * 1024 + 64 * 1024
MAX_IO_SIZE = 8 * 1024 * 1024


class PipeHandler(Protocol):
    """One open named pipe on IPC$ (for example srvsvc); implemented by the runtime in ``pysmbd.rpc``."""

    def write(self, data: bytes) -> None:
        """Take one WRITE's worth of bytes from the client."""

    def read(self, max_len: int) -> bytes:
        """Return up to ``max_len`` bytes of pending output (empty when there is none)."""

    def transact(self, data: bytes, max_out: int) -> bytes:
        """FSCTL_PIPE_TRANSCEIVE: take a request and return at most ``max_out`` bytes of answer."""


@dataclass
class ShareConfig:
    """One disk share: a directory served under a name."""

    name: str
    path: Path
    read_only: bool = False
    guest_ok: bool = False
    encrypt: bool = False
    comment: str = ""
    valid_users: frozenset = frozenset()
    """Lower-case user names allowed to connect; empty allows every authenticated user (Samba's ``valid users``)."""
    read_only_users: frozenset = frozenset()
    """Lower-case user names that may only read, even on a writable share (Samba's ``read list``)."""

    def admits(self, user: str, *, guest: bool) -> bool:
        """May this user (``DOMAIN\\user`` or ``user``) connect? Guests need ``guest_ok`` and no user list."""
        if guest:
            return self.guest_ok and not self.valid_users
        return not self.valid_users or bare_user(user) in self.valid_users

    def read_only_for(self, user: str) -> bool:
        return self.read_only or bare_user(user) in self.read_only_users


def bare_user(user: str) -> str:
    """The user name without its domain, lower-cased: how the users file and the share lists name users."""
    return user.rsplit("\\", 1)[-1].lower()


def _no_pipes(name: str) -> Optional[PipeHandler]:
    return None


@dataclass
class ServerContext:
    """Everything the core reads about its server; the runtime builds one from the config file."""

    server_name: str
    workgroup: str
    server_guid: bytes
    users_file: Path
    require_signing: bool
    max_frame_size: int
    shares: Dict[str, ShareConfig]
    start_time: float
    pipe_factory: Callable[[str], Optional[PipeHandler]] = _no_pipes
    max_io_size: int = MAX_IO_SIZE
    """Largest READ, WRITE and TRANSACT payload offered in the NEGOTIATE response."""
    encryption_ciphers: tuple = ("AES-128-GCM", "AES-128-CCM", "AES-256-GCM", "AES-256-CCM")
    """Ciphers the server accepts, in its preference order (names as in MS-SMB2 2.2.3.1.2)."""
    allow_smb2_02: bool = True
    """Offer dialect 2.0.2 (no multi-credit) to clients that ask for nothing newer."""
    max_opens_per_connection: int = 16384
    """Open files and pipes one connection may hold; more get STATUS_INSUFFICIENT_RESOURCES."""
    max_sessions_per_connection: int = 64
    """Sessions one connection may hold; more get STATUS_REQUEST_NOT_ACCEPTED."""
    max_opens_per_session: int = 4096
    """Opens one session may hold; more get STATUS_INSUFFICIENT_RESOURCES."""
    max_open_files: int = 65536
    """Opens of every connection together; more get STATUS_INSUFFICIENT_RESOURCES, so that descriptors never
    run out (the systemd unit's LimitNOFILE is set above this)."""
    open_count: int = 0
    """Opens held now by every connection; kept by the core."""
    open_files: dict = field(default_factory=dict)
    """``files.SharedFile`` of every file open on any connection, keyed by (st_dev, st_ino): its share modes,
    byte-range locks and pending delete; owned by the core."""
    oplocks: bool = True
    """Grant oplocks (see ``oplocks``); off, every CREATE gets none (and so no durable open)."""
    oplock_break_timeout: float = 35.0
    """Seconds a CREATE waits for an oplock holder to acknowledge a break before it goes on anyway (Windows: 35)."""
    durable_handles: bool = True
    """Grant durable opens (v1 and v2) to CREATEs that ask and get a BATCH oplock (see ``durable``)."""
    durable_handle_timeout: float = 60.0
    """Seconds a durable open outlives its connection (a v2 request may ask for up to max(300, this))."""
    kept_durable_opens: KeptOpens = field(default_factory=KeptOpens)
    """Durable opens whose connection is gone, waiting to be reclaimed; ``.limit`` caps how many (oldest go first)."""
    schedule: Optional[Callable[[float, Callable[[], None]], Any]] = None
    """Set by the runtime: call back after a delay on the server's event loop (oplock break and durable timeouts);
    without it those timeouts never fire."""
    live_sessions: dict = field(default_factory=dict)
    """SessionId -> the connection holding that established session, server-wide: a SESSION_SETUP naming it as its
    PreviousSessionId ends it (its durable opens are kept), owned by the core."""
    file_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    """FileIds are unique across connections: a durable open keeps its FileId on the connection that reclaims it."""
    peers: Optional[Any] = None
    """``peer_locks.PeerLocks`` when other worker processes serve the same shares (``[server] workers`` above 1):
    their opens' share modes and byte-range locks count too."""

    def share(self, name: str) -> Optional[ShareConfig]:
        """Find a share by name, ignoring case as Windows does."""
        wanted = name.lower()
        for share_name, share in self.shares.items():
            if share_name.lower() == wanted:
                return share
        return None


def new_server_guid() -> bytes:
    """A random 16-byte server GUID (the runtime may persist one instead)."""
    return os.urandom(16)


__all__ = ["DEFAULT_MAX_FRAME_SIZE", "PipeHandler", "ServerContext", "ShareConfig", "bare_user", "new_server_guid"]
