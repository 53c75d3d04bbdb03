"""pysmbd_host's tarball of pysmbd's sources: the same tree gives the same bytes, any change of content another."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._pysmbd_sources import (
    cached_tarball,
    file_sha256,
    pack_sources,
    sha256_hex,
)
from tests.support.collection import REPO_ROOT


def make_tree(root):
    (root / "src" / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "src" / "pkg.egg-info").mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'pkg'\n")
    (root / "src" / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (root / "src" / "pkg" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (root / "src" / "pkg.egg-info" / "PKG-INFO").write_text("junk")
    return root


def test_the_same_tree_packs_to_the_same_bytes_whatever_the_times_and_the_checkout(tmp_path):
    first = make_tree(tmp_path / "a")
    second = make_tree(tmp_path / "b")
    os.utime(second / "pyproject.toml", (1, 1))
    os.chmod(second / "src" / "pkg" / "__init__.py", 0o600)  # another umask, same file
    assert pack_sources(str(first)) == pack_sources(str(second))


def test_a_changed_file_changes_the_checksum(tmp_path):
    tree = make_tree(tmp_path / "a")
    before = sha256_hex(pack_sources(str(tree)))
    (tree / "src" / "pkg" / "__init__.py").write_text("VALUE = 2\n")
    assert sha256_hex(pack_sources(str(tree))) != before


def test_gnu_tar_unpacks_the_sources_without_build_leftovers(tmp_path):
    tree = make_tree(tmp_path / "a")
    archive = tmp_path / "src.tar.gz"
    archive.write_bytes(pack_sources(str(tree)))
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(out)], check=True)
    found = sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file())
    assert found == ["pyproject.toml", "src/pkg/__init__.py"]
    assert (out / "src" / "pkg" / "__init__.py").read_text() == "VALUE = 1\n"
    with tarfile.open(archive) as tar:
        assert {(member.uid, member.gid, member.mtime) for member in tar.getmembers()} == {(0, 0, 0)}


def test_the_bundled_pysmbd_packs_with_its_pyproject():
    with tarfile.open(fileobj=io.BytesIO(pack_sources(str(REPO_ROOT / "roles/pysmbd/files/pysmbd")))) as tar:
        names = tar.getnames()
    assert "./pyproject.toml" in names
    assert not [name for name in names if "__pycache__" in name or ".egg-info" in name]


def test_the_cache_packs_a_content_once_and_a_changed_content_again(tmp_path):
    tree, cache = make_tree(tmp_path / "a"), tmp_path / "cache"
    first = cached_tarball(str(tree), str(cache))
    assert open(first, "rb").read() == pack_sources(str(tree))
    os.utime(first, (1, 1))
    os.utime(tree / "pyproject.toml", (5, 5))  # a touched file, same content: the same tarball, not packed again
    assert cached_tarball(str(tree), str(cache)) == first and os.stat(first).st_mtime == 1
    (tree / "src" / "pkg" / "__init__.py").write_text("VALUE = 2\n")
    second = cached_tarball(str(tree), str(cache))
    assert second != first and file_sha256(second) == sha256_hex(pack_sources(str(tree)))
    os.chmod(tree / "src" / "pkg" / "__init__.py", 0o755)  # the executable bit is part of the tarball
    assert cached_tarball(str(tree), str(cache)) not in (first, second)
