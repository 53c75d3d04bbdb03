"""Opens and the data path: CREATE, CLOSE, FLUSH, READ, WRITE, LOCK (MS-SMB2 3.3.5.9-3.3.5.14).

READ and WRITE are the hot path: precompiled structs, ``os.pread``/``os.pwrite`` on a kept file
descriptor, and the READ payload handed to the transport without a copy. A large READ or WRITE runs its
system call on a worker thread when the connection has an IO executor (``Request.may_defer``), so the
connection goes on receiving and decrypting while the disk works.
"""

from __future__ import annotations

import collections
import errno
import itertools
import os
import stat
import struct
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from . import durable, fs, lock_waiters, oplocks, sharing
from .context import PipeHandler, ServerContext, bare_user
from .locks import MAX_LOCKS_PER_FILE, MAX_LOCKS_PER_OPEN, FileLocks, PeerConflict
from .request import FRAME_PREFIX, DeferredIO, Request, Response, error_body
from .state import Session, Tree
from .status import (
    STATUS_ACCESS_DENIED,
    STATUS_DELETE_PENDING,
    STATUS_DIRECTORY_NOT_EMPTY,
    STATUS_DISK_FULL,
    STATUS_END_OF_FILE,
    STATUS_FILE_CLOSED,
    STATUS_FILE_IS_A_DIRECTORY,
    STATUS_FILE_LOCK_CONFLICT,
    STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_LOCK_RANGE,
    STATUS_INVALID_OPLOCK_PROTOCOL,
    STATUS_INVALID_PARAMETER,
    STATUS_LOCK_NOT_GRANTED,
    STATUS_NOT_A_DIRECTORY,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_PENDING,
    STATUS_RANGE_NOT_LOCKED,
    STATUS_SHARING_VIOLATION,
    STATUS_SUCCESS,
    SMBError,
    status_from_oserror,
)
from .wire import DIALECT_202, DIALECT_300, from_utf16

CREATE_REQUEST = struct.Struct("<HBBIQQIIIIIHHII")
CREATE_RESPONSE = struct.Struct("<HBBIQQQQQQII16sII")
CLOSE_REQUEST = struct.Struct("<HHI16s")
CLOSE_RESPONSE = struct.Struct("<HHIQQQQQQI")
FLUSH_REQUEST = struct.Struct("<HHI16s")
READ_REQUEST = struct.Struct("<HBBIQ16sIIIHH")
READ_RESPONSE = struct.Struct("<HBBIII")
WRITE_REQUEST = struct.Struct("<HHIQ16sIIHHI")
WRITE_RESPONSE = struct.Struct("<HHIIHH")
LOCK_REQUEST = struct.Struct("<HHI16s")
LOCK_ELEMENT = struct.Struct("<QQII")
CREATE_CONTEXT = struct.Struct("<IHHHHI")

FILE_SUPERSEDE, FILE_OPEN, FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE, FILE_OVERWRITE_IF = range(6)
FILE_DIRECTORY_FILE = 0x00000001
FILE_NON_DIRECTORY_FILE = 0x00000040
FILE_DELETE_ON_CLOSE = 0x00001000
CREATE_ACTIONS = {"superseded": 0, "opened": 1, "created": 2, "overwritten": 3}

FILE_READ_DATA = 0x1
FILE_WRITE_DATA = 0x2
FILE_APPEND_DATA = 0x4
DELETE = 0x00010000
MAXIMUM_ALLOWED = 0x02000000
GENERIC_ALL = 0x10000000
GENERIC_WRITE = 0x40000000
GENERIC_READ = 0x80000000
WRITE_BITS = 0x2 | 0x4 | 0x10 | 0x40 | 0x100 | DELETE | 0x40000 | 0x80000 | GENERIC_WRITE | GENERIC_ALL
FULL_ACCESS = 0x001F01FF
READ_ACCESS = 0x001200A9

LARGE_READ = 256 * 1024  # from here on a READ is answered from one preallocated buffer
RWF_NOWAIT = getattr(os, "RWF_NOWAIT", 0)  # Linux 4.14+: read only what the page cache holds
LARGE_IO = 256 * 1024  # from here on a READ or WRITE may run on a worker thread (smaller ones cost less inline)
MAX_FILE_OFFSET = (1 << 63) - 1  # off_t
MAX_FILE_SIZE = 0xFFFFFFF0000  # the largest file NTFS allows (16 TiB - 64 KiB); Windows clients expect the limit
LOCK_SHARED = 0x1
LOCK_EXCLUSIVE = 0x2
LOCK_UNLOCK = 0x4
LOCK_FAIL_IMMEDIATELY = 0x10
MAX_LOCKS_PER_REQUEST = 1024  # a LOCK request with more ranges is refused before any is looked at
_LOCK_FLAGS_ALONE = frozenset({LOCK_SHARED, LOCK_EXCLUSIVE})  # may wait: only as the single element (3.3.5.14)
_LOCK_FLAGS_ANY = frozenset({LOCK_SHARED | LOCK_FAIL_IMMEDIATELY, LOCK_EXCLUSIVE | LOCK_FAIL_IMMEDIATELY})
_lock_owners = itertools.count(1)


@dataclass(slots=True)
class SharedFile:
    """What every open of one file shares: MS-FSA keeps DeletePending on the file (2.1.5.14.3), and deletes
    it when its last open closes (2.1.5.4), so a pending delete waits for the other handles."""

    key: tuple[int, int]
    """(st_dev, st_ino)."""
    table: dict
    """``ServerContext.open_files``, which holds this entry while ``opens`` is positive."""
    opens: int = 0
    delete_pending: bool = False
    modes: collections.Counter = field(default_factory=collections.Counter)
    """Share modes held by the opens (``sharing.Mode`` -> count)."""
    locks: FileLocks = field(default_factory=FileLocks)
    """Byte-range locks of every open of the file."""
    handles: dict = field(default_factory=dict)
    """The opens themselves, by ``Open.lock_owner``: a rename through one moves the path of all."""
    lock_waiters: Optional[list] = None
    """LOCK requests waiting for a range of this file (``lock_waiters.LockWaiter``), oldest first; made by
    ``waiting_list`` at the first (most files never have one, and an empty list is 56 bytes per open file)."""
    level2_opens: Optional[set] = None
    """``Open.lock_owner`` of the opens holding a LEVEL_II oplock: a WRITE or LOCK breaks them (``oplocks``); made
    at the first such oplock (an empty set is 216 bytes)."""
    peers: Optional[Any] = None
    """``ServerContext.peers``: the other worker processes see this file's modes and locks through it."""

    def waiting_list(self) -> list:
        """``lock_waiters``, made when a LOCK request first waits on this file."""
        if self.lock_waiters is None:
            self.lock_waiters = []
        return self.lock_waiters


