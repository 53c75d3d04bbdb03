"""Encoders for file, directory-entry and file-system information classes (MS-FSCC 2.4, 2.5)."""

from __future__ import annotations

import os
import stat
import struct
import zlib

from . import fs
from .wire import utf16

BASIC = struct.Struct("<QQQQII")
STANDARD = struct.Struct("<QQIBBH")
NETWORK_OPEN = struct.Struct("<QQQQQQII")
COMPRESSION = struct.Struct("<QHBBB3s")

# Directory entry classes (MS-FSCC 2.4): fixed part sizes and layouts after NextEntryOffset, FileIndex.
DIR_TIMES = struct.Struct(
    "<IIQQQQQQI"
)  # NextEntryOffset, FileIndex, 4 times, EndOfFile, AllocationSize, FileAttributes
FILE_DIRECTORY_INFORMATION = 0x01
FILE_FULL_DIRECTORY_INFORMATION = 0x02
FILE_BOTH_DIRECTORY_INFORMATION = 0x03
FILE_NAMES_INFORMATION = 0x0C
FILE_ID_BOTH_DIRECTORY_INFORMATION = 0x25
FILE_ID_FULL_DIRECTORY_INFORMATION = 0x26
DIRECTORY_CLASSES = frozenset(
    {
        FILE_DIRECTORY_INFORMATION,
        FILE_FULL_DIRECTORY_INFORMATION,
        FILE_BOTH_DIRECTORY_INFORMATION,
        FILE_NAMES_INFORMATION,
        FILE_ID_BOTH_DIRECTORY_INFORMATION,
        FILE_ID_FULL_DIRECTORY_INFORMATION,
    }
)


def basic(st: os.stat_result, t: fs.FileTimes) -> bytes:
    return BASIC.pack(t.creation, t.access, t.write, t.change, t.attributes, 0)


def standard(st: os.stat_result, delete_pending: bool) -> bytes:
    is_dir = stat.S_ISDIR(st.st_mode)
    links = max(0, st.st_nlink - 1) if delete_pending else st.st_nlink  # Windows counts the pending delete
    return STANDARD.pack(fs.allocation_of(st), fs.end_of_file_of(st), links, int(delete_pending), int(is_dir), 0)


def network_open(st: os.stat_result, t: fs.FileTimes) -> bytes:
    return NETWORK_OPEN.pack(
        t.creation, t.access, t.write, t.change, fs.allocation_of(st), fs.end_of_file_of(st), t.attributes, 0
    )


def name_info(name: str) -> bytes:
    encoded = utf16(name)
    return struct.pack("<I", len(encoded)) + encoded


def all_info(
    st: os.stat_result, t: fs.FileTimes, delete_pending: bool, granted: int, position: int, name: str
) -> bytes:
    return (
        basic(st, t)
        + standard(st, delete_pending)
        + struct.pack("<Q", st.st_ino)  # internal
        + struct.pack("<I", 0)  # EA size
        + struct.pack("<I", granted)  # access
        + struct.pack("<Q", position)
        + struct.pack("<I", 0)  # mode
        + struct.pack("<I", 0)  # alignment
        + name_info(name)
    )


def stream_info(st: os.stat_result) -> bytes:
    if stat.S_ISDIR(st.st_mode):
        return b""
    name = utf16("::$DATA")
    return struct.pack("<IIqq", 0, len(name), st.st_size, fs.allocation_of(st)) + name


def compression(st: os.stat_result) -> bytes:
    return COMPRESSION.pack(fs.end_of_file_of(st), 0, 0, 0, 0, b"\x00\x00\x00")


_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _is_83(name: str) -> bool:
    base, _dot, ext = name.partition(".")
    if not base or len(base) > 8 or len(ext) > 3 or "." in ext:
        return False
    return all(c.isascii() and (c.isalnum() or c in "!#$%&'()-@^_`{}~") for c in base + ext)


def short_name_of(name: str) -> str:
    """The 8.3 name: the name itself when it is one, else a stable mangled form (``LONGE~4Q.BIN``)."""
    if name in (".", ".."):
        return ""
    if _is_83(name):
        return name.upper()
    base, _dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    clean_base = "".join(c for c in base.upper() if c.isascii() and c.isalnum())[:5] or "_"
    clean_ext = "".join(c for c in ext.upper() if c.isascii() and c.isalnum())[:3]
    digest = zlib.crc32(name.encode("utf-8", "surrogatepass")) % (36 * 36)
    mangled = f"{clean_base}~{_BASE36[digest // 36]}{_BASE36[digest % 36]}"
    return f"{mangled}.{clean_ext}" if clean_ext else mangled


