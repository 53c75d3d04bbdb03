"""The collection as users receive it: the tarball ``ansible-galaxy collection build`` makes, and that tarball
installed into a collections path (tests/packaging builds it once per session, in its own temporary directory)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.collection import REPO_ROOT

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


def build_and_install(root: Path) -> BuiltCollection:
    """Build the checkout's tarball under ``root`` and install it into ``root/collections``. ``--force``: the
    test session's ANSIBLE_COLLECTIONS_PATH already holds the checkout, which install would call satisfied."""
    run_tool(VENV_BIN / "ansible-galaxy", "collection", "build", "--output-path", root / "dist", REPO_ROOT)
    (tarball,) = (root / "dist").glob("smb-alternative_ports-*.tar.gz")
    collections_path = root / "collections"
    run_tool(
        VENV_BIN / "ansible-galaxy", "collection", "install", "--offline", "--force", "-p", collections_path, tarball
    )
    return BuiltCollection(tarball=tarball, collections_path=collections_path)