def attach_shared(
    table: dict, st: os.stat_result, mode: Optional[sharing.Mode] = None, peers: Optional[Any] = None
) -> SharedFile:
    key = (st.st_dev, st.st_ino)
    shared = table.get(key)
    if shared is None:
        shared = table[key] = SharedFile(key, table, peers=peers)
        if peers is not None:
            shared.locks.mirror = peers.ranges(key)
    shared.opens += 1
    if mode is not None:
        shared.modes[mode] += 1
        if peers is not None:
            peers.sync_modes(key, shared.modes)
    return shared


@dataclass
class Open:
    """One open file, directory or pipe, known to the client by its FileId."""

    file_id: bytes
    session_id: int
    tree: Tree
    parts: tuple[str, ...]
    fd: int = -1
    is_dir: bool = False
    granted: int = 0
    pipe: Optional[PipeHandler] = None
    delete_on_close: bool = False
    position: int = 0
    listing: Optional[list[str]] = None
    listing_pos: int = 0
    listing_pattern: str = ""
    shared: Optional[SharedFile] = None
    """Shared with the other opens of this file (a file or directory of a share; not the root or a pipe)."""
    share_mode: Optional[sharing.Mode] = None
    """What this open holds in ``shared.modes``."""
    lock_owner: int = field(default_factory=lambda: next(_lock_owners))
    """Names this open as the owner of byte-range locks (an Open is not hashable)."""
    counted_in: Optional[Session] = None
    """The session whose ``open_count`` counts this open."""
    oplock: int = oplocks.LEVEL_NONE
    """The oplock this open holds (``oplocks``: NONE, LEVEL_II, EXCLUSIVE or BATCH)."""
    oplock_breaking: bool = False
    """A break was sent and not yet acknowledged."""
    break_to: int = oplocks.LEVEL_NONE
    """The level the break in progress goes down to."""
    break_generation: int = 0
    break_waiters: list = field(default_factory=list)
    """CREATEs of other opens waiting for this open's break to end (``oplocks.BreakWaiter``)."""
    notify_break: Optional[Callable[[Open, int], None]] = None
    """Sends an OPLOCK_BREAK notification on the open's connection; None while no connection holds it."""
    durable_timeout: float = 0.0
    """Seconds the open outlives its connection; 0 when it is not durable (``durable``)."""
    durable_user: str = ""
    """The user (``bare_user``) that may reclaim the durable open."""
    create_guid: bytes = b""
    """The DH2Q CreateGuid (empty for a v1 durable open)."""
    lock_sequences: dict = field(default_factory=dict)
    """LockSequenceIndex -> LockSequenceNumber of the last successful LOCK (Open.LockSequenceArray, 3.3.5.14)."""

    @property
    def display_name(self) -> str:
        return "\\".join(self.parts)

    @property
    def delete_pending(self) -> bool:
        """DeletePending as FileStandardInformation reports it: this open's or another one's (MS-FSCC 2.4.41)."""
        return self.delete_on_close or (self.shared is not None and self.shared.delete_pending)

    def set_delete_pending(self, pending: bool) -> None:
        """FileDispositionInformation: sets or clears the file's DeletePending, for every open (MS-FSA 2.1.5.14.3)."""
        self.delete_on_close = pending and self.shared is None
        if self.shared is not None:
            self.shared.delete_pending = pending

    def _last_to_close(self) -> bool:
        """Leave the file's shared state; True when the file is to be deleted now (its last open closes)."""
        shared = self.shared
        if shared is None:
            return self.delete_on_close
        self.shared = None
        shared.delete_pending = shared.delete_pending or self.delete_on_close  # FILE_DELETE_ON_CLOSE (2.1.5.4)
        shared.locks.release_owner(self.lock_owner)
        shared.handles.pop(self.lock_owner, None)
        if shared.level2_opens:
            shared.level2_opens.discard(self.lock_owner)
        if self.share_mode is not None:
            shared.modes[self.share_mode] -= 1
            if not shared.modes[self.share_mode]:
                del shared.modes[self.share_mode]
            if shared.peers is not None:
                shared.peers.sync_modes(shared.key, shared.modes)
        shared.opens -= 1
        if shared.opens > 0:
            return False
        shared.table.pop(shared.key, None)
        if shared.locks.mirror is not None:
            shared.locks.mirror.close()
        return shared.delete_pending

    def fstat(self) -> os.stat_result:
        return fs.fstat(self.fd)

    def close(self) -> None:
        """Close the descriptor, deleting the file first when delete-on-close is set."""
        if self.fd < 0:
            return
        try:
            if self._last_to_close() and self.tree.share is not None and self.parts:
                self._delete()
        except (OSError, fs.SMBError):
            pass  # the client asked for a best effort; the file may be gone already
        finally:
            fs.close(self.fd)
            self.fd = -1
            if self.oplock_breaking or self.break_waiters:
                oplocks.end_break(self)  # only now: a waiting CREATE must not find the file half closed

    def _delete(self) -> None:
        assert self.tree.share is not None
        st = fs.fstat(self.fd)
        with fs.parent_dir(self.tree.share.path, self.parts) as parent:
            leaf = fs.find_entry(parent, self.parts[-1])
            found = fs.lstat_at(parent, leaf)
            if found is None or (found.st_dev, found.st_ino) != (st.st_dev, st.st_ino):
                return  # renamed through another open since: this name is no longer our file
            fs.remove_at(parent, leaf, is_dir=self.is_dir)