def directory_entry(info_class: int, name: str, st: os.stat_result, t: fs.FileTimes) -> bytes:
    """One entry (without alignment padding; NextEntryOffset is filled in by the caller)."""
    encoded = utf16(name)
    if info_class == FILE_NAMES_INFORMATION:
        return struct.pack("<III", 0, 0, len(encoded)) + encoded
    common = DIR_TIMES.pack(
        0, 0, t.creation, t.access, t.write, t.change, fs.end_of_file_of(st), fs.allocation_of(st), t.attributes
    )
    if info_class == FILE_DIRECTORY_INFORMATION:
        return common + struct.pack("<I", len(encoded)) + encoded
    if info_class == FILE_FULL_DIRECTORY_INFORMATION:
        return common + struct.pack("<II", len(encoded), 0) + encoded
    if info_class == FILE_ID_FULL_DIRECTORY_INFORMATION:
        return common + struct.pack("<IIIQ", len(encoded), 0, 0, st.st_ino) + encoded
    short = utf16(short_name_of(name))
    if info_class == FILE_BOTH_DIRECTORY_INFORMATION:
        return common + struct.pack("<IIBB24s", len(encoded), 0, len(short), 0, short) + encoded
    # FILE_ID_BOTH_DIRECTORY_INFORMATION
    return common + struct.pack("<IIBB24sHQ", len(encoded), 0, len(short), 0, short, 0, st.st_ino) + encoded


def set_next_offsets(entries: list[bytes]) -> bytes:
    """Join entries, each 8-byte aligned, with NextEntryOffset pointing at the next one."""
    out = bytearray()
    for index, entry in enumerate(entries):
        start = len(out)
        out += entry
        if index + 1 < len(entries):
            out += bytes((8 - len(entry) % 8) % 8)
            struct.pack_into("<I", out, start, len(out) - start)
    return bytes(out)


# ----------------------------------------------------------------------------- file system classes


def volume_serial(path: str) -> int:
    return zlib.crc32(path.encode("utf-8", "surrogatepass"))


def fs_volume(label: str, serial: int, created: int) -> bytes:
    encoded = utf16(label)
    return struct.pack("<QIIBB", created, serial, len(encoded), 0, 0) + encoded


def fs_size(vfs: os.statvfs_result) -> bytes:
    sectors_per_unit, bytes_per_sector = _units(vfs)
    return struct.pack(
        "<QQII",
        vfs.f_blocks * vfs.f_frsize // (sectors_per_unit * bytes_per_sector),
        vfs.f_bavail * vfs.f_frsize // (sectors_per_unit * bytes_per_sector),
        sectors_per_unit,
        bytes_per_sector,
    )


def fs_full_size(vfs: os.statvfs_result) -> bytes:
    sectors_per_unit, bytes_per_sector = _units(vfs)
    unit = sectors_per_unit * bytes_per_sector
    return struct.pack(
        "<QQQII",
        vfs.f_blocks * vfs.f_frsize // unit,
        vfs.f_bavail * vfs.f_frsize // unit,
        vfs.f_bfree * vfs.f_frsize // unit,
        sectors_per_unit,
        bytes_per_sector,
    )


def _units(vfs: os.statvfs_result) -> tuple[int, int]:
    bytes_per_sector = 512
    return max(1, (vfs.f_frsize or 4096) // bytes_per_sector), bytes_per_sector


def fs_device() -> bytes:
    return struct.pack("<II", 0x07, 0x20)  # FILE_DEVICE_DISK, FILE_DEVICE_IS_MOUNTED


# FILE_CASE_SENSITIVE_SEARCH | FILE_CASE_PRESERVED_NAMES | FILE_UNICODE_ON_DISK | FILE_SUPPORTS_SPARSE_FILES? no
FS_ATTRIBUTES = 0x00000001 | 0x00000002 | 0x00000004


def fs_attribute() -> bytes:
    name = utf16("NTFS")
    return struct.pack("<III", FS_ATTRIBUTES, 255, len(name)) + name


def fs_sector_size() -> bytes:
    return struct.pack("<IIIIIII", 512, 512, 512, 512, 0x3, 0, 0)


def fs_object_id() -> bytes:
    return bytes(64)


# ----------------------------------------------------------------------------- security descriptor


def _sid(authority: int, *subs: int) -> bytes:
    return (
        struct.pack("<BB", 1, len(subs)) + authority.to_bytes(6, "big") + b"".join(struct.pack("<I", s) for s in subs)
    )


EVERYONE = _sid(1, 0)
OWNER_SID = _sid(5, 32, 544)  # BUILTIN\Administrators
GROUP_SID = _sid(5, 32, 545)  # BUILTIN\Users


def security_descriptor(additional_information: int, read_only: bool) -> bytes:
    """A minimal self-relative descriptor: owner, group and a DACL granting Everyone full (or read) access."""
    mask = 0x001200A9 if read_only else 0x001F01FF
    ace = struct.pack("<BBHI", 0, 0, 8 + len(EVERYONE), mask) + EVERYONE
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(ace), 1, 0) + ace
    parts: list[bytes] = []
    offset = 20
    owner_offset = group_offset = dacl_offset = 0
    control = 0x8000  # SE_SELF_RELATIVE
    if additional_information & 0x1:
        owner_offset, offset = offset, offset + len(OWNER_SID)
        parts.append(OWNER_SID)
    if additional_information & 0x2:
        group_offset, offset = offset, offset + len(GROUP_SID)
        parts.append(GROUP_SID)
    if additional_information & 0x4:
        dacl_offset, offset = offset, offset + len(acl)
        parts.append(acl)
        control |= 0x0004  # SE_DACL_PRESENT
    return struct.pack("<BBHIIII", 1, 0, control, owner_offset, group_offset, 0, dacl_offset) + b"".join(parts)
