"""The execution environment an AWX or Automation Platform user builds with ansible-builder.

ansible-builder reads ``meta/execution-environment.yml`` of each installed collection. These tests run the
real ansible-builder on the collection installed from its tarball (so a file that ``build_ignore`` drops
is missed here as it would be in an image), and check that every third-party module the collection's
plugins import is among the Python requirements it reports. The imports are found by scanning
``plugins/``, so the check follows the code (a change of QUIC stack, say) without being edited.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Set

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.collection import REPO_ROOT
from tests.support.galaxy_build import VENV_BIN, BuiltCollection, run_tool

# Names the collection may import without declaring them: Ansible itself (the execution environment brings
# ansible-core; certified collections must not list it) and the collection's own namespace.
PROVIDED_TOP_LEVEL = {"ansible", "ansible_collections", "__future__"}


def third_party_imports(files: Iterable[Path]) -> Dict[str, List[str]]:
    """Top-level names of absolute imports that are neither the standard library nor Ansible, with the
    files that import each. Imports inside ``try`` (optional, with a fallback) count: a user who needs
    that path needs the package.
    """
    found: Dict[str, List[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top in sys.stdlib_module_names or top in PROVIDED_TOP_LEVEL:
                    continue
                found.setdefault(top, [])
                if str(path) not in found[top]:
                    found[top].append(str(path))
    return found


def distributions_of(module: str) -> Set[str]:
    """The PyPI names that provide an importable top-level ``module`` (``winrm`` -> ``pywinrm``), from the
    metadata of what is installed in this venv; an uninstalled module is assumed to be named as on PyPI."""
    providers = importlib.metadata.packages_distributions().get(module) or [module]
    return {canonicalize_name(name) for name in providers}


def reported_python_requirements(collections_path: Path, out: Path) -> List[Requirement]:
    """What ``ansible-builder introspect`` would install for the collections under ``collections_path``."""
    pip_file = out / "introspected-requirements.txt"
    run_tool(VENV_BIN / "ansible-builder", "introspect", "--sanitize", "--write-pip", pip_file, collections_path)
    requirements = []
    for line in pip_file.read_text().splitlines():
        spec = re.sub(r"\s+#.*$", "", line).strip()
        if spec:
            requirements.append(Requirement(spec))
    return requirements


def requirements_file(path: Path) -> Dict[str, Requirement]:
    entries = {}
    for line in path.read_text().splitlines():
        spec = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if spec and not spec.startswith("-"):
            requirement = Requirement(spec)
            entries[canonicalize_name(requirement.name)] = requirement
    return entries


def test_scan_finds_third_party_imports_only(tmp_path: Path) -> None:
    source = tmp_path / "plugin.py"
    source.write_text(
        "from __future__ import annotations\n"
        "import os, json\n"
        "from ansible.module_utils.basic import AnsibleModule\n"
        "from ansible_collections.smb.alternative_ports.plugins.module_utils import _model\n"
        "from . import sibling\n"
        "try:\n"
        "    import tomllib\n"
        "except ImportError:\n"
        "    import tomli as tomllib\n"
        "def late():\n"
        "    from smbprotocol.connection import Connection\n"
    )
    assert third_party_imports([source]) == {"tomli": [str(source)], "smbprotocol": [str(source)]}
    assert distributions_of("yaml") == {"pyyaml"}


def test_every_runtime_import_is_a_reported_requirement(built_collection: BuiltCollection, tmp_path: Path) -> None:
    imports = third_party_imports(sorted((REPO_ROOT / "plugins").rglob("*.py")))
    assert imports, "the scan of plugins/ found no third-party import at all: the scan is broken"
    reported = {
        canonicalize_name(r.name) for r in reported_python_requirements(built_collection.collections_path, tmp_path)
    }
    uncovered = {
        module: (sorted(distributions_of(module)), files)
        for module, files in imports.items()
        if not distributions_of(module) & reported
    }
    assert not uncovered, (
        "plugins import packages that ansible-builder would not install; add them to meta/ee-requirements.txt "
        f"(module: (distributions, files)): {uncovered}; introspect reported {sorted(reported)}"
    )


def test_reported_requirements_resolve_beside_ansible_core(built_collection: BuiltCollection, tmp_path: Path) -> None:
    """The image's pip step, short of installing: what introspect reports, with the ansible-core and
    ansible-runner the definition installs, resolves from the package index (Python of this venv)."""
    pip_file = tmp_path / "introspected-requirements.txt"
    reported = reported_python_requirements(built_collection.collections_path, tmp_path)
    report = tmp_path / "pip-report.json"
    run_tool(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--report",
        report,
        "-r",
        pip_file,
        "ansible-core>=2.16",
        "ansible-runner",
        timeout=600,
    )
    resolved = {canonicalize_name(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}
    wanted = {canonicalize_name(r.name) for r in reported if r.marker is None or r.marker.evaluate()}
    assert wanted | {"ansible-core", "ansible-runner"} <= resolved


def test_ee_requirements_follow_certification_rules() -> None:
    """Lower bounds only (no pins, no caps) and no ansible or ansible-core, as certified collections must."""
    entries = requirements_file(REPO_ROOT / "meta" / "ee-requirements.txt")
    assert entries
    assert not {"ansible", "ansible-core", "ansible-base"} & entries.keys()
    bad = {name: str(req.specifier) for name, req in entries.items() if any(s.operator != ">=" for s in req.specifier)}
    assert not bad, f"meta/ee-requirements.txt may only use >= lower bounds: {bad}"


def test_ee_requirements_are_what_plugins_import() -> None:
    """No package missing and none left over (a QUIC stack the plugins no longer import, say)."""
    imported = set()
    for module in third_party_imports(sorted((REPO_ROOT / "plugins").rglob("*.py"))):
        imported |= distributions_of(module)
    declared = set(requirements_file(REPO_ROOT / "meta" / "ee-requirements.txt"))
    assert declared == imported, (
        f"meta/ee-requirements.txt lists {sorted(declared - imported)} that plugins/ does not import, "
        f"and lacks {sorted(imported - declared)} that it does"
    )


def test_ee_lower_bounds_match_the_development_requirements() -> None:
    """requirements.txt (ranges, for development and CI) and meta/ee-requirements.txt must not drift apart."""
    development = requirements_file(REPO_ROOT / "requirements.txt")
    execution_environment = requirements_file(REPO_ROOT / "meta" / "ee-requirements.txt")
    mismatched = {}
    for name in development.keys() & execution_environment.keys():
        lower = sorted(s.version for s in development[name].specifier if s.operator == ">=")
        ee_lower = sorted(s.version for s in execution_environment[name].specifier if s.operator == ">=")
        if ee_lower != lower:
            mismatched[name] = (lower, ee_lower)
    assert not mismatched, f"lower bounds (requirements.txt, meta/ee-requirements.txt) differ: {mismatched}"


def test_bindep_names_packages_debian_has() -> None:
    """The [platform:dpkg] half of meta/ee-bindep.txt, resolved by bindep on this Debian machine, names
    packages apt knows (the RPM half cannot be resolved here)."""
    assert shutil.which("apt-cache"), "apt-cache is needed to check the dpkg package names"
    listed = run_tool(
        VENV_BIN / "bindep", "-f", REPO_ROOT / "meta" / "ee-bindep.txt", "-l", "newline", "compile", "default"
    ).stdout.split()
    assert {"gcc", "python3-dev", "krb5-user"} <= set(listed)
    policy = run_tool("apt-cache", "policy", *listed).stdout
    candidates = dict(re.findall(r"^(\S+):\n(?:\s+Installed:.*\n)?\s+Candidate: (\S+)", policy, re.M))
    unknown = [package for package in listed if candidates.get(package, "(none)") == "(none)"]
    assert not unknown, f"meta/ee-bindep.txt names packages Debian does not have: {unknown}"


def test_create_makes_a_build_context_that_installs_the_collection_and_its_requirements(
    built_collection: BuiltCollection, tmp_path: Path
) -> None:
    context = tmp_path / "context"
    run_tool(
        VENV_BIN / "ansible-builder",
        "create",
        "-f",
        REPO_ROOT / "docs" / "execution-environment.yml",
        "-c",
        context,
        "--output-filename",
        "Containerfile",
    )
    containerfile = (context / "Containerfile").read_text()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {"name": "smb.alternative_ports", "version": ">=0.1.0"} in galaxy["collections"]
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect.py introspect" in containerfile
    # The image runs the introspect script it carries against the installed collections; run that same copy
    # against this collection and it must yield the collection's requirements.
    pip_file = tmp_path / "image-requirements.txt"
    run_tool(
        sys.executable,
        context / "_build" / "scripts" / "introspect.py",
        "introspect",
        "--write-pip",
        pip_file,
        built_collection.collections_path,
    )
    image_requirements = pip_file.read_text()
    for name in requirements_file(REPO_ROOT / "meta" / "ee-requirements.txt"):
        assert re.search(rf"^{re.escape(name)}\b", image_requirements, re.M | re.I), (name, image_requirements)


@pytest.mark.parametrize("definition", ["meta/execution-environment.yml"])
def test_collection_definition_points_at_files_in_the_tarball(
    built_collection: BuiltCollection, definition: str
) -> None:
    data = yaml.safe_load((built_collection.installed / definition).read_text())
    for entry in ("python", "system"):
        assert (built_collection.installed / data["dependencies"][entry]).is_file(), data["dependencies"][entry]