def _refuse_beyond_open_limits(conn: FileHost, session: Session) -> None:
    context = conn.context
    if len(conn.opens) >= context.max_opens_per_connection:
        raise SMBError(STATUS_INSUFFICIENT_RESOURCES, "too many open files on this connection")
    if session.open_count >= context.max_opens_per_session:
        raise SMBError(STATUS_INSUFFICIENT_RESOURCES, "too many open files in this session")
    if context.open_count >= context.max_open_files:
        raise SMBError(STATUS_INSUFFICIENT_RESOURCES, "too many open files on this server")


def track_open(conn: FileHost, req: Request, handle: Open) -> None:
    """Make a new open known to the client and count it against the session's and the server's limits."""
    assert req.session is not None
    _attach(conn, req.session, handle)
    conn.context.open_count += 1


def _attach(conn: FileHost, session: Session, handle: Open) -> None:
    """Give an open (new, or a reclaimed durable one) to a session of this connection."""
    conn.opens[handle.file_id] = handle
    handle.session_id = session.session_id
    handle.counted_in = session
    session.open_count += 1
    handle.notify_break = getattr(conn, "send_oplock_break", None)


def drop_open(conn: FileHost, handle: Open, *, keep_durable: bool = False) -> None:
    """An open's tree or session goes away: close it, or with ``keep_durable`` (its session logged off or its
    connection was lost) keep it when it is durable and still holds its BATCH oplock."""
    context = conn.context
    if (
        keep_durable
        and handle.durable_timeout
        and handle.oplock == oplocks.LEVEL_BATCH
        and not handle.oplock_breaking
        and context.durable_handles
        and handle.fd >= 0
    ):
        conn.opens.pop(handle.file_id, None)
        if handle.counted_in is not None:  # the server still counts it: it keeps its descriptor
            handle.counted_in.open_count -= 1
            handle.counted_in = None
        handle.notify_break = None
        handle.session_id = 0
        if handle.shared is not None:  # its waiting LOCKs had only the lost connection to answer to
            lock_waiters.end_for_open(handle.shared.lock_waiters, handle.lock_owner, STATUS_RANGE_NOT_LOCKED)
        context.kept_durable_opens.keep(handle, lambda kept: _discard_kept(context, kept), context.schedule)
        return
    forget_open(conn, handle)
    release_locks(conn, handle)
    handle.close()


def _discard_kept(context: ServerContext, handle: Open) -> None:
    """Close a kept durable open for good (its timeout passed, or another open purged it)."""
    release_locks(None, handle)
    handle.close()
    context.open_count -= 1


def forget_open(conn: FileHost, handle: Open) -> None:
    """The client can no longer use this open (closed, or its tree or session went away)."""
    if conn.opens.pop(handle.file_id, None) is None:
        return
    if handle.counted_in is not None:
        handle.counted_in.open_count -= 1
        handle.counted_in = None
    conn.context.open_count -= 1


class FileHost(Protocol):
    """What the file handlers use of their connection; ``connection.SMBServerConnection`` is one.

    Named here, not imported, so that the connection (which dispatches to these handlers) and the
    handlers do not import each other.
    """

    context: ServerContext
    opens: dict[bytes, Open]
    """Open files and pipes by FileId."""
    dialect: int

    def allocate_file_id(self) -> bytes: ...


def lookup_open(conn: FileHost, req: Request, raw_file_id: bytes) -> Open:
    file_id = req.file_id(raw_file_id)
    handle = conn.opens.get(file_id)
    session = req.session
    if handle is None or session is None or handle.session_id != session.session_id:
        raise SMBError(STATUS_FILE_CLOSED, "unknown FileId")
    if req.tree is not None and handle.tree.tree_id != req.tree.tree_id:
        raise SMBError(STATUS_FILE_CLOSED, "FileId belongs to another tree")
    return handle


def _granted_access(desired: int, read_only: bool) -> int:
    if desired & (MAXIMUM_ALLOWED | GENERIC_ALL):
        return READ_ACCESS if read_only else FULL_ACCESS
    granted = desired & 0x001F01FF
    if desired & GENERIC_READ:
        granted |= READ_ACCESS
    if desired & GENERIC_WRITE:
        granted |= 0x00120116
    return granted


def _create_response(
    handle: Open, action: int, st: Optional[os.stat_result], contexts: bytes = b"", oplock: int = 0
) -> Response:
    if st is None:
        times = fs.FileTimes(0, 0, 0, 0)
        alloc = eof = 0
        attrs = fs.FILE_ATTRIBUTE_NORMAL
    else:
        times = fs.times_of(st, handle.fd)
        alloc, eof, attrs = fs.allocation_of(st), fs.end_of_file_of(st), times.attributes
    contexts_offset = 64 + CREATE_RESPONSE.size if contexts else 0
    body = CREATE_RESPONSE.pack(
        89,
        oplock,
        0,
        action,
        times.creation,
        times.access,
        times.write,
        times.change,
        alloc,
        eof,
        attrs,
        0,
        handle.file_id,
        contexts_offset,
        len(contexts),
    )
    return Response(STATUS_SUCCESS, body + (contexts or b"\x00"), new_file_id=handle.file_id)


def _parse_create_contexts(data: memoryview) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    offset = 0
    while offset + CREATE_CONTEXT.size <= len(data):
        next_entry, name_offset, name_length, _r, data_offset, data_length = CREATE_CONTEXT.unpack_from(data, offset)
        name = bytes(data[offset + name_offset : offset + name_offset + name_length]).decode("latin-1")
        found[name] = bytes(data[offset + data_offset : offset + data_offset + data_length])
        if not next_entry:
            break
        offset += next_entry
    return found


