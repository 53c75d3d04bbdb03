"""The checkout as the collection ``smb.alternative_ports``, for the tests and the benchmarks.

The collection is imported as ``ansible_collections.smb.alternative_ports``: a symlink to the checkout under
``.tmp/collections`` goes on ``sys.path`` and on ``ANSIBLE_COLLECTIONS_PATH``, so that in-process imports and
``ansible-playbook`` subprocesses both see the working tree. tests/conftest.py calls ``use_checkout_as_collection``
before any test is collected; a benchmark calls it before importing the collection.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_ROOT = REPO_ROOT / ".tmp" / "collections"
COLLECTION_LINK = COLLECTIONS_ROOT / "ansible_collections" / "smb" / "alternative_ports"


def use_checkout_as_collection() -> None:
    """Link the checkout as the collection, put it on sys.path and ANSIBLE_COLLECTIONS_PATH, and put this
    Python's venv first on PATH (its pysmbd, ansible-playbook and molecule), however the caller was started."""
    COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
    if not COLLECTION_LINK.is_symlink():
        try:
            COLLECTION_LINK.symlink_to(REPO_ROOT, target_is_directory=True)
        except FileExistsError:  # another xdist worker won the race
            pass
    if str(COLLECTIONS_ROOT) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_ROOT))
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS_ROOT)
    os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
    venv_bin = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != venv_bin:
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
