"""Helpers for the pysmbd runtime unit tests: a config file writer with sane defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a pysmbd.toml under tmp_path; the share directory and users file exist unless the text says otherwise."""
    share = tmp_path / "share"
    share.mkdir()
    users = tmp_path / "users"
    users.write_text("")

    def write(body: str = "", *, server: str = "", name: str = "pysmbd.toml") -> Path:
        text = f'[server]\nusers_file = "{users}"\nstate_dir = "{tmp_path / "state"}"\n{server}\n' + body.replace(
            "@SHARE@", str(share)
        ).replace("@TMP@", str(tmp_path))
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
