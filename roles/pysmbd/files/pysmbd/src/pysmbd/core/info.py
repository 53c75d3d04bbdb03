"""QUERY_DIRECTORY, QUERY_INFO and SET_INFO (MS-SMB2 3.3.5.17, 3.3.5.20, 3.3.5.21)."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import struct
from typing import Callable

from . import fileinfo, fs
from .files import MAX_FILE_SIZE, FileHost, Open, invalidate_caches, lookup_open
from .request import Request, Response
from .status import (
    STATUS_ACCESS_DENIED,
    STATUS_BUFFER_OVERFLOW,
    STATUS_BUFFER_TOO_SMALL,
    STATUS_DIRECTORY_NOT_EMPTY,
    STATUS_INFO_LENGTH_MISMATCH,
    STATUS_INVALID_INFO_CLASS,
    STATUS_INVALID_PARAMETER,
    STATUS_NO_EAS_ON_FILE,
    STATUS_NO_MORE_FILES,
    STATUS_NO_SUCH_FILE,
    STATUS_NOT_SUPPORTED,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_SUCCESS,
    SMBError,
    status_from_oserror,
)
from .wire import from_utf16

QUERY_DIRECTORY_REQUEST = struct.Struct("<HBBI16sHHI")
QUERY_INFO_REQUEST = struct.Struct("<HBBIHHIII16s")
SET_INFO_REQUEST = struct.Struct("<HBBIHHI16s")
OUTPUT_HEADER = struct.Struct("<HHI")  # StructureSize 9, OutputBufferOffset, OutputBufferLength

RESTART_SCANS = 0x01
RETURN_SINGLE_ENTRY = 0x02
REOPEN = 0x10
INFO_FILE = 1
INFO_FILESYSTEM = 2
INFO_SECURITY = 3


def _output(data: bytes, status: int = STATUS_SUCCESS) -> Response:
    return Response(status, OUTPUT_HEADER.pack(9, 72, len(data)), payload=data or b"\x00")


# ----------------------------------------------------------------------------- QUERY_DIRECTORY


def _wildcard_to_fnmatch(pattern: str) -> str:
    """Windows wildcards, including the DOS_STAR/DOS_QM/DOS_DOT forms, as an fnmatch pattern."""
    translated = pattern.replace("<", "*").replace(">", "?").replace('"', ".")
    return translated.replace("[", "[[]")


MAX_PATTERN_LENGTH = 255  # a name component is at most 255 characters; a longer pattern is a client error


def _matcher(pattern: str) -> Callable[[str], bool]:
    """A name test for one search pattern, compiled once per listing (fnmatch would cache it process-wide)."""
    if pattern in ("*", "*.*", "<.*") or not pattern:
        return lambda name: True
    regex = re.compile(fnmatch.translate(_wildcard_to_fnmatch(pattern).lower()))
    return lambda name: regex.match(name.lower()) is not None


def _encodable(name: str) -> bool:
    """False for a name on disk that is not UTF-8 (os.listdir gives it lone surrogates): it has no UTF-16 form."""
    try:
        name.encode("utf-16-le")
    except UnicodeEncodeError:
        return False
    return True


def query_directory(conn: FileHost, req: Request) -> Response:
    _size, info_class, flags, _index, raw_id, name_offset, name_length, out_length = req.unpack(QUERY_DIRECTORY_REQUEST)
    _refuse_beyond_max_transact(conn, out_length)
    handle = lookup_open(conn, req, raw_id)
    if not handle.is_dir or handle.fd < 0:
        raise SMBError(STATUS_INVALID_PARAMETER, "not a directory")
    if info_class not in fileinfo.DIRECTORY_CLASSES:
        raise SMBError(STATUS_INVALID_INFO_CLASS, "unsupported directory information class")
    pattern = from_utf16(req.buffer(name_offset, name_length)) if name_length else ""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise SMBError(STATUS_OBJECT_NAME_INVALID, "search pattern longer than a file name")
    if flags & (RESTART_SCANS | REOPEN) or handle.listing is None or (pattern and pattern != handle.listing_pattern):
        first_call = True
        handle.listing_pattern = pattern or "*"
        handle.listing = [".", "..", *sorted(fs.list_dir(handle.fd))]
        matches = _matcher(handle.listing_pattern)
        handle.listing = [n for n in handle.listing if _encodable(n) and matches(n)]
        handle.listing_pos = 0
    else:
        first_call = False
    if handle.listing_pos >= len(handle.listing):
        raise SMBError(STATUS_NO_SUCH_FILE if first_call else STATUS_NO_MORE_FILES, "no more entries")
    entries: list[bytes] = []
    used = 0
    while handle.listing_pos < len(handle.listing):
        name = handle.listing[handle.listing_pos]
        st = _entry_stat(handle, name)
        if st is None:
            handle.listing_pos += 1
            continue
        target = handle.fd if name in (".", "..") else fs.entry_path(handle.fd, name)
        entry = fileinfo.directory_entry(info_class, name, st, fs.times_of(st, target))
        needed = used + (8 - used % 8) % 8 + len(entry) if entries else len(entry)
        if needed > out_length:
            break
        entries.append(entry)
        used = needed
        handle.listing_pos += 1
        if flags & RETURN_SINGLE_ENTRY:
            break
    if not entries:
        if handle.listing_pos >= len(handle.listing):
            raise SMBError(STATUS_NO_SUCH_FILE if first_call else STATUS_NO_MORE_FILES, "no more entries")
        raise SMBError(STATUS_INFO_LENGTH_MISMATCH, "output buffer too small for one entry")
    return _output(fileinfo.set_next_offsets(entries))


def _refuse_beyond_max_transact(conn: FileHost, out_length: int) -> None:
    """An OutputBufferLength above the MaxTransactSize we offered is refused, as Samba does: it would cost a huge
    answer, and past 16 MiB one that no Direct TCP frame can carry."""
    if out_length > conn.context.max_io_size:
        raise SMBError(STATUS_INVALID_PARAMETER, "OutputBufferLength exceeds MaxTransactSize")


def _entry_stat(handle: Open, name: str) -> os.stat_result | None:
    try:
        if name == ".":
            return fs.fstat(handle.fd)
        if name == "..":
            return fs.parent_stat(handle.fd) if handle.parts else fs.fstat(handle.fd)
        return fs.stat_at(handle.fd, name)
    except OSError:
        return None


# ----------------------------------------------------------------------------- QUERY_INFO

FILE_READ_EA = 0x8
FILE_READ_ATTRIBUTES = 0x80
FILE_WRITE_ATTRIBUTES = 0x100
FILE_WRITE_DATA = 0x2
DELETE = 0x10000
READ_CONTROL = 0x20000
# Access an open must have been granted to query or set a class (MS-FSA 2.1.5.12, 2.1.5.15).
_QUERY_NEEDS = {
    (INFO_FILE, 4): FILE_READ_ATTRIBUTES,
    (INFO_FILE, 18): FILE_READ_ATTRIBUTES,
    (INFO_FILE, 34): FILE_READ_ATTRIBUTES,
    (INFO_FILE, 35): FILE_READ_ATTRIBUTES,
    (INFO_FILE, 15): FILE_READ_EA,
    (INFO_SECURITY, 0): READ_CONTROL,
}
_SET_NEEDS = {
    4: FILE_WRITE_ATTRIBUTES,
    10: DELETE,
    65: DELETE,
    13: DELETE,
    64: DELETE,
    19: FILE_WRITE_DATA,
    20: FILE_WRITE_DATA,
}


def _check_access(handle: Open, needed: int, verb: str) -> None:
    if needed and handle.pipe is None and not handle.granted & needed:
        raise SMBError(STATUS_ACCESS_DENIED, f"the open was not granted the access needed to {verb} this class")


# Smallest useful answer per class: below it a query fails, above it a long answer is truncated (MS-FSCC).
# The sizes Windows uses: the fixed part rounded up to 8 where the structure has a variable tail.
_FILE_MINIMUM = {
    4: 40,
    5: 24,
    6: 8,
    7: 4,
    8: 4,
    9: 8,
    16: 4,
    17: 4,
    18: 104,
    21: 8,
    22: 32,
    28: 16,
    34: 56,
    35: 8,
    48: 8,
}
_FS_MINIMUM = {1: 24, 3: 24, 4: 8, 5: 16, 6: 48, 7: 32, 11: 28}


def query_info(conn: FileHost, req: Request) -> Response:
    (_size, info_type, info_class, out_length, _in_off, _r, _in_len, additional, _flags, raw_id) = req.unpack(
        QUERY_INFO_REQUEST
    )
    _refuse_beyond_max_transact(conn, out_length)
    handle = lookup_open(conn, req, raw_id)
    _check_access(handle, _QUERY_NEEDS.get((info_type, info_class), 0), "query")
    if info_type == INFO_FILE:
        data = _file_info(handle, info_class)
    elif info_type == INFO_FILESYSTEM:
        data = _fs_info(conn, handle, info_class)
    elif info_type == INFO_SECURITY:
        data = fileinfo.security_descriptor(additional, handle.tree.read_only)
        if len(data) > out_length:
            raise SMBError(STATUS_BUFFER_TOO_SMALL, "security descriptor", struct.pack("<I", len(data)))
        return _output(data)
    else:
        raise SMBError(STATUS_NOT_SUPPORTED, "quota information is not supported")
    if len(data) > out_length:
        minimum = (_FILE_MINIMUM if info_type == INFO_FILE else _FS_MINIMUM).get(info_class, len(data))
        if out_length < minimum:
            raise SMBError(STATUS_INFO_LENGTH_MISMATCH, "output buffer smaller than the fixed part")
        return _output(data[:out_length], STATUS_BUFFER_OVERFLOW)
    return _output(data)


def _stat(handle: Open) -> os.stat_result:
    if handle.fd < 0:
        raise SMBError(STATUS_INVALID_PARAMETER, "no file information for a pipe")
    return handle.fstat()


def _file_info(handle: Open, info_class: int) -> bytes:
    if handle.pipe is not None:
        if info_class == 5:  # FileStandardInformation on a pipe (smbclient asks)
            return fileinfo.STANDARD.pack(4096, 0, 1, 0, 0, 0)
        raise SMBError(STATUS_INVALID_PARAMETER, "no file information for a pipe")
    st = _stat(handle)
    times = fs.times_of(st, handle.fd)
    name = "\\" + handle.display_name
    builders = {
        4: lambda: fileinfo.basic(st, times),
        5: lambda: fileinfo.standard(st, handle.delete_pending),
        6: lambda: struct.pack("<Q", st.st_ino),
        7: lambda: struct.pack("<I", 0),
        8: lambda: struct.pack("<I", handle.granted),
        9: lambda: fileinfo.name_info(name),
        14: lambda: struct.pack("<Q", handle.position),
        16: lambda: struct.pack("<I", 0),
        17: lambda: struct.pack("<I", 0),
        18: lambda: fileinfo.all_info(st, times, handle.delete_pending, handle.granted, handle.position, name),
        21: lambda: _alternate_name(handle),
        15: _no_eas,
        22: lambda: fileinfo.stream_info(st),
        28: lambda: fileinfo.compression(st),
        34: lambda: fileinfo.network_open(st, times),
        35: lambda: struct.pack("<II", times.attributes, 0),
        48: lambda: fileinfo.name_info(handle.display_name),
    }
    builder = builders.get(info_class)
    if builder is None:
        raise SMBError(STATUS_INVALID_INFO_CLASS, f"file information class {info_class} is not supported")
    return builder()


def _no_eas() -> bytes:
    raise SMBError(STATUS_NO_EAS_ON_FILE, "no extended attributes are exposed")


def _alternate_name(handle: Open) -> bytes:
    if not handle.parts:
        raise SMBError(STATUS_OBJECT_NAME_NOT_FOUND, "the share root has no 8.3 name")
    return fileinfo.name_info(fileinfo.short_name_of(handle.parts[-1]))


def _fs_info(conn: FileHost, handle: Open, info_class: int) -> bytes:
    share = handle.tree.share
    if share is None:
        raise SMBError(STATUS_INVALID_PARAMETER, "no file system information for IPC$")
    if info_class == 1:
        created = fs.to_filetime_ns(int(conn.context.start_time * 1e9))
        return fileinfo.fs_volume(share.name, fileinfo.volume_serial(str(share.path)), created)
    if info_class in (3, 7):
        vfs = fs.fstatvfs(handle.fd)
        return fileinfo.fs_size(vfs) if info_class == 3 else fileinfo.fs_full_size(vfs)
    if info_class == 4:
        return fileinfo.fs_device()
    if info_class == 5:
        return fileinfo.fs_attribute()
    if info_class == 6:  # FileFsControlInformation: no quotas, default thresholds
        return struct.pack("<qqqqqI4x", 0, 0, -1, -1, -1, 0)
    if info_class == 8:
        return fileinfo.fs_object_id()
    if info_class == 11:
        return fileinfo.fs_sector_size()
    raise SMBError(STATUS_INVALID_INFO_CLASS, f"file system information class {info_class} is not supported")


# ----------------------------------------------------------------------------- SET_INFO


def set_info(conn: FileHost, req: Request) -> Response:
    _size, info_type, info_class, length, offset, _r, _additional, raw_id = req.unpack(SET_INFO_REQUEST)
    handle = lookup_open(conn, req, raw_id)
    data = bytes(req.buffer(offset, length))
    if info_type == INFO_SECURITY:
        if handle.tree.read_only:
            raise SMBError(STATUS_ACCESS_DENIED, "read-only share")
        # Ownership and ACLs are those of the server's account: say so, rather than claim a change never made.
        raise SMBError(STATUS_NOT_SUPPORTED, "security descriptors cannot be set on this server")
    if info_type != INFO_FILE:
        raise SMBError(STATUS_NOT_SUPPORTED, "only file information can be set")
    if handle.fd < 0:
        raise SMBError(STATUS_INVALID_PARAMETER, "cannot set information on a pipe")
    if info_class == 14:
        _need(data, 8)
        (handle.position,) = struct.unpack_from("<Q", data)
        return Response(STATUS_SUCCESS, b"\x02\x00")
    if info_class == 16:
        return Response(STATUS_SUCCESS, b"\x02\x00")
    if handle.tree.read_only:
        raise SMBError(STATUS_ACCESS_DENIED, "read-only share")
    _check_access(handle, _SET_NEEDS.get(info_class, 0), "set")
    try:
        if info_class == 4:
            _set_basic(handle, data)
        elif info_class in (10, 65):
            _rename(conn, handle, data)
        elif info_class in (13, 64):
            _need(data, 1)
            flag = data[0] & 1 if info_class == 13 else struct.unpack_from("<I", data.ljust(4, b"\x00"))[0] & 1
            _set_delete_pending(handle, bool(flag))
        elif info_class == 20:
            _need(data, 8)
            _require_write(handle)
            (end_of_file,) = struct.unpack_from("<Q", data)
            if end_of_file > MAX_FILE_SIZE:  # as WRITE: no file beyond what NTFS allows (2^62 was accepted)
                raise SMBError(STATUS_INVALID_PARAMETER, "end of file beyond the largest file size")
            invalidate_caches(handle)
            fs.ftruncate(handle.fd, end_of_file)
        elif info_class == 19:
            _need(data, 8)
            _require_write(handle)
            wanted = struct.unpack_from("<Q", data)[0]
            if wanted < fs.fstat(handle.fd).st_size:
                invalidate_caches(handle)
                fs.ftruncate(handle.fd, wanted)
        else:
            raise SMBError(STATUS_INVALID_INFO_CLASS, f"cannot set file information class {info_class}")
    except OSError as error:
        raise SMBError(status_from_oserror(error), "set info failed") from error
    return Response(STATUS_SUCCESS, b"\x02\x00")


def _need(data: bytes, size: int) -> None:
    if len(data) < size:
        raise SMBError(STATUS_INFO_LENGTH_MISMATCH, "set info buffer too short")


def _require_write(handle: Open) -> None:
    if handle.is_dir or not handle.granted & 0x6:
        raise SMBError(STATUS_ACCESS_DENIED, "no write access")


def _set_basic(handle: Open, data: bytes) -> None:
    """Set times (0 and -1 mean "leave it"); creation goes to an xattr, change time is remembered in memory."""
    _need(data, 36)
    creation, access, write, change, attributes = struct.unpack_from("<qqqqI", data)
    if attributes & fs.FILE_ATTRIBUTE_DIRECTORY and not handle.is_dir:
        raise SMBError(STATUS_INVALID_PARAMETER, "a file cannot become a directory")
    if attributes & 0x100 and handle.is_dir:  # FILE_ATTRIBUTE_TEMPORARY
        raise SMBError(STATUS_INVALID_PARAMETER, "a directory cannot be temporary")
    kept_change = fs.change_override(handle.fd)  # our own updates below must not undo a client-set change time
    if creation > 0:
        fs.store_creation(handle.fd, creation)
    if attributes:
        fs.store_attributes(handle.fd, attributes)
    if access > 0 or write > 0:
        st = fs.fstat(handle.fd)
        atime = fs.from_filetime(access) if access > 0 else st.st_atime_ns
        mtime = fs.from_filetime(write) if write > 0 else st.st_mtime_ns
        fs.set_times(handle.fd, atime, mtime)
    if change > 0:
        fs.store_change(handle.fd, change)
    elif kept_change is not None:
        fs.store_change(handle.fd, kept_change)


def _set_delete_pending(handle: Open, pending: bool) -> None:
    if not handle.parts:
        raise SMBError(STATUS_ACCESS_DENIED, "cannot delete the share root")
    if pending and handle.is_dir and fs.list_dir(handle.fd):
        raise SMBError(STATUS_DIRECTORY_NOT_EMPTY, "directory not empty")
    handle.set_delete_pending(pending)


def _rename(conn: FileHost, handle: Open, data: bytes) -> None:
    _need(data, 20)
    replace, _root, name_length = struct.unpack_from("<B7xQI", data)
    target = from_utf16(data[20 : 20 + name_length])
    share = handle.tree.share
    assert share is not None
    if not handle.parts:
        raise SMBError(STATUS_ACCESS_DENIED, "cannot rename the share root")
    new_parts = fs.split_path(target)
    if not new_parts:
        raise SMBError(STATUS_INVALID_PARAMETER, "empty rename target")
    with fs.parent_dir(share.path, handle.parts) as old_parent, fs.parent_dir(share.path, new_parts) as new_parent:
        source = fs.find_entry(old_parent, handle.parts[-1])
        _refuse_if_moved(handle, fs.lstat_at(old_parent, source))
        stored_target = fs.find_entry(new_parent, new_parts[-1])
        existing = fs.lstat_at(new_parent, stored_target)
        same_file = existing is not None and existing.st_ino == fs.fstat(handle.fd).st_ino
        if existing is not None and not same_file:
            if not replace:
                raise SMBError(STATUS_OBJECT_NAME_COLLISION, "rename target exists")
            if stat.S_ISDIR(existing.st_mode):
                raise SMBError(STATUS_ACCESS_DENIED, "cannot replace a directory")
        if existing is not None and not same_file and stored_target != new_parts[-1]:
            fs.remove_at(new_parent, stored_target, is_dir=False)  # replaced under another case: do not leave both
        fs.rename_at(old_parent, source, new_parent, new_parts[-1])
    old_prefix = handle.parts
    for other in conn.opens.values():  # opens below a renamed directory follow it
        if other.tree is handle.tree and other.parts[: len(old_prefix)] == old_prefix:
            other.parts = new_parts + other.parts[len(old_prefix) :]
    if handle.shared is not None:  # so do the other opens of the file, on any connection, through this share
        for other in handle.shared.handles.values():
            if other.tree.share is not None and other.tree.share.path == share.path:
                other.parts = new_parts


def _refuse_if_moved(handle: Open, found: os.stat_result | None) -> None:
    """A rename moves the open file: never whatever another client has since put at the path it was opened by."""
    st = fs.fstat(handle.fd)
    if found is None or (found.st_dev, found.st_ino) != (st.st_dev, st.st_ino):
        raise SMBError(STATUS_OBJECT_NAME_NOT_FOUND, "the open file is no longer at the path it was opened by")