def _answer_contexts(
    requested: dict[str, bytes],
    st: Optional[os.stat_result],
    granted: int,
    extra: Optional[tuple[bytes, bytes]] = None,
) -> bytes:
    """Answer the create contexts clients use to save round trips (maximal access, on-disk id), and ``extra``
    (a durable handle's answer)."""
    answers: list[tuple[bytes, bytes]] = [extra] if extra is not None else []
    if "MxAc" in requested:
        answers.append((b"MxAc", struct.pack("<II", 0, granted)))
    if "QFid" in requested and st is not None:
        answers.append((b"QFid", struct.pack("<QQ", st.st_ino, st.st_dev) + bytes(16)))
    out = bytearray()
    for index, (name, data) in enumerate(answers):
        entry = bytearray(CREATE_CONTEXT.pack(0, 16, len(name), 0, 24, len(data)) + name + b"\x00" * 4 + data)
        if index + 1 < len(answers):
            entry += bytes((8 - len(entry) % 8) % 8)
            struct.pack_into("<I", entry, 0, len(entry))
        out += entry
    return bytes(out)


def create(conn: FileHost, req: Request) -> Response:
    peers = conn.context.peers
    if peers is None:
        return _create(conn, req)
    try:
        return _create(conn, req)
    finally:  # the share-mode checks against other workers hold their files' mutexes until the open is recorded
        peers.release_mutexes()


def _create(conn: FileHost, req: Request) -> Response:
    fields = req.unpack(CREATE_REQUEST)
    (
        _size,
        _sec,
        requested_oplock,
        _imp,
        _flags,
        _r,
        desired,
        attributes,
        share_access,
        disposition,
        options,
        name_offset,
        name_length,
        ctx_offset,
        ctx_length,
    ) = fields
    name = from_utf16(req.buffer(name_offset, name_length)) if name_length else ""
    contexts = _parse_create_contexts(req.buffer(ctx_offset, ctx_length)) if ctx_length else {}
    tree = req.tree
    assert tree is not None and req.session is not None
    ask, reconnect = durable.parse(contexts, conn.dialect >= DIALECT_300) if contexts else (None, None)
    if reconnect is not None:  # everything else in the request is ignored (3.3.5.9.7)
        _refuse_beyond_open_limits(conn, req.session)
        return _reconnect_durable(conn, req, reconnect)
    if disposition > FILE_OVERWRITE_IF:
        raise SMBError(STATUS_INVALID_PARAMETER, "bad CreateDisposition")
    _refuse_beyond_open_limits(conn, req.session)  # before any descriptor is opened
    if tree.is_ipc:
        return _create_pipe(conn, req, tree, name)
    share = tree.share
    assert share is not None
    parts = fs.split_path(name)
    granted = _granted_access(desired, tree.read_only)
    wants_write = bool(desired & WRITE_BITS) or disposition in (FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF)
    if tree.read_only and (wants_write or options & FILE_DELETE_ON_CLOSE):
        if (
            disposition in (FILE_OPEN, FILE_OPEN_IF)
            and not (desired & WRITE_BITS)
            and not options & FILE_DELETE_ON_CLOSE
        ):
            pass
        else:
            raise SMBError(STATUS_ACCESS_DENIED, "read-only share")
    if not parts:
        return _open_root(conn, req, tree, granted, contexts, options, disposition)
    overwrites = disposition in (FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF)
    share_mode = sharing.mode_of(
        granted | (FILE_WRITE_DATA if overwrites else 0) | (DELETE if options & FILE_DELETE_ON_CLOSE else 0),
        share_access,
    )
    with fs.parent_dir(share.path, parts) as parent:
        leaf = fs.find_entry(parent, parts[-1])
        st = fs.lstat_at(parent, leaf)
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise SMBError(STATUS_ACCESS_DENIED, "symbolic links are not followed")
        action = CREATE_ACTIONS["opened"]
        if st is None:
            if disposition in (FILE_OPEN, FILE_OVERWRITE):
                raise SMBError(STATUS_OBJECT_NAME_NOT_FOUND, "no such file")
            if tree.read_only:
                raise SMBError(STATUS_ACCESS_DENIED, "read-only share")
            action = CREATE_ACTIONS["created"]
            if options & FILE_DIRECTORY_FILE:
                try:
                    fs.mkdir_at(parent, leaf)
                except OSError as error:
                    raise SMBError(status_from_oserror(error), "mkdir failed") from error
                fd = fs.open_at(parent, leaf, os.O_RDONLY | os.O_DIRECTORY)
                is_dir = True
            else:
                fd = fs.open_at(parent, leaf, os.O_RDWR | os.O_CREAT | os.O_EXCL)
                is_dir = False
        else:
            _refuse_delete_pending(conn.context.open_files, st)
            waiting = _break_oplock(conn, req, st, share_mode, granted)
            if waiting is not None:
                return waiting
            _refuse_sharing_conflict(conn.context, st, share_mode)
            is_dir = stat.S_ISDIR(st.st_mode)
            if not is_dir and not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or misbehave
                raise SMBError(STATUS_ACCESS_DENIED, "only regular files and directories are served")
            if disposition == FILE_CREATE:
                raise SMBError(STATUS_OBJECT_NAME_COLLISION, "file exists")
            if is_dir and options & FILE_NON_DIRECTORY_FILE:
                raise SMBError(STATUS_FILE_IS_A_DIRECTORY, "is a directory")
            if not is_dir and options & FILE_DIRECTORY_FILE:
                raise SMBError(STATUS_NOT_A_DIRECTORY, "not a directory")
            if is_dir:
                if disposition in (FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF):
                    raise SMBError(STATUS_INVALID_PARAMETER, "cannot overwrite a directory")
                fd = fs.open_at(parent, leaf, os.O_RDONLY | os.O_DIRECTORY)
            else:
                writable = bool(granted & (FILE_WRITE_DATA | FILE_APPEND_DATA)) or disposition in (
                    FILE_SUPERSEDE,
                    FILE_OVERWRITE,
                    FILE_OVERWRITE_IF,
                )
                # O_NONBLOCK: should a FIFO replace the file after the check above, opening it cannot block
                flags = (os.O_RDWR if writable and not tree.read_only else os.O_RDONLY) | os.O_NONBLOCK
                if disposition in (FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF):
                    flags |= os.O_TRUNC
                    action = CREATE_ACTIONS["superseded" if disposition == FILE_SUPERSEDE else "overwritten"]
                fd = fs.open_at(parent, leaf, flags)
        if options & FILE_DELETE_ON_CLOSE and is_dir and fs.list_dir(fd):
            fs.close(fd)
            raise SMBError(STATUS_DIRECTORY_NOT_EMPTY, "directory not empty")
    if action == CREATE_ACTIONS["created"]:
        fs.store_creation(fd, fs.to_filetime_ns(fs.fstat(fd).st_mtime_ns))
        if attributes & ~(fs.FILE_ATTRIBUTE_NORMAL | fs.FILE_ATTRIBUTE_ARCHIVE | fs.FILE_ATTRIBUTE_DIRECTORY):
            # A new file gets what was asked plus ARCHIVE (MS-FSA 2.1.5.1.2.1).
            fs.store_attributes(fd, (attributes | fs.FILE_ATTRIBUTE_ARCHIVE) & ~fs.FILE_ATTRIBUTE_NORMAL)
    parts = (*parts[:-1], leaf)  # the name as stored, whatever case the client used
    handle = Open(conn.allocate_file_id(), req.session.session_id, tree, parts, fd, is_dir, granted)
    handle.delete_on_close = bool(options & FILE_DELETE_ON_CLOSE)
    st_now = fs.fstat(fd)
    if not (stat.S_ISREG(st_now.st_mode) or stat.S_ISDIR(st_now.st_mode)):
        fs.close(fd)
        raise SMBError(STATUS_ACCESS_DENIED, "only regular files and directories are served")
    if action == CREATE_ACTIONS["created"] and conn.context.peers is not None:
        try:  # another worker may have opened the new file since it was created
            _refuse_sharing_conflict(conn.context, st_now, share_mode)
        except SMBError:
            fs.close(fd)
            raise
    handle.share_mode = share_mode
    handle.shared = attach_shared(conn.context.open_files, st_now, share_mode, conn.context.peers)
    others = list(handle.shared.handles.values())
    handle.shared.handles[handle.lock_owner] = handle
    track_open(conn, req, handle)
    if overwrites and handle.shared.level2_opens:
        oplocks.break_level2(handle.shared)
    # No oplock where another process serves the share too (``ServerContext.peers``, several workers): its opens
    # could not break one granted here.
    grants = conn.context.oplocks and not is_dir and conn.context.peers is None
    level = oplocks.granted_level(requested_oplock, others, grants)
    oplocks.set_level(handle, level)
    durable_answer = None
    if ask is not None and handle.oplock == oplocks.LEVEL_BATCH and conn.context.durable_handles:
        handle.durable_timeout = durable.timeout_for(ask, conn.context.durable_handle_timeout)
        handle.durable_user = bare_user(req.session.user)
        handle.create_guid = ask.create_guid
        durable_answer = durable.response_context(ask, handle.durable_timeout)
    answers = _answer_contexts(contexts, st_now, granted, durable_answer)
    return _create_response(handle, action, st_now, answers, handle.oplock)


