"""docs/docsite as the Ansible documentation site consumes it: antsibull-docs (the tool that builds that site)
lints the extra docs (links.yml, extra-docs.yml, the rst pages and their references) and renders every
module's and role's documentation, validating its markup and references."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.collection import COLLECTION_LINK, COLLECTIONS_ROOT, REPO_ROOT

VENV_BIN = Path(sys.executable).parent


def test_extra_docs_list_the_guides() -> None:
    extra = yaml.safe_load((REPO_ROOT / "docs" / "docsite" / "extra-docs.yml").read_text())
    listed = {entry for section in extra["sections"] for entry in section["toctree"]}
    pages = {p.stem for p in (REPO_ROOT / "docs" / "docsite" / "rst").glob("*.rst")}
    assert "why_alternative_ports" in listed
    assert listed == pages, f"pages not in extra-docs.yml: {pages - listed}; listed without a page: {listed - pages}"


def test_antsibull_docs_lint_is_clean() -> None:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_ROOT))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [
            VENV_BIN / "antsibull-docs",
            "lint-collection-docs",
            "--plugin-docs",
            "--check-extra-docs-refs",
            "--validate-collection-refs",
            "all",
            "--disallow-unknown-collection-refs",
            ".",
        ],
        cwd=COLLECTION_LINK,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0 and not proc.stdout.strip(), f"antsibull-docs lint:\n{proc.stdout}\n{proc.stderr}"
