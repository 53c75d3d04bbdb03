"""Shared pytest setup.

The collection is imported as ``ansible_collections.smb.alternative_ports``: we lay a symlink to the
checkout under ``.tmp/collections`` and put that on ``sys.path`` and on ``ANSIBLE_COLLECTIONS_PATH`` so
that both in-process imports and ``ansible-playbook`` subprocesses see the working tree.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS_ROOT = REPO_ROOT / ".tmp" / "collections"
COLLECTION_LINK = COLLECTIONS_ROOT / "ansible_collections" / "smb" / "alternative_ports"


def _ensure_collection_link() -> None:
    COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
    if not COLLECTION_LINK.is_symlink():
        try:
            COLLECTION_LINK.symlink_to(REPO_ROOT, target_is_directory=True)
        except FileExistsError:  # another xdist worker won the race
            pass


_ensure_collection_link()
if str(COLLECTIONS_ROOT) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_ROOT))
os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS_ROOT)
os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
# Console scripts of the venv running the tests (pysmbd, ansible-playbook, molecule) come first on PATH,
# however pytest was started.
_VENV_BIN = str(Path(sys.executable).parent)
if os.environ.get("PATH", "").split(os.pathsep)[0] != _VENV_BIN:
    os.environ["PATH"] = _VENV_BIN + os.pathsep + os.environ.get("PATH", "")
