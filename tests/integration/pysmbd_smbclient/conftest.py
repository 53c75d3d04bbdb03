"""Fixtures: a pysmbd core served on a free loopback port, with one user and a few shares
(tests/support/threaded_pysmbd.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.threaded_pysmbd import serve_core


@pytest.fixture
def pysmbd_server(tmp_path: Path):
    yield from serve_core(tmp_path)


@pytest.fixture
def guest_server(tmp_path: Path):
    """Like pysmbd_server, plus a share ``pub`` that allows guests (its directory is ``workdir/../pub``)."""
    yield from serve_core(tmp_path, guest_share=True)
