# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: the deterministic tarball of pysmbd's sources that ``pysmbd_host`` installs.

The same tree always gives the same bytes (sorted names, mtime 0, owner 0, modes 0644/0755, a gzip header without
name or time), so its SHA-256 says exactly whether the host's copy is current, whichever controller packed it.

Packing costs ~35 ms, reading the tree ~2 ms: the tarball is kept in the controller's ``~/.ansible/tmp`` under a
name made from the tree's content (names, executable bits, bytes), so each host of each run reads the tree and
packs it only when that content was never packed before.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import tempfile
import time

# Build and test leftovers that are not sources (the shell pack the role used before skipped the same).
_SKIPPED_DIRECTORIES = frozenset(("__pycache__", "build", ".pytest_cache"))
_SKIPPED_SUFFIXES = (".egg-info", ".pyc")
# Part of the cache key: a change of how the tarball is made must not reuse tarballs made the old way.
_PACK_FORMAT = b"pysmbd-src pax gzip v1\n"
_STALE_AFTER_SECONDS = 7 * 24 * 3600


def cached_tarball(source_dir: str, cache_dir: str) -> str:
    """The path of ``source_dir``'s tarball in ``cache_dir``, packed now only when no tarball of this content is there.

    Written under a temporary name and renamed: parallel workers never see half a tarball. Tarballs of other
    contents unused for a week are removed.
    """
    path = os.path.join(cache_dir, f"pysmbd-src-{tree_digest(source_dir)[:32]}.tar.gz")
    if os.path.exists(path):
        return path
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    data = pack_sources(source_dir)
    descriptor, part = tempfile.mkstemp(dir=cache_dir, prefix=".pack.")
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(part, path)
    _remove_stale(cache_dir, keep=path)
    return path


def tree_digest(source_dir: str) -> str:
    """SHA-256 over what decides the tarball's bytes: each member's name, type, executable bit and content."""
    if not os.path.isdir(source_dir):
        raise FileNotFoundError(f"{source_dir} is not a directory: the pysmbd role's files/pysmbd is missing")
    digest = hashlib.sha256(_PACK_FORMAT)
    for relative, absolute in _walk(source_dir):
        if os.path.isdir(absolute):
            digest.update(b"d %d %s\n" % (len(relative.encode()), relative.encode()))
            continue
        with open(absolute, "rb") as handle:
            data = handle.read()
        executable = b"x" if os.access(absolute, os.X_OK) else b"-"
        digest.update(b"f %s %d %s %d\n" % (executable, len(relative.encode()), relative.encode(), len(data)))
        digest.update(data)
    return digest.hexdigest()


def file_sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _remove_stale(cache_dir: str, keep: str) -> None:
    cutoff = time.time() - _STALE_AFTER_SECONDS
    for name in os.listdir(cache_dir):
        path = os.path.join(cache_dir, name)
        if name.startswith("pysmbd-src-") and path != keep:
            try:
                if os.stat(path).st_atime < cutoff and os.stat(path).st_mtime < cutoff:
                    os.unlink(path)
            except OSError:
                pass  # another worker removed it


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
