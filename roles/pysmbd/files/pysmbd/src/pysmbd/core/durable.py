"""Durable handles v1 and v2: an open that outlives its TCP connection (MS-SMB2 3.3.5.9.6-3.3.5.9.12, 3.3.7.1).

* A CREATE with SMB2_CREATE_DURABLE_HANDLE_REQUEST (``DHnQ``) or, on SMB 3.x, ``DH2Q`` (with a CreateGuid and a
  timeout) gets a durable open when it also gets a BATCH oplock (there are no leases here, so no handle caching
  otherwise) and ``ServerContext.durable_handles`` is on; the answer carries the matching response context.
* When the connection drops (not on LOGOFF or TREE_DISCONNECT, which close as usual), a durable open that still
  holds its BATCH oplock is kept: its descriptor, byte-range locks and share mode stay, so nobody else can take
  what the client was using. It stays for its timeout (``durable_handle_timeout``, or the v2 request's, at most
  ``max(300 s, durable_handle_timeout)``), then it is closed; an open of the file by someone else that would break
  its oplock closes it at once (nobody can answer the break), as do ``max_kept_durable_opens`` newer ones.
* A CREATE with ``DHnC`` (or ``DH2C`` and the same CreateGuid) on a new connection, by the same user on the same
  share, takes the kept open back; everything else in that CREATE is ignored, as Windows does.

Kept opens stay counted in ``ServerContext.open_count``: they take descriptors like any open. The timers come from
``ServerContext.schedule`` (the runtime's event loop); without one, a kept open waits until it is reclaimed,
purged by a conflicting open, or pushed out by newer ones.
"""

from __future__ import annotations

import collections
import struct
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .status import STATUS_INVALID_PARAMETER, STATUS_OBJECT_NAME_NOT_FOUND, SMBError

V1_REQUEST = "DHnQ"
V1_RECONNECT = "DHnC"
V2_REQUEST = "DH2Q"
V2_RECONNECT = "DH2C"
V2_REQUEST_BODY = struct.Struct("<II8s16s")  # Timeout (ms), Flags, Reserved, CreateGuid
V2_RECONNECT_BODY = struct.Struct("<16s16sI")  # FileId, CreateGuid, Flags
V2_RESPONSE_BODY = struct.Struct("<II")  # Timeout (ms), Flags
V2_FLAG_PERSISTENT = 0x2
MAX_V2_TIMEOUT = 300.0
"""Seconds: the longest timeout a DH2Q may ask for (Windows caps it at 300 s), unless the configured one is longer."""


@dataclass(frozen=True)
class DurableAsk:
    """What a CREATE asks about durability."""

    version: int
    """1 (DHnQ) or 2 (DH2Q)."""
    timeout_ms: int = 0
    create_guid: bytes = b""


@dataclass(frozen=True)
class Reconnect:
    """A DHnC or DH2C: take back a kept open."""

    file_id: bytes
    create_guid: bytes = b""
    """Empty for v1."""


def parse(contexts: dict[str, bytes], smb3: bool) -> tuple[Optional[DurableAsk], Optional[Reconnect]]:
    """The durable request or reconnect a CREATE carries; contradictory or malformed ones are refused (3.3.5.9)."""
    names = {V1_REQUEST, V1_RECONNECT, V2_REQUEST, V2_RECONNECT} & contexts.keys()
    if not smb3:
        names -= {V2_REQUEST, V2_RECONNECT}  # 3.x contexts: a 2.x server ignores them
    if not names:
        return None, None
    if V2_RECONNECT in names:
        if names & {V1_REQUEST, V1_RECONNECT, V2_REQUEST}:
            raise SMBError(STATUS_INVALID_PARAMETER, "DH2C combined with another durable context")
        data = contexts[V2_RECONNECT]
        if len(data) != V2_RECONNECT_BODY.size:
            raise SMBError(STATUS_INVALID_PARAMETER, "malformed DH2C create context")
        file_id, guid, _flags = V2_RECONNECT_BODY.unpack(data)
        return None, Reconnect(file_id, guid)
    if V1_RECONNECT in names:
        if V2_REQUEST in names:
            raise SMBError(STATUS_INVALID_PARAMETER, "DHnC combined with DH2Q")
        data = contexts[V1_RECONNECT]
        if len(data) < 16:
            raise SMBError(STATUS_INVALID_PARAMETER, "malformed DHnC create context")
        return None, Reconnect(data[:16])  # a DHnQ beside it is ignored (smbtorture durable-open.reopen2)
    if V2_REQUEST in names:
        if V1_REQUEST in names:
            raise SMBError(STATUS_INVALID_PARAMETER, "DHnQ combined with DH2Q")
        data = contexts[V2_REQUEST]
        if len(data) != V2_REQUEST_BODY.size:
            raise SMBError(STATUS_INVALID_PARAMETER, "malformed DH2Q create context")
        timeout_ms, _flags, _r, guid = V2_REQUEST_BODY.unpack(data)
        return DurableAsk(2, timeout_ms, guid), None
    if len(contexts[V1_REQUEST]) < 16:
        raise SMBError(STATUS_INVALID_PARAMETER, "malformed DHnQ create context")
    return DurableAsk(1), None


