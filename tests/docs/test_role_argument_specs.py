"""Role entry points document themselves: ``ansible-doc -t role`` shows every entry point users call
(``main``, and each ``tasks_from`` the collection's roles, playbooks and molecule scenarios use), each with a
short description, a description, and a description for every option at every depth.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.support.collection import REPO_ROOT

VENV_BIN = Path(sys.executable).parent
ROLES = sorted(p.name for p in (REPO_ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())
# Where users (and our own roles) call entry points; tests/ may include internal task files on purpose.
CALLERS = ("roles", "playbooks", "molecule", "docs")


def entry_points(role: str) -> dict:
    return yaml.safe_load((REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def undocumented(options: dict, where: str) -> Iterator[str]:
    for name, spec in options.items():
        if not spec.get("description"):
            yield f"{where}.{name}"
        yield from undocumented(spec.get("options") or {}, f"{where}.{name}")


def tasks_from_calls() -> set[tuple[str, str]]:
    calls = set()
    for folder in CALLERS:
        for path in (REPO_ROOT / folder).rglob("*.y*ml"):
            text = path.read_text(encoding="utf-8")
            for role, entry in re.findall(r"name:\s*(smb\.alternative_ports\.\w+)\s*\n\s*tasks_from:\s*(\w+)", text):
                calls.add((role.rsplit(".", 1)[1], entry))
    return calls


@pytest.mark.parametrize("role", ROLES)
def test_entry_points_are_described_to_the_last_option(role: str) -> None:
    specs = entry_points(role)
    assert "main" in specs
    problems = []
    for entry, spec in specs.items():
        if not (REPO_ROOT / "roles" / role / "tasks" / f"{entry}.yml").is_file():
            problems.append(f"{role}: entry point {entry} has no tasks/{entry}.yml")
        for field in ("short_description", "description"):
            if not spec.get(field):
                problems.append(f"{role}.{entry}: no {field}")
        problems += [
            f"{role}.{entry}: option {o} has no description" for o in undocumented(spec.get("options") or {}, "")
        ]
    assert not problems, "\n".join(problems)


def test_every_tasks_from_the_collection_uses_is_an_entry_point() -> None:
    calls = tasks_from_calls()
    assert calls, "the scan for tasks_from found nothing (molecule/windows uses client_windows): it is broken"
    missing = sorted(f"{role}:{entry}" for role, entry in calls if entry not in entry_points(role))
    assert not missing, f"tasks_from targets without an argument spec entry point: {missing}"


def test_ansible_doc_shows_every_entry_point() -> None:
    names = [f"smb.alternative_ports.{role}" for role in ROLES]
    proc = subprocess.run(
        [VENV_BIN / "ansible-doc", "--json", "-t", "role", *names], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    for role in ROLES:
        assert set(shown[f"smb.alternative_ports.{role}"]["entry_points"]) == set(entry_points(role)), role


@pytest.mark.parametrize("role", ROLES)
def test_documented_defaults_are_values_of_their_type(role: str) -> None:
    """Ansible validates an entry point's variables against its spec before the role runs, using an option's
    ``default`` when the variable is unset, and the docs site rejects a default that is not of its type. Prose
    there ("the host's model") belongs in the description."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    def without_docs(options: dict) -> dict:
        return {
            name: {
                k: (without_docs(v) if k == "options" else v)
                for k, v in spec.items()
                if k not in ("description", "required")
            }
            for name, spec in options.items()
        }

    for entry, spec in entry_points(role).items():
        errors = ArgumentSpecValidator(without_docs(spec.get("options") or {})).validate({}).error_messages
        assert not errors, f"{role}.{entry}: defaults that are not values of their type: {errors}"
