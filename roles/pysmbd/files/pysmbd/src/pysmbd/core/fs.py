"""Safe access to a share's directory tree.

Every client path is split into components and walked from the share root with ``openat``-style calls
(``dir_fd=``) and ``O_NOFOLLOW``: ``..``, absolute paths, drive letters, stream names and invalid
characters are refused before touching the disk, and a symbolic link anywhere on the way is refused by
the kernel itself, so no path can leave the share, not even through a link created after the check.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import names
from .status import (
    STATUS_ACCESS_DENIED,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND,
    STATUS_OBJECT_PATH_SYNTAX_BAD,
    SMBError,
    status_from_oserror,
)

_INVALID_CHARS = frozenset('<>"|?*/:') | frozenset(chr(c) for c in range(32))
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
EPOCH_AS_FILETIME = 116444736000000000

FILE_ATTRIBUTE_READONLY = 0x01
FILE_ATTRIBUTE_DIRECTORY = 0x10
FILE_ATTRIBUTE_ARCHIVE = 0x20
FILE_ATTRIBUTE_NORMAL = 0x80


def split_path(name: str) -> tuple[str, ...]:
    """Split a client path (backslashes, relative to the share) into checked components."""
    if name.endswith("::$DATA"):
        name = name[: -len("::$DATA")]
    stripped = name.strip("\\")
    if not stripped:
        return ()
    parts = stripped.split("\\")
    for part in parts:
        if part in ("", ".", ".."):
            raise SMBError(
                STATUS_OBJECT_PATH_SYNTAX_BAD if part == ".." else STATUS_OBJECT_NAME_INVALID, "bad path component"
            )
        if _INVALID_CHARS.intersection(part):
            raise SMBError(STATUS_OBJECT_NAME_INVALID, "invalid character in path")
        if len(part.encode("utf-8", "surrogatepass")) > 255:
            raise SMBError(STATUS_OBJECT_NAME_INVALID, "path component too long")
    return tuple(parts)


def open_root(root: Path) -> int:
    try:
        return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise SMBError(STATUS_OBJECT_PATH_NOT_FOUND, "share directory is missing") from error


@contextlib.contextmanager
def parent_dir(root: Path, parts: tuple[str, ...]) -> Iterator[int]:
    """Yield a directory fd for the parent of ``parts`` (the root for a one-component path)."""
    fd = open_root(root)
    try:
        for component in parts[:-1]:
            try:
                next_fd = os.open(find_entry(fd, component), _DIR_FLAGS, dir_fd=fd)
            except OSError as error:
                raise SMBError(STATUS_OBJECT_PATH_NOT_FOUND, "parent directory not found") from error
            os.close(fd)
            fd = next_fd
        yield fd
    finally:
        os.close(fd)


def find_entry(dir_fd: int, name: str) -> str:
    """The name as stored on disk: ``name`` when it exists, else an entry equal to it ignoring case as Windows
    does (``names.windows_upper``).

    The common case costs one stat; a name missing under its exact spelling is looked up in the directory's
    index (``names.directories``), never by a scan per request.
    """
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return name
    except FileNotFoundError:
        pass
    except OSError:
        return name
    try:
        return names.directories.find(dir_fd, name) or name
    except OSError:
        return name


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SMBError(status_from_oserror(error), "stat failed") from error


def open_at(dir_fd: int, name: str, flags: int, mode: int = 0o666) -> int:
    """Open ``name`` in ``dir_fd`` without following a symlink."""
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == 40:  # ELOOP: the name is a symlink
            raise SMBError(STATUS_ACCESS_DENIED, "symbolic links are not followed") from error
        if error.errno == 2:
            raise SMBError(STATUS_OBJECT_NAME_NOT_FOUND, "no such file") from error
        raise SMBError(status_from_oserror(error), "open failed") from error
    if flags & os.O_CREAT:
        names.directories.changed(dir_fd, added=name)
    return fd


# System calls on what the core holds open. The handlers make every system call through this module, so it is
# the one place that says what pysmbd does to a share. Calls on a held descriptor are the ``os`` functions
# themselves (the READ/WRITE hot path pays no extra call); calls that name an entry use its directory's
# descriptor and never follow a final symbolic link.
close = os.close
dup = os.dup
fstat = os.fstat
fstatvfs = os.fstatvfs
fsync = os.fsync
ftruncate = os.ftruncate
pread = os.pread
preadv = os.preadv
pwrite = os.pwrite
list_dir = os.listdir
"""The names in an open directory (pass its descriptor)."""


def set_times(fd: int, access_ns: int, write_ns: int) -> None:
    os.utime(fd, ns=(access_ns, write_ns))


def stat_at(dir_fd: int, name: str) -> os.stat_result:
    """Like ``lstat_at`` but raising ``OSError`` for a missing entry too."""
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def parent_stat(dir_fd: int) -> os.stat_result:
    """The stat of an open directory's parent."""
    return os.stat("..", dir_fd=dir_fd)


# The calls that change a directory keep its name index current (``names.directories``), so that a client
# creating, renaming or deleting cannot make the next case-insensitive lookup rebuild the index.


def mkdir_at(dir_fd: int, name: str) -> None:
    os.mkdir(name, 0o777, dir_fd=dir_fd)
    names.directories.changed(dir_fd, added=name)


def remove_at(dir_fd: int, name: str, *, is_dir: bool) -> None:
    if is_dir:
        os.rmdir(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)
    names.directories.changed(dir_fd, removed=name)