def timeout_for(ask: DurableAsk, configured: float) -> float:
    """Seconds a kept open of this request waits for its client."""
    if ask.version == 1 or not ask.timeout_ms:
        return configured
    return min(ask.timeout_ms / 1000.0, max(MAX_V2_TIMEOUT, configured))


def response_context(ask: DurableAsk, timeout: float) -> tuple[bytes, bytes]:
    """The create context that tells the client its open is durable (MS-SMB2 2.2.14.2.3, 2.2.14.2.12)."""
    if ask.version == 1:
        return V1_REQUEST.encode(), bytes(8)
    return V2_REQUEST.encode(), V2_RESPONSE_BODY.pack(int(timeout * 1000), 0)


@dataclass(eq=False)
class KeptOpen:
    handle: Any
    """The ``files.Open``, detached from every connection."""
    discard: Callable[[Any], None]
    """Closes it for good (releases its locks and share mode, closes the descriptor, uncounts it)."""


class KeptOpens:
    """Durable opens whose connection is gone, by FileId, oldest first; bounded by ``limit``."""

    def __init__(self, limit: int = 1024) -> None:
        self.limit = limit
        self._kept: collections.OrderedDict[bytes, KeptOpen] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def keep(
        self,
        handle: Any,
        discard: Callable[[Any], None],
        schedule: Optional[Callable[[float, Callable[[], None]], Any]],
    ) -> None:
        """Keep ``handle`` for its ``durable_timeout``; the oldest kept open goes when there are too many."""
        while len(self._kept) >= max(self.limit, 0) and self._kept:
            _file_id, oldest = self._kept.popitem(last=False)
            oldest.discard(oldest.handle)
        if self.limit <= 0:
            discard(handle)
            return
        entry = KeptOpen(handle, discard)
        self._kept[handle.file_id] = entry
        if schedule is not None:

            def expired() -> None:
                if self._kept.get(handle.file_id) is entry:
                    del self._kept[handle.file_id]
                    discard(handle)

            schedule(handle.durable_timeout, expired)

    def reclaim(self, reconnect: Reconnect, user: str, share_name: str) -> Any:
        """The kept open a DHnC/DH2C names, taken out of the table; STATUS_OBJECT_NAME_NOT_FOUND when there is none
        for this user and share (3.3.5.9.7, 3.3.5.9.12)."""
        entry = self._kept.get(reconnect.file_id)
        if entry is None:
            raise SMBError(STATUS_OBJECT_NAME_NOT_FOUND, "no durable open with that FileId is waiting")
        handle = entry.handle
        if handle.durable_user != user or handle.tree.name.lower() != share_name.lower():
            raise SMBError(STATUS_OBJECT_NAME_NOT_FOUND, "the durable open belongs to another user or share")
        if reconnect.create_guid and reconnect.create_guid != handle.create_guid:  # a DHnC may take a v2 open back
            raise SMBError(STATUS_OBJECT_NAME_NOT_FOUND, "the CreateGuid does not match the durable open")
        del self._kept[reconnect.file_id]
        return handle

    def purge(self, handle: Any) -> None:
        """Close a kept open now (another open breaks its oplock, which nobody can acknowledge)."""
        entry = self._kept.pop(handle.file_id, None)
        if entry is not None:
            entry.discard(handle)

    def is_kept(self, handle: Any) -> bool:
        return self._kept.get(handle.file_id) is not None and self._kept[handle.file_id].handle is handle
