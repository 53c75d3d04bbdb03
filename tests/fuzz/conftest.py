"""Fixtures of the fuzz suite: a fresh directory per hypothesis example, with a file outside the share."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, ContextManager, Iterator

import pytest

from tests.support.fuzz.harness import FuzzTarget, fuzz_context

OUTSIDE = b"must not be touched by any SMB request\n"


@contextmanager
def _fuzz_target(base: Path, *, deferred_io: bool = False, transport: str = "tcp", **overrides) -> Iterator[FuzzTarget]:
    root = Path(tempfile.mkdtemp(dir=base))
    outside = root / "outside.txt"
    outside.write_bytes(OUTSIDE)
    (root / "share").mkdir()
    (root / "share" / "seed.txt").write_text("seed\n")
    with FuzzTarget(fuzz_context(root, **overrides), deferred_io=deferred_io, transport=transport) as target:
        yield target
    # A path that escapes the share would show up here: nothing outside it may appear, vanish or change.
    assert sorted(p.name for p in root.iterdir()) == ["outside.txt", "share", "users"]
    assert outside.read_bytes() == OUTSIDE


@pytest.fixture(scope="module")
def new_target(tmp_path_factory) -> Callable[..., ContextManager[FuzzTarget]]:
    """``with new_target(deferred_io=False, transport="tcp", **context_overrides) as target:``.

    Module-scoped, so hypothesis may reuse it across examples; every call gets a fresh directory.
    """
    base = tmp_path_factory.mktemp("fuzz")
    return lambda **overrides: _fuzz_target(base, **overrides)
