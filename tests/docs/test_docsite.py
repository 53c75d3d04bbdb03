"""docs/docsite as the Ansible documentation site consumes it: antsibull-docs (the tool that builds that site)
lints the extra docs (links.yml, extra-docs.yml, the rst pages and their references) and renders every
module's and role's documentation, validating its markup and references."""

from __future__ import annotations

import os
import re
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


# antsibull-docs copies the collection into a temporary directory named "antsibull-docs-" and 8 random characters,
# and that name reaches the rst it checks: when the last character is "_" (1 run in 37), rst reads the name as a
# reference and every module page fails with this error, whatever the docs say. Such a run is repeated.
_TEMP_NAME_ERROR = re.compile(r'^\S+\.rst:\d+:\d+: \(ERROR/3\) Unknown target name: "antsibull-docs-\w+"\.$')


def _lint_collection_docs() -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_ROOT))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
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


def _only_temp_name_errors(output: str) -> bool:
    lines = [line for line in output.splitlines() if line.strip()]
    return bool(lines) and all(_TEMP_NAME_ERROR.match(line) for line in lines)


def test_antsibull_docs_lint_is_clean() -> None:
    proc = _lint_collection_docs()
    for _again in range(2):
        if not _only_temp_name_errors(proc.stdout):
            break
        proc = _lint_collection_docs()
    assert proc.returncode == 0 and not proc.stdout.strip(), f"antsibull-docs lint:\n{proc.stdout}\n{proc.stderr}"


def test_the_repeat_is_only_for_the_temporary_name_error() -> None:
    seen = 'plugins/module/verify.rst:4:0: (ERROR/3) Unknown target name: "antsibull-docs-qugw1ly".'
    assert _only_temp_name_errors(f"{seen}\n{seen.replace('verify', 'report')}\n\n")
    assert not _only_temp_name_errors(f'{seen}\nplugins/module/verify.rst:9:0: (ERROR/3) Unknown target name: "port".')
    assert not _only_temp_name_errors("")
