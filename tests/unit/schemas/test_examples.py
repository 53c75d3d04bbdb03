"""Every example model in schemas/examples is checked: valid ones pass, invalid ones fail with exactly the
errors written in their ``# expect-error:`` comments (and warnings in ``# expect-warning:``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.smb.alternative_ports.plugins.module_utils._model import validate_model

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
SCHEMA = json.loads((SCHEMAS / "alternative_ports.schema.json").read_text())
VALID = sorted((SCHEMAS / "examples" / "valid").glob("*.yml"))
INVALID = sorted((SCHEMAS / "examples" / "invalid").glob("*.yml"))


def _expected(path: Path, tag: str) -> list[str]:
    """Lines ``# expect-error: text``; a long text goes on in lines that start with ``#   ``."""
    prefix = f"# {tag}: "
    expected: list[str] = []
    continues = False
    for line in path.read_text().splitlines():
        if line.startswith(prefix):
            expected.append(line[len(prefix) :])
            continues = True
        elif continues and line.startswith("#   "):
            expected[-1] += " " + line[4:]
        else:
            continues = False
    return expected


def _host_is_windows(model: dict) -> bool:
    return model.get("backend") == "windows"


def test_there_are_examples_of_both_kinds():
    assert len(VALID) >= 4
    assert len(INVALID) >= 10


def test_every_example_points_editors_at_the_schema():
    for path in VALID + INVALID:
        assert path.read_text().startswith("# yaml-language-server: $schema=../../alternative_ports.schema.json"), path


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_example(path: Path):
    model = yaml.safe_load(path.read_text())
    result = validate_model(model, SCHEMA, host_is_windows=_host_is_windows(model))
    assert [str(e) for e in result.errors] == []
    assert [str(w) for w in result.warnings] == _expected(path, "expect-warning")
    assert result.normalized["server"]["ports"] == [
        {"transport": p["transport"], "port": p["port"], "instances": p.get("instances", "default")}
        for p in model.get("server", {}).get("ports", [])
    ]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_example(path: Path):
    model = yaml.safe_load(path.read_text())
    expected = _expected(path, "expect-error")
    assert expected, f"{path.name} has no '# expect-error:' line"
    result = validate_model(model, SCHEMA, host_is_windows=_host_is_windows(model))
    assert sorted(str(e) for e in result.errors) == sorted(expected)
    assert result.normalized == {}


def test_every_property_has_a_title_and_description():
    missing = []

    def walk(node, where):
        for name, prop in (node.get("properties") or {}).items():
            if "title" not in prop or "description" not in prop:
                missing.append(f"{where}.{name}")
            walk(prop, f"{where}.{name}")
        for name, sub in (node.get("$defs") or {}).items():
            walk(sub, f"$defs.{name}")

    walk(SCHEMA, "")
    assert missing == []
