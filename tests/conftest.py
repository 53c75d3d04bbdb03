"""Shared pytest setup: the checkout is the collection (tests/support/collection.py), and fixtures every suite
may use."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.collection import use_checkout_as_collection

use_checkout_as_collection()


@pytest.fixture
def public_workdir():
    """A work directory others may traverse (the pysmbd role runs the server as its own account; smbd works in a
    share as the logged-in user). pytest's tmp_path is not: its root is mode 0700."""
    path = Path(tempfile.mkdtemp(prefix="smb-ap-faults-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