def rename_at(old_dir_fd: int, old_name: str, new_dir_fd: int, new_name: str) -> None:
    os.rename(old_name, new_name, src_dir_fd=old_dir_fd, dst_dir_fd=new_dir_fd)
    names.directories.changed(old_dir_fd, removed=old_name)
    names.directories.changed(new_dir_fd, added=new_name)


def to_filetime_ns(ns: int) -> int:
    return ns // 100 + EPOCH_AS_FILETIME


def from_filetime(value: int) -> int:
    """FILETIME to nanoseconds since 1970."""
    return (value - EPOCH_AS_FILETIME) * 100


@dataclass(frozen=True)
class FileTimes:
    """The Windows view of a file's times, and its DOS attributes."""

    creation: int
    access: int
    write: int
    change: int
    attributes: int = FILE_ATTRIBUTE_ARCHIVE


# What Linux cannot keep for a Windows client, kept in one user xattr: creation FILETIME and DOS attributes
# (0 = never set). File systems without user xattrs simply lose them, as with Samba's "store dos attributes = no".
DOS_XATTR = "user.pysmbd.dos"
DOS_LAYOUT = struct.Struct("<QI")
SETTABLE_ATTRIBUTES = (
    0x01 | 0x02 | 0x04 | 0x20 | 0x80 | 0x100 | 0x2000
)  # RO, hidden, system, archive, normal, temp, not indexed
_CHANGE_OVERRIDES: dict[tuple[int, int], tuple[int, int]] = {}
_CHANGE_OVERRIDES_KEPT = 4096


def _stored_dos(target: int | str | None) -> tuple[int, int]:
    if target is None:
        return 0, 0
    try:
        if isinstance(target, int):
            raw = os.getxattr(target, DOS_XATTR)
        else:
            raw = os.getxattr(target, DOS_XATTR, follow_symlinks=False)
    except OSError:  # no such attribute, or a file system without user xattrs
        return 0, 0
    return DOS_LAYOUT.unpack(raw) if len(raw) == DOS_LAYOUT.size else (0, 0)


def _store_dos(fd: int, creation: int | None = None, attributes: int | None = None) -> None:
    old_creation, old_attributes = _stored_dos(fd)
    value = DOS_LAYOUT.pack(
        old_creation if creation is None else creation, old_attributes if attributes is None else attributes
    )
    with contextlib.suppress(OSError):
        os.setxattr(fd, DOS_XATTR, value)


def store_creation(fd: int, filetime: int) -> None:
    """Remember a creation time (Linux stat has none)."""
    _store_dos(fd, creation=filetime)


def store_attributes(fd: int, attributes: int) -> None:
    """Remember DOS attributes; the directory bit always comes from the file type."""
    _store_dos(fd, attributes=(attributes & SETTABLE_ATTRIBUTES) or FILE_ATTRIBUTE_NORMAL)


def store_change(fd: int, filetime: int) -> None:
    """A client-set change time, reported until the file's real ctime moves on (it cannot be set on Linux)."""
    st = os.fstat(fd)
    if len(_CHANGE_OVERRIDES) >= _CHANGE_OVERRIDES_KEPT:
        _CHANGE_OVERRIDES.pop(next(iter(_CHANGE_OVERRIDES)))
    _CHANGE_OVERRIDES[(st.st_dev, st.st_ino)] = (filetime, st.st_ctime_ns)


def change_override(fd: int) -> int | None:
    """The client-set change time still in force for this file, if any."""
    st = os.fstat(fd)
    override = _CHANGE_OVERRIDES.get((st.st_dev, st.st_ino))
    return override[0] if override is not None and override[1] == st.st_ctime_ns else None


def times_of(st: os.stat_result, target: int | str | None = None) -> FileTimes:
    """Windows times of a file; ``target`` (an fd or a path) lets a stored creation time be read."""
    creation, attributes = _stored_dos(target)
    if not creation:  # never stored: the oldest time we know is the best guess
        creation = to_filetime_ns(min(st.st_mtime_ns, st.st_ctime_ns))
    if stat.S_ISDIR(st.st_mode):
        attributes = (attributes & ~(FILE_ATTRIBUTE_NORMAL | FILE_ATTRIBUTE_ARCHIVE)) | FILE_ATTRIBUTE_DIRECTORY
    elif not attributes:
        attributes = FILE_ATTRIBUTE_ARCHIVE
    change = to_filetime_ns(st.st_ctime_ns)
    override = _CHANGE_OVERRIDES.get((st.st_dev, st.st_ino))
    if override is not None and override[1] == st.st_ctime_ns:
        change = override[0]
    return FileTimes(creation, to_filetime_ns(st.st_atime_ns), to_filetime_ns(st.st_mtime_ns), change, attributes)


def entry_path(dir_fd: int, name: str) -> str:
    """A path naming ``name`` inside an open directory, for calls that take no dir_fd (getxattr)."""
    return f"/proc/self/fd/{dir_fd}/{name}"


def allocation_of(st: os.stat_result) -> int:
    if stat.S_ISDIR(st.st_mode):
        return 0
    return max(st.st_blocks * 512, (st.st_size + 4095) // 4096 * 4096 if st.st_size else 0)


def end_of_file_of(st: os.stat_result) -> int:
    return 0 if stat.S_ISDIR(st.st_mode) else st.st_size
