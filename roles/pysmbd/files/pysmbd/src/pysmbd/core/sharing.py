"""Share modes: what one open lets other opens of the same file do (MS-FSA 2.1.5.1.2, the share access check).

Only opens that ask for reading, writing or deleting take part: an open for attributes alone is neither
refused nor refuses others, as on Windows. An open conflicts with a held one when either asks for an access
the other's ShareAccess does not allow; the answer is STATUS_SHARING_VIOLATION. The held modes are counted by
(access, share) pair, so a check costs at most 64 comparisons however many opens a file has.
"""

from __future__ import annotations

import collections
from typing import Optional

FILE_READ_DATA = 0x1
FILE_WRITE_DATA = 0x2
FILE_APPEND_DATA = 0x4
FILE_EXECUTE = 0x20
DELETE = 0x00010000
FILE_SHARE_READ = 0x1
FILE_SHARE_WRITE = 0x2
FILE_SHARE_DELETE = 0x4

_READS = FILE_READ_DATA | FILE_EXECUTE
_WRITES = FILE_WRITE_DATA | FILE_APPEND_DATA
SHARING_ACCESS = _READS | _WRITES | DELETE
"""The access bits the share access check looks at."""

Mode = tuple[int, int]
"""(access bits among SHARING_ACCESS, ShareAccess)."""


def mode_of(access: int, share_access: int) -> Optional[Mode]:
    """The mode an open holds, or None when it takes no part in sharing (no read, write or delete access)."""
    wanted = access & SHARING_ACCESS
    if not wanted:
        return None
    return wanted, share_access & (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)


def _refuses(held_share: int, access: int) -> bool:
    """Does a ShareAccess refuse an access?"""
    return bool(
        (access & _READS and not held_share & FILE_SHARE_READ)
        or (access & _WRITES and not held_share & FILE_SHARE_WRITE)
        or (access & DELETE and not held_share & FILE_SHARE_DELETE)
    )


def conflicts(held: collections.Counter, mode: Optional[Mode]) -> bool:
    """Does a new open with ``mode`` conflict with the modes ``held`` by the file's other opens?"""
    if mode is None:
        return False
    access, share = mode
    return any(
        count and (_refuses(held_share, access) or _refuses(share, held_access))
        for (held_access, held_share), count in held.items()
    )
