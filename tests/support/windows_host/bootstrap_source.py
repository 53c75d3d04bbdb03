"""Where the emulated host learns the bootstrap the collection sends on the command line.

The constant lives in the collection's ``plugins/plugin_utils/_powershell.py``. The host imports it
through the collection's import path when that is on ``sys.path`` (as under pytest), and otherwise reads
the module's source and takes the string literal assigned to ``BOOTSTRAP``/``BOOTSTRAP_SCRIPT`` (so the
command-line host started by molecule needs no collection path). If neither is found, the host checks
only that the bootstrap is a readable UTF-16LE script.
"""

from __future__ import annotations

import ast
import base64
import importlib
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
POWERSHELL_MODULE = REPO_ROOT / "plugins" / "plugin_utils" / "_powershell.py"
_IMPORT_NAME = "ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell"
_CONSTANT_NAMES = ("BOOTSTRAP", "BOOTSTRAP_SCRIPT", "BOOTSTRAP_COMMAND")


def _as_script(value: str) -> str:
    """Accept the constant either as script text or already encoded for -EncodedCommand."""
    stripped = value.strip()
    if stripped and " " not in stripped and "\n" not in stripped:
        try:
            return base64.b64decode(stripped, validate=True).decode("utf-16-le")
        except (ValueError, UnicodeDecodeError):
            return value
    return value


def bootstrap_from_import() -> str | None:
    try:
        module = importlib.import_module(_IMPORT_NAME)
    except ImportError:
        return None
    for name in _CONSTANT_NAMES:
        value = getattr(module, name, None)
        if isinstance(value, str):
            return _as_script(value)
    return None


def bootstrap_from_source() -> str | None:
    try:
        tree = ast.parse(POWERSHELL_MODULE.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        value = getattr(node, "value", None)
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _CONSTANT_NAMES:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    return _as_script(value.value)
    return None


@lru_cache(maxsize=1)
def expected_bootstrap() -> str | None:
    """The bootstrap script text the collection sends, or None when the collection does not define it yet."""
    return bootstrap_from_import() or bootstrap_from_source()