def _break_oplock(
    conn: FileHost, req: Request, st: os.stat_result, mode: Optional[sharing.Mode], granted: int
) -> Optional[Response]:
    """Break another open's EXCLUSIVE or BATCH oplock on this file before opening it (see ``oplocks``): the
    interim answer when this CREATE is to wait for the break, None when it may go on now."""
    context = conn.context
    shared = context.open_files.get((st.st_dev, st.st_ino))
    if shared is None:
        return None
    overwrites = _overwrites(req)
    if not (overwrites or oplocks.breaks_oplocks(granted)):  # an attribute-only open breaks only by overwriting
        return None
    holder = oplocks.holder(shared.handles)
    if holder is None:
        return None
    if holder.oplock == oplocks.LEVEL_EXCLUSIVE and sharing.conflicts(shared.modes, mode):
        return None  # refused for sharing without a break (MS-FSA 2.1.5.1.2.1)
    if context.kept_durable_opens.is_kept(holder):
        # its client is gone and cannot acknowledge: close it, then look again (its delete-on-close may have
        # removed the file, smbtorture durable-open.delete_on_close1)
        context.kept_durable_opens.purge(holder)
        return create(conn, req)
    to_level = oplocks.LEVEL_NONE if overwrites else oplocks.LEVEL_II
    oplocks.start_break(holder, to_level, context.schedule, context.oplock_break_timeout)
    if not req.alone:
        return None  # a compound is answered in one piece: the break was sent, this open goes on
    return Response(STATUS_PENDING, error_body(), waits=(holder.break_waiters, oplocks.BreakWaiter()))


def _overwrites(req: Request) -> bool:
    """Does this CREATE supersede or overwrite the file (its CreateDisposition, read again)?"""
    disposition = req.unpack(CREATE_REQUEST)[9]
    return disposition in (FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF)


def _reconnect_durable(conn: FileHost, req: Request, reconnect: durable.Reconnect) -> Response:
    """DHnC / DH2C: give a kept durable open to this session (MS-SMB2 3.3.5.9.7, 3.3.5.9.12)."""
    session, tree = req.session, req.tree
    assert session is not None and tree is not None
    if not conn.context.durable_handles or tree.is_ipc:
        raise SMBError(STATUS_OBJECT_NAME_NOT_FOUND, "no durable open to reconnect")
    handle = conn.context.kept_durable_opens.reclaim(reconnect, bare_user(session.user), tree.name)
    handle.tree = tree
    _attach(conn, session, handle)
    st = handle.fstat()
    # no durable context in the answer: the open is durable already (smbtorture durable-v2-open.reopen2)
    return _create_response(handle, CREATE_ACTIONS["opened"], st, b"", handle.oplock)


def _refuse_delete_pending(open_files: dict, st: os.stat_result) -> None:
    """A file whose delete waits for its last open cannot be opened again (MS-FSA 2.1.5.1.2.1)."""
    shared = open_files.get((st.st_dev, st.st_ino))
    if shared is not None and shared.delete_pending:
        raise SMBError(STATUS_DELETE_PENDING, "the file is being deleted")


