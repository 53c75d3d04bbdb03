"""The users file: smbpasswd-style lines ``user:uid:LMHASH:NTHASH:[flags]:LCT-xxxxxxxx:``.

Only the user name, the NT hash and the account flags matter. A disabled account (``D`` in the flags)
or a hash of ``X`` characters (no password set) cannot log in. ``UsersFile`` reads the file again only when
it changed (a stat per login, which needs no file descriptor), so the role can change passwords without a
restart; a file that cannot be read is an error in the log and a failed login, never "no users", and a
file read before keeps serving while a new version cannot be read (out of descriptors, say).
"""

from __future__ import annotations

import binascii
import logging
import os
from pathlib import Path
from typing import Optional

log = logging.getLogger("pysmbd.core.users")


def parse_users(text: str) -> dict[str, bytes]:
    """Map lower-case user names to their 16-byte NT hash; malformed lines are skipped."""
    users: dict[str, bytes] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) < 4:
            continue
        name, nt_hex = fields[0], fields[3]
        flags = fields[4] if len(fields) > 4 else ""
        if "\\" in name:  # DOMAIN\user: the domain is not checked, as smbd does for local users
            name = name.split("\\", 1)[1]
        if "D" in flags.strip("[]") or len(nt_hex) != 32:
            continue
        try:
            users[name.lower()] = binascii.unhexlify(nt_hex)
        except (binascii.Error, ValueError):
            continue
    return users


def user_names(text: str) -> set[str]:
    """Lower-case names of every account in a users file, disabled ones included."""
    names = set()
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line and not line.startswith("#") and line.count(":") >= 3:
            names.add(line.split(":", 1)[0].rsplit("\\", 1)[-1].lower())
    return names


class UsersFileUnreadable(Exception):
    """The users file cannot be read and no earlier copy of it is known."""


class UsersFile:
    """The users file, parsed once per change of its (inode, size, modification time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: Optional[tuple[int, int, int]] = None
        self._users: Optional[dict[str, bytes]] = None

    def lookup(self, name: str) -> Optional[bytes]:
        """The NT hash of a user (``DOMAIN\\user`` or ``user``, case ignored), or None for an unknown user."""
        return self._current().get(name.rsplit("\\", 1)[-1].lower())

    def _current(self) -> dict[str, bytes]:
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if self._users is None or stamp != self._stamp:
                self._users = parse_users(self.path.read_text(encoding="utf-8", errors="replace"))
                self._stamp = stamp
        except OSError as error:
            log.error(
                "users_file_unreadable",
                extra={
                    "fields": {"path": str(self.path), "error": error.strerror, "kept_earlier_copy": bool(self._users)}
                },
            )
            if self._users is None:
                raise UsersFileUnreadable(f"{self.path}: {error.strerror}") from error
        return self._users


_OPENED: dict[Path, UsersFile] = {}


def users_file(path: Path) -> UsersFile:
    """The process's ``UsersFile`` for a path (one per path, so its cache outlives each login)."""
    found = _OPENED.get(path)
    if found is None:
        found = _OPENED[path] = UsersFile(path)
    return found


def nt_hash(password: str) -> bytes:
    """The NT hash (MD4 of the UTF-16LE password), as stored in the users file."""
    from spnego._ntlm_raw.crypto import ntowfv1

    return ntowfv1(password)
