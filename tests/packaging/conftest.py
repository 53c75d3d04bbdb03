"""The collection as users receive it: the tarball ``ansible-galaxy collection build`` makes, and that tarball
installed into a collections path. Built once per session, in the session's own temporary directory, so
two runs (or two worktrees) never share a tarball.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class BuiltCollection:
    tarball: Path
    collections_path: Path
    """Has ``ansible_collections/smb/alternative_ports`` inside, installed from ``tarball``."""

    @property
    def installed(self) -> Path:
        return self.collections_path / "ansible_collections" / "smb" / "alternative_ports"


def run_tool(*args: str | Path, cwd: Path | None = None, env: dict | None = None, timeout: int = 240):
    """Run a command; on failure the assertion shows its output."""
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="session")
def built_collection(tmp_path_factory: pytest.TempPathFactory) -> BuiltCollection:
    root = tmp_path_factory.mktemp("galaxy-build")
    run_tool(VENV_BIN / "ansible-galaxy", "collection", "build", "--output-path", root / "dist", REPO_ROOT)
    (tarball,) = (root / "dist").glob("smb-alternative_ports-*.tar.gz")
    collections_path = root / "collections"
    run_tool(
        VENV_BIN / "ansible-galaxy", "collection", "install", "--offline", "--force", "-p", collections_path, tarball
    )
    return BuiltCollection(tarball=tarball, collections_path=collections_path)
