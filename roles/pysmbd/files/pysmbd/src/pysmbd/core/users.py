"""The users file: smbpasswd-style lines ``user:uid:LMHASH:NTHASH:[flags]:LCT-xxxxxxxx:``.

Only the user name, the NT hash and the account flags matter. A disabled account (``D`` in the flags)
or a hash of ``X`` characters (no password set) cannot log in. The file is read at every login, so the
role can change passwords without a restart.
"""

from __future__ import annotations

import binascii
from pathlib import Path


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


def load_users(path: Path) -> dict[str, bytes]:
    """Read and parse the users file; a missing or unreadable file means no users."""
    try:
        return parse_users(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return {}


def nt_hash(password: str) -> bytes:
    """The NT hash (MD4 of the UTF-16LE password), as stored in the users file."""
    from spnego._ntlm_raw.crypto import ntowfv1

    return ntowfv1(password)
