"""Client paths are checked before the disk is touched, and symlinks are never followed."""

from __future__ import annotations

import os

import pytest

from pysmbd.core import fs
from pysmbd.core.status import SMBError


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "a\\..\\b",
        "..\\etc\\passwd",
        "a\\.\\b",
        "C:\\Windows",
        "file:stream",
        "a/b",
        "wild*",
        "q?",
        "a\\\\b",
        "x\x00y",
    ],
)
def test_bad_paths_are_refused(name):
    with pytest.raises(SMBError):
        fs.split_path(name)


@pytest.mark.parametrize(
    ("name", "parts"),
    [("", ()), ("\\", ()), ("a", ("a",)), ("\\dir\\file.txt", ("dir", "file.txt")), ("f.txt::$DATA", ("f.txt",))],
)
def test_good_paths(name, parts):
    assert fs.split_path(name) == parts


def test_symlinked_directory_is_not_walked(tmp_path):
    root = tmp_path / "share"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("x")
    os.symlink(outside, root / "link")
    with pytest.raises(SMBError), fs.parent_dir(root, ("link", "secret")):
        pass


def test_symlinked_file_is_not_opened(tmp_path):
    root = tmp_path / "share"
    root.mkdir()
    (tmp_path / "secret").write_text("x")
    os.symlink(tmp_path / "secret", root / "link")
    with fs.parent_dir(root, ("link",)) as parent, pytest.raises(SMBError):
        fs.open_at(parent, "link", os.O_RDONLY)
