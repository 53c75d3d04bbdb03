# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: the deterministic tarball of pysmbd's sources that ``pysmbd_host`` installs.

The same tree always gives the same bytes (sorted names, mtime 0, owner 0, modes 0644/0755, a gzip header without
name or time), so its SHA-256 says exactly whether the host's copy is current, whichever controller packed it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile

# Build and test leftovers that are not sources (the shell pack the role used before skipped the same).
_SKIPPED_DIRECTORIES = frozenset(("__pycache__", "build", ".pytest_cache"))
_SKIPPED_SUFFIXES = (".egg-info", ".pyc")


def pack_sources(source_dir: str) -> bytes:
    """A gzip'd tar of ``source_dir``'s files, members named relative to it (``./src/pysmbd/...``)."""
    if not os.path.isdir(source_dir):
        raise FileNotFoundError(f"{source_dir} is not a directory: the pysmbd role's files/pysmbd is missing")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for relative, absolute in _walk(source_dir):
            info = tarfile.TarInfo(relative)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if os.path.isdir(absolute):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            with open(absolute, "rb") as handle:
                data = handle.read()
            info.size = len(data)
            info.mode = 0o755 if os.access(absolute, os.X_OK) else 0o644
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0) as zipped:
        zipped.write(raw.getvalue())
    return packed.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _walk(source_dir: str):
    """(name in the tarball, path) for every directory and regular file, sorted, skipping build leftovers."""
    found = []
    for directory, subdirectories, files in os.walk(source_dir):
        subdirectories[:] = sorted(
            name for name in subdirectories if name not in _SKIPPED_DIRECTORIES and not name.endswith(_SKIPPED_SUFFIXES)
        )
        relative_dir = os.path.relpath(directory, source_dir)
        base = "." if relative_dir == "." else "./" + relative_dir.replace(os.sep, "/")
        found.append((base, directory))
        for name in sorted(files):
            path = os.path.join(directory, name)
            if name.endswith(_SKIPPED_SUFFIXES) or os.path.islink(path) or not os.path.isfile(path):
                continue
            found.append((f"{base}/{name}", path))
    return sorted(found)
