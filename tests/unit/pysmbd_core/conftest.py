"""Fixtures: a pysmbd core context with one share and the core account (tests/support/accounts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pysmbd.core.context import ShareConfig
from pysmbd.core.users import nt_hash
from tests.support.accounts import CORE_PASSWORD, CORE_USER
from tests.support.pysmbd_context import make_context


@pytest.fixture
def context(tmp_path: Path):
    share = tmp_path / "share"
    share.mkdir()
    users = tmp_path / "users"
    users.write_text(
        f"{CORE_USER}:1000:{'X' * 32}:{nt_hash(CORE_PASSWORD).hex().upper()}:[U          ]:LCT-00000000:\n"
    )
    return make_context(users_file=users, shares={"share": ShareConfig("share", share)}, max_frame_size=1 << 20)
