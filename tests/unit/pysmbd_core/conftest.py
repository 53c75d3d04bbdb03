"""Fixtures: a pysmbd core context with one share and the core account (tests/support/accounts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pysmbd.core.context import ShareConfig
from pysmbd.core.users import nt_hash
from tests.support.accounts import CORE_PASSWORD, CORE_USER
from tests.support.pysmbd_context import make_context

from .wire_helpers import Client


@pytest.fixture
def context(tmp_path: Path):
    share = tmp_path / "share"
    share.mkdir()
    users = tmp_path / "users"
    users.write_text(
        f"{CORE_USER}:1000:{'X' * 32}:{nt_hash(CORE_PASSWORD).hex().upper()}:[U          ]:LCT-00000000:\n"
    )
    return make_context(users_file=users, shares={"share": ShareConfig("share", share)}, max_frame_size=1 << 20)


@pytest.fixture
def clients(context):
    """Two clients of one server (two connections on one context), and a 1,000-byte ``data.bin`` in the share."""
    context.require_signing = False  # requests are built unsigned by hand
    (context.shares["share"].path / "data.bin").write_bytes(bytes(1000))
    return Client(context, CORE_USER, CORE_PASSWORD), Client(context, CORE_USER, CORE_PASSWORD)