def _refuse_sharing_conflict(context: ServerContext, st: os.stat_result, mode: Optional[sharing.Mode]) -> None:
    """Refuse an open another open's ShareAccess excludes, or whose own excludes another's (MS-FSA 2.1.5.1.2),
    whichever worker process holds the other open."""
    shared = context.open_files.get((st.st_dev, st.st_ino))
    if shared is not None and sharing.conflicts(shared.modes, mode):
        raise SMBError(STATUS_SHARING_VIOLATION, "the file is open with a share mode that excludes this access")
    if context.peers is not None:
        try:
            context.peers.check_mode((st.st_dev, st.st_ino), mode)
        except PeerConflict:
            raise SMBError(
                STATUS_SHARING_VIOLATION,
                "another worker's client holds the file with a share mode that excludes this access",
            ) from None


def _open_root(conn, req, tree, granted, contexts, options, disposition) -> Response:
    if options & FILE_NON_DIRECTORY_FILE:
        raise SMBError(STATUS_FILE_IS_A_DIRECTORY, "the share root is a directory")
    if disposition not in (FILE_OPEN, FILE_OPEN_IF):
        raise SMBError(STATUS_ACCESS_DENIED, "cannot replace the share root")
    fd = fs.open_root(tree.share.path)
    handle = Open(conn.allocate_file_id(), req.session.session_id, tree, (), fd, True, granted)
    track_open(conn, req, handle)
    st = fs.fstat(fd)
    return _create_response(handle, CREATE_ACTIONS["opened"], st, _answer_contexts(contexts, st, granted))


def _create_pipe(conn: FileHost, req: Request, tree: Tree, name: str) -> Response:
    pipe_name = name.strip("\\").lower()
    if not pipe_name or "\\" in pipe_name:
        raise SMBError(STATUS_OBJECT_NAME_INVALID, "bad pipe name")
    handler = conn.context.pipe_factory(pipe_name)
    if handler is None:
        raise SMBError(STATUS_OBJECT_NAME_NOT_FOUND, f"no pipe named {pipe_name!r}")
    assert req.session is not None
    handle = Open(
        conn.allocate_file_id(), req.session.session_id, tree, (pipe_name,), pipe=handler, granted=FULL_ACCESS
    )
    track_open(conn, req, handle)
    return _create_response(handle, CREATE_ACTIONS["opened"], None)


def close(conn: FileHost, req: Request) -> Response:
    _size, flags, _r, raw_id = req.unpack(CLOSE_REQUEST)
    handle = lookup_open(conn, req, raw_id)
    values = (0, 0, 0, 0, 0, 0, 0)
    if flags & 0x1 and handle.fd >= 0:
        st = handle.fstat()
        t = fs.times_of(st, handle.fd)
        values = (
            t.creation,
            t.access,
            t.write,
            t.change,
            fs.allocation_of(st),
            fs.end_of_file_of(st),
            t.attributes,
        )
    forget_open(conn, handle)
    release_locks(conn, handle)
    handle.close()
    return Response(STATUS_SUCCESS, CLOSE_RESPONSE.pack(60, flags & 0x1, 0, *values))


def flush(conn: FileHost, req: Request) -> Response:
    _size, _r1, _r2, raw_id = req.unpack(FLUSH_REQUEST)
    handle = lookup_open(conn, req, raw_id)
    if handle.fd >= 0 and not handle.is_dir:
        if not handle.granted & (FILE_WRITE_DATA | FILE_APPEND_DATA):
            raise SMBError(STATUS_ACCESS_DENIED, "flush needs write access")
        fs.fsync(handle.fd)
    return Response(STATUS_SUCCESS, b"\x04\x00\x00\x00")


def read(conn: FileHost, req: Request) -> Response:
    _size, _pad, _flags, length, offset, raw_id, minimum, _ch, _rem, _ci_off, _ci_len = req.unpack(READ_REQUEST)
    handle = lookup_open(conn, req, raw_id)
    if length > conn.context.max_io_size:
        raise SMBError(STATUS_INVALID_PARAMETER, "read larger than MaxReadSize")
    if offset > MAX_FILE_OFFSET:
        raise SMBError(STATUS_INVALID_PARAMETER, "read beyond the largest file offset")
    if handle.pipe is not None:
        data = handle.pipe.read(length)
    else:
        if handle.is_dir:
            raise SMBError(STATUS_INVALID_DEVICE_REQUEST, "cannot read a directory")
        if not handle.granted & (FILE_READ_DATA | 0x20):
            raise SMBError(STATUS_ACCESS_DENIED, "no read access")
        _refuse_locked_range(handle, offset, length, write=False)
        if length >= LARGE_READ:
            return _large_read(handle, length, offset, minimum, defer=req.may_defer and length >= LARGE_IO)
        try:
            data = fs.pread(handle.fd, length, offset) if length else b""
        except OSError as error:
            raise SMBError(status_from_oserror(error), "read failed") from error
    if (not data and length) or len(data) < minimum:
        raise SMBError(STATUS_END_OF_FILE, "end of file")
    handle.position = offset + len(data)  # as Samba does; Windows leaves it alone
    return Response(STATUS_SUCCESS, READ_RESPONSE.pack(17, 80, 0, len(data), 0, 0), payload=data or b"\x00")


