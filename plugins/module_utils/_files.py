# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replacing a configuration file so that readers see the old or the new one, never half of one.

This is a private module_utils file: its API may change without notice.
"""

from __future__ import annotations

import os
import tempfile
from typing import Callable, Optional


class ConfigWriteError(Exception):
    """A config file could not be written (disk full, read-only, permissions); the old file is intact."""


def write_atomically(path: str, text: str, validate: Optional[Callable[[str], None]] = None) -> None:
    """Replace ``path`` with ``text``.

    The temporary file sits in the same directory (same filesystem, so the rename is atomic), gets the old
    file's mode and owner, is fsynced, then checked by ``validate(temp_path)``, which raises to abort.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        _write_and_replace(path, directory, text, validate)
    except OSError as exc:  # ENOSPC, EDQUOT, EACCES, EROFS...: the rename never happened
        raise ConfigWriteError(
            f"cannot write {path}: {exc.strerror or exc}; the file was left as it was and nothing was applied "
            f"(free space or fix permissions in {directory}, then run again)"
        ) from exc
    _fsync_directory(directory)  # make the rename itself durable


def _write_and_replace(path: str, directory: str, text: str, validate: Optional[Callable[[str], None]]) -> None:
    """Write a temporary file beside ``path``, check it, rename it over ``path``; remove it on any failure."""
    fd, temp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            old = os.stat(path)
        except FileNotFoundError:
            os.chmod(temp_path, 0o644)
        else:
            os.chmod(temp_path, old.st_mode & 0o7777)
            if os.geteuid() == 0:
                os.chown(temp_path, old.st_uid, old.st_gid)
        if validate is not None:
            validate(temp_path)
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise


def _fsync_directory(directory: str) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
