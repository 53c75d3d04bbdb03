"""A filesystem with no space left, for the tests of what the servers do when a write cannot land."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest


def fill_to_the_brim(directory: Path) -> Path:
    """Write a file until the filesystem of ``directory`` refuses one more byte; return that file."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for chunk in (b"\0" * 4096, b"\0"):
            while True:
                try:
                    handle.write(chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    probe = directory / "probe"
    with pytest.raises(OSError, match="No space left"):
        probe.write_bytes(b"x" * 4096)
    probe.unlink(missing_ok=True)
    return filler