def _large_read(handle: Open, length: int, offset: int, minimum: int, *, defer: bool = False) -> Response:
    """Read straight into a buffer that has room for the headers in front (see ``Response.frame_buffer``).

    With ``defer``, what the page cache holds is read at once (``RWF_NOWAIT``: the usual case, and cheaper
    inline than a trip through a thread) and only the rest, which needs the disk, is read on a worker thread.
    """
    try:
        size = fs.fstat(handle.fd).st_size
    except OSError as error:
        raise SMBError(status_from_oserror(error), "read failed") from error
    # Never allocate more than the file can return: a READ of 8 MiB from a 1-byte file costs 1 byte.
    length = max(0, min(length, size - offset))
    if length == 0 or length < minimum:
        raise SMBError(STATUS_END_OF_FILE, "end of file")
    buffer = bytearray(FRAME_PREFIX + length)
    view = memoryview(buffer)

    def finish(count: int) -> Response:
        if count == 0 or count < minimum:
            raise SMBError(STATUS_END_OF_FILE, "end of file")
        handle.position = offset + count
        body = READ_RESPONSE.pack(17, 80, 0, count, 0, 0)
        return Response(STATUS_SUCCESS, body, payload=view[FRAME_PREFIX : FRAME_PREFIX + count], frame_buffer=buffer)

    if not defer:
        try:
            count = fs.preadv(handle.fd, [view[FRAME_PREFIX:]], offset)
        except OSError as error:
            raise SMBError(status_from_oserror(error), "read failed") from error
        return finish(count)
    cached = 0
    try:
        if RWF_NOWAIT:
            cached = fs.preadv(handle.fd, [view[FRAME_PREFIX:]], offset, RWF_NOWAIT)
    except BlockingIOError:
        pass  # nothing of it is cached: all of it goes to the worker
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # RWF_NOWAIT unsupported here: use the worker
            raise SMBError(status_from_oserror(error), "read failed") from error
    if cached == length:
        return finish(cached)
    rest = _owning_fd(fs.dup(handle.fd), fs.preadv, [view[FRAME_PREFIX + cached :]], offset + cached)
    return Response(
        STATUS_SUCCESS, deferred=DeferredIO(rest, lambda count: finish(cached + count), buffer_size=len(buffer))
    )


def _owning_fd(fd: int, call: Callable[..., int], *args: Any) -> Callable[[], int]:
    """A worker-thread job: ``call(fd, *args)`` on a duplicate descriptor that the job closes.

    The duplicate keeps the file open even if the client's open is closed (or its number reused by another
    open) before the job runs.
    """

    def work() -> int:
        try:
            return call(fd, *args)
        finally:
            fs.close(fd)

    return work


def _finish_write(count: int) -> Response:
    return Response(STATUS_SUCCESS, WRITE_RESPONSE.pack(17, 0, count, 0, 0, 0))


def write(conn: FileHost, req: Request) -> Response:
    _size, data_offset, length, offset, raw_id, _ch, _rem, _ci_off, _ci_len, _flags = req.unpack(WRITE_REQUEST)
    handle = lookup_open(conn, req, raw_id)
    if length > conn.context.max_io_size:
        raise SMBError(STATUS_INVALID_PARAMETER, "write larger than MaxWriteSize")
    if offset + length > MAX_FILE_OFFSET or (length and offset + length > MAX_FILE_SIZE):
        raise SMBError(STATUS_INVALID_PARAMETER, "write beyond the largest file size")
    if length and offset + length == MAX_FILE_SIZE:
        raise SMBError(STATUS_DISK_FULL, "a file may not reach the largest file size")
    data = req.buffer(data_offset, length)
    if handle.pipe is not None:
        handle.pipe.write(bytes(data))
        written = length
    else:
        if handle.is_dir:
            raise SMBError(STATUS_INVALID_DEVICE_REQUEST, "cannot write a directory")
        if handle.tree.read_only or not handle.granted & (FILE_WRITE_DATA | FILE_APPEND_DATA):
            raise SMBError(STATUS_ACCESS_DENIED, "no write access")
        _refuse_locked_range(handle, offset, length, write=True)
        if handle.shared is not None and handle.shared.level2_opens:
            invalidate_caches(handle)
        if req.may_defer and length >= LARGE_IO:
            fd = fs.dup(handle.fd)
            return Response(STATUS_SUCCESS, deferred=DeferredIO(_owning_fd(fd, fs.pwrite, data, offset), _finish_write))
        try:
            written = fs.pwrite(handle.fd, data, offset)
        except OSError as error:
            raise SMBError(status_from_oserror(error), "write failed") from error
    return _finish_write(written)


def invalidate_caches(handle: Open) -> None:
    """The file's data changes (a WRITE, a new end of file or allocation): its LEVEL_II oplocks break to none, the
    writer's own included (MS-FSA 2.1.4.12)."""
    if handle.shared is not None and handle.shared.level2_opens:
        oplocks.break_level2(handle.shared)


def _refuse_locked_range(handle: Open, offset: int, length: int, *, write: bool) -> None:
    """A READ or WRITE into a range another open locked (or, for a WRITE, anyone share-locked) fails (MS-FSA 2.1.4.10)."""
    shared = handle.shared
    if (
        shared is not None
        and (shared.locks.count or shared.locks.mirror is not None)
        and shared.locks.io_conflicts(offset, length, handle.lock_owner, write)
    ):
        raise SMBError(STATUS_FILE_LOCK_CONFLICT, "the range is locked")


def lock(conn: FileHost, req: Request) -> Response:
    """Byte-range locks (MS-SMB2 3.3.5.14, MS-FSA 2.1.5.8-2.1.5.9), kept with the file for every open of it.

    A single range without FAIL_IMMEDIATELY that conflicts waits (``Response.waits``: the connection answers
    STATUS_PENDING and the final answer comes when the range is free, see ``lock_waiters``) when the request is
    alone in its frame; in a compound it fails at once. A request that fails part-way releases the locks it
    took, as 3.3.5.14 says.
    """
    _size, count, sequence, raw_id = req.unpack(LOCK_REQUEST)
    handle = lookup_open(conn, req, raw_id)
    if count == 0 or handle.fd < 0 or handle.is_dir or handle.shared is None:
        raise SMBError(STATUS_INVALID_PARAMETER, "nothing to lock")
    slot = _lock_sequence_slot(conn, handle, sequence)
    if slot is not None:
        if handle.lock_sequences.get(slot) == sequence & 0xF:
            return Response(STATUS_SUCCESS, b"\x04\x00\x00\x00")  # a replay of a LOCK that succeeded: done already
        handle.lock_sequences.pop(slot, None)
    response = _lock_or_unlock(handle, req, count)
    if slot is not None and response.status == STATUS_SUCCESS:
        handle.lock_sequences[slot] = sequence & 0xF
    return response


