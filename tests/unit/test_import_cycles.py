"""No import cycles in pysmbd's core and server, nor in the collection's module_utils.

Read with ``ast`` by ``tests/support/import_graph.py``: type-only and lazy imports count too, so a cycle
cannot hide behind ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.import_graph import build_graph, cycles_within, describe

REPO_ROOT = Path(__file__).resolve().parents[2]

PACKAGES = {
    "pysmbd core and server": (
        REPO_ROOT / "roles/pysmbd/files/pysmbd/src/pysmbd",
        "pysmbd",
        ("pysmbd.core", "pysmbd.server"),
    ),
    "collection module_utils": (
        REPO_ROOT / "plugins/module_utils",
        "ansible_collections.smb.alternative_ports.plugins.module_utils",
        ("ansible_collections.smb.alternative_ports.plugins.module_utils",),
    ),
}


@pytest.mark.parametrize("label", sorted(PACKAGES))
def test_no_import_cycle(label: str) -> None:
    root, package, scope = PACKAGES[label]
    graph = build_graph(root, package)
    assert len(graph) > 3, f"found only {sorted(graph)} under {root}: is the path right?"
    found = cycles_within(graph, scope)
    assert not found, f"import cycles in {label}:\n" + "\n\n".join(describe(graph, cycle) for cycle in found)


def _write_package(root: Path, files: dict) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_type_only_cycle_between_two_modules_is_found(tmp_path: Path) -> None:
    root = _write_package(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "core/__init__.py": "",
            "core/connection.py": "from . import handlers\n",
            "core/handlers.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .connection import Conn\n"
            ),
            "core/leaf.py": "import os\n",
        },
    )
    graph = build_graph(root, "pkg")
    assert cycles_within(graph, ("pkg.core",)) == [["pkg.core.connection", "pkg.core.handlers"]]
    assert "pkg.core.handlers -> pkg.core.connection" in describe(graph, ["pkg.core.connection", "pkg.core.handlers"])


def test_lazy_and_absolute_imports_close_a_cycle_and_parent_packages_do_not(tmp_path: Path) -> None:
    root = _write_package(
        tmp_path / "pkg",
        {
            "__init__.py": "from pkg.server import runtime\n",  # a re-export: not a cycle with its submodules
            "server/__init__.py": "",
            "server/runtime.py": "def make():\n    from pkg.server.tcp import Listener\n",
            "server/tcp.py": "import pkg.server.runtime\n",
            "other.py": "from .server import tcp\n",
        },
    )
    graph = build_graph(root, "pkg")
    assert cycles_within(graph, ("pkg.server",)) == [["pkg.server.runtime", "pkg.server.tcp"]]
    assert cycles_within(graph, ("pkg.other",)) == []
