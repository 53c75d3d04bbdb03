"""What Galaxy (and Automation Hub) sees on upload: the tarball's contents and galaxy-importer's verdict.

galaxy-importer is the program Galaxy runs on every uploaded collection; it loads each plugin's docs with
ansible-doc, lints with ansible-lint, and checks metadata, READMEs and the changelog. A warning there is
shown on the collection's Galaxy page, so any warning fails this test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.support.collection import REPO_ROOT
from tests.support.galaxy_build import VENV_BIN, BuiltCollection

IMPORTER_CONFIG = Path(__file__).with_name("galaxy-importer.cfg")
LEFT_OUT = ("tests/", "bench/", "molecule/", ".venv/", ".tmp/", ".ci/", ".git/", "Makefile", "requirements.txt")
SHIPPED = (
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "meta/ee-requirements.txt",
    "meta/ee-bindep.txt",
    "docs/docsite/links.yml",
    "docs/docsite/extra-docs.yml",
    "docs/execution-environment.yml",
    "roles/alternative_ports/README.md",
    "roles/pysmbd/README.md",
    "roles/pysmbd/files/pysmbd/pyproject.toml",
    "schemas/alternative_ports.schema.json",
    "changelogs/changelog.yaml",
)


def tarball_names(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as archive:
        return [member.name for member in archive.getmembers()]


def test_tarball_ships_the_collection_and_leaves_development_files_out(built_collection: BuiltCollection) -> None:
    names = tarball_names(built_collection.tarball)
    leaked = sorted(
        {n for n in names if n.startswith(LEFT_OUT) or n in LEFT_OUT or "__pycache__" in n or ".egg-info" in n}
    )
    assert not leaked, f"build_ignore in galaxy.yml lets these into the tarball: {leaked[:20]}"
    missing = [path for path in SHIPPED if path not in names]
    assert not missing, f"the tarball lacks {missing}"


def test_requires_ansible_admits_the_tested_ansible_core() -> None:
    runtime = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())
    declared = SpecifierSet(runtime["requires_ansible"])
    development = next(
        line for line in (REPO_ROOT / "requirements.txt").read_text().splitlines() if line.startswith("ansible-core")
    )
    tested = SpecifierSet(development.removeprefix("ansible-core"))
    installed = Version(
        subprocess.run([VENV_BIN / "ansible", "--version"], capture_output=True, text=True, check=True)
        .stdout.split("[core ")[1]
        .split("]")[0]
    )
    assert installed in declared
    assert [s.version for s in declared if s.operator == ">="] == [
        f"{s.version}.0" if s.version.count(".") == 1 else s.version for s in tested if s.operator == ">="
    ], "requires_ansible's lower bound must be the lowest ansible-core requirements.txt allows"


def test_galaxy_importer_accepts_the_tarball_without_warnings(
    built_collection: BuiltCollection, tmp_path: Path
) -> None:
    env = dict(
        os.environ, GALAXY_IMPORTER_CONFIG=str(IMPORTER_CONFIG), PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
    )
    proc = subprocess.run(
        [VENV_BIN / "python", "-m", "galaxy_importer.main", built_collection.tarball],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = proc.stdout + proc.stderr
    complaints = [line for line in output.splitlines() if re.match(r"(WARNING|ERROR|CRITICAL):", line)]
    assert proc.returncode == 0 and not complaints, f"galaxy-importer (rc {proc.returncode}):\n" + "\n".join(
        complaints or output.splitlines()[-40:]
    )
    # The config took effect: lint and ansible-doc ran, the container-only ansible-test step did not.
    assert "...ansible-lint run complete" in output
    assert "ansible-test" not in output, output
    result = json.loads((tmp_path / "importer_result.json").read_text())
    modules = [c for c in result["docs_blob"]["contents"] if c["content_type"] == "module"]
    assert {m["content_name"] for m in modules} == {p.stem for p in (REPO_ROOT / "plugins" / "modules").glob("*.py")}
    assert all(m["doc_strings"]["doc"]["short_description"] for m in modules)
    roles = [c for c in result["docs_blob"]["contents"] if c["content_type"] == "role"]
    assert {r["content_name"] for r in roles} == {"alternative_ports", "pysmbd"}
    assert all(r["readme_file"] for r in roles)
    assert result["requires_ansible"]