def _lock_sequence_slot(conn: FileHost, handle: Open, sequence: int) -> Optional[int]:
    """The LockSequenceIndex (1-64) whose replay this LOCK may be, or None when replays are not detected: only on
    durable opens (no resilient or persistent ones here, no multichannel) after SMB 2.0.2 (MS-SMB2 3.3.5.14)."""
    if not handle.durable_timeout or conn.dialect == DIALECT_202:
        return None
    index = sequence >> 4
    return index if 1 <= index <= 64 else None


def _lock_or_unlock(handle: Open, req: Request, count: int) -> Response:
    assert handle.shared is not None
    if count > MAX_LOCKS_PER_REQUEST:
        raise SMBError(STATUS_INSUFFICIENT_RESOURCES, f"more than {MAX_LOCKS_PER_REQUEST} ranges in one LOCK")
    if len(req.message) < 64 + 24 + count * 24:
        raise SMBError(STATUS_INVALID_PARAMETER, "truncated lock array")
    elements = [LOCK_ELEMENT.unpack_from(req.message, 64 + 24 + i * 24) for i in range(count)]
    shared = handle.shared
    locks = shared.locks
    if elements[0][2] == LOCK_UNLOCK:
        try:
            _unlock(locks, handle, elements)
        finally:  # what was unlocked before a bad element stays unlocked: its waiters may go on
            lock_waiters.grant_free(shared.lock_waiters, locks)
        return Response(STATUS_SUCCESS, b"\x04\x00\x00\x00")
    if shared.level2_opens:
        oplocks.break_level2(shared)
    taken = []
    try:
        for offset, length, flags, _r in elements:
            if flags not in _LOCK_FLAGS_ANY and not (count == 1 and flags in _LOCK_FLAGS_ALONE):
                raise SMBError(STATUS_INVALID_PARAMETER, "invalid lock flags")
            if length and offset + length - 1 > 0xFFFFFFFFFFFFFFFF:
                raise SMBError(STATUS_INVALID_LOCK_RANGE, "the range ends beyond the largest offset")
            exclusive = bool(flags & LOCK_EXCLUSIVE)
            if locks.held_by(handle.lock_owner) >= MAX_LOCKS_PER_OPEN or locks.count >= MAX_LOCKS_PER_FILE:
                raise SMBError(STATUS_INSUFFICIENT_RESOURCES, "too many locks on this file")
            if locks.lock_conflicts(offset, length, handle.lock_owner, exclusive):
                if flags in _LOCK_FLAGS_ALONE and req.alone:
                    waiter = lock_waiters.LockWaiter(handle.lock_owner, offset, length, exclusive)
                    return Response(STATUS_PENDING, error_body(), waits=(shared.waiting_list(), waiter))
                raise SMBError(STATUS_LOCK_NOT_GRANTED, "range locked")
            try:
                taken.append(locks.add(offset, length, handle.lock_owner, exclusive))
            except PeerConflict:
                raise SMBError(STATUS_LOCK_NOT_GRANTED, "range locked by another worker's client") from None
    except SMBError:
        for entry in taken:
            locks.remove(entry)
        raise
    return Response(STATUS_SUCCESS, b"\x04\x00\x00\x00")


def _unlock(locks: FileLocks, handle: Open, elements: list[tuple[int, int, int, int]]) -> None:
    for offset, length, flags, _r in elements:
        if flags != LOCK_UNLOCK:
            raise SMBError(STATUS_INVALID_PARAMETER, "locks and unlocks mixed in one request")
        if length and offset + length - 1 > 0xFFFFFFFFFFFFFFFF:
            raise SMBError(STATUS_INVALID_LOCK_RANGE, "the range ends beyond the largest offset")
        entry = locks.find(offset, length, handle.lock_owner)
        if entry is None:
            raise SMBError(STATUS_RANGE_NOT_LOCKED, "range not locked")
        locks.remove(entry)


def release_locks(conn: Optional[FileHost], handle: Open) -> None:
    """Drop the locks of an open that is closing (its file's other opens may use the ranges at once): its own
    waiting LOCK requests end with STATUS_RANGE_NOT_LOCKED, and the other opens' waiters may take the ranges."""
    shared = handle.shared
    if shared is not None:
        lock_waiters.end_for_open(shared.lock_waiters, handle.lock_owner, STATUS_RANGE_NOT_LOCKED)
        shared.locks.release_owner(handle.lock_owner)
        lock_waiters.grant_free(shared.lock_waiters, shared.locks)


def oplock_break_ack(conn: FileHost, req: Request) -> Response:
    """OPLOCK_BREAK acknowledgment (MS-SMB2 3.3.5.22.1): the client gave up its oplock; waiting CREATEs go on.

    The client may acknowledge the level the break named (LEVEL_II or NONE) or a lower one; a higher one is
    refused and leaves no oplock, as is an acknowledgment with no break in progress (a LEVEL_II break to NONE
    expects none). A lease break acknowledgment (36 bytes) finds no lease: there are none.
    """
    size, level, _r, _r2, raw_id = req.unpack(oplocks.BREAK)
    if size != oplocks.BREAK.size:
        raise SMBError(STATUS_INVALID_PARAMETER, "not an oplock break acknowledgment (leases are not granted)")
    handle = lookup_open(conn, req, raw_id)
    if not handle.oplock_breaking:
        raise SMBError(STATUS_INVALID_OPLOCK_PROTOCOL, "no oplock break is in progress on this open")
    if level not in (oplocks.LEVEL_NONE, oplocks.LEVEL_II) or level > handle.break_to:
        oplocks.end_break(handle, oplocks.LEVEL_NONE)
        raise SMBError(STATUS_INVALID_OPLOCK_PROTOCOL, "acknowledged a higher level than the break named")
    oplocks.end_break(handle, level)
    return Response(STATUS_SUCCESS, oplocks.BREAK.pack(24, level, 0, 0, handle.file_id))
