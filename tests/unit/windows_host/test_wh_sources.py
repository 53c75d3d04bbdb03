"""SOURCES.md lists the source of every behaviour the emulated host models: a modelled cmdlet, parameter, output
property, value map, error, fault or default that the table does not list fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.windows_host import wsman_messages
from tests.support.windows_host.catalog import specs
from tests.support.windows_host.cim_classes import CLASSES
from tests.support.windows_host.state import (
    default_client_configuration,
    default_host_settings,
    default_server_configuration,
)

SOURCES = Path(__file__).resolve().parents[2] / "support" / "windows_host" / "SOURCES.md"
MODEL_DIR = SOURCES.parent
ROW = re.compile(r"^\| (?P<kind>[a-z ]+) \| `(?P<item>[^`]+)` \| (?P<source>.+) \|$")
REPOSITORY = re.compile(r"`[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+`")


def rows() -> dict[tuple[str, str], str]:
    found = {}
    for line in SOURCES.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            found[(match["kind"], match["item"])] = match["source"]
    return found


def listed(kind: str) -> set[str]:
    return {item for (row_kind, item) in rows() if row_kind == kind}


def missing(kind: str, modelled: set[str]) -> list[str]:
    return sorted(modelled - listed(kind))


def test_every_modelled_cmdlet_is_listed():
    assert missing("cmdlet", {spec.name for spec in specs()}) == []


def test_every_modelled_parameter_is_listed():
    modelled = {f"{spec.name} -{param.name}" for spec in specs() for param in spec.params}
    assert missing("parameter", modelled) == []


def test_every_output_property_is_listed():
    modelled = {f"{cls.name}.{prop}" for cls in CLASSES.values() for prop in cls.properties}
    assert missing("property", modelled) == []


def test_every_value_map_is_listed():
    modelled = {f"{cls.name}.{prop}" for cls in CLASSES.values() for prop in cls.enums}
    assert missing("value map", modelled) == []


def test_every_win32_error_the_cmdlets_raise_is_listed():
    source = "".join(path.read_text(encoding="utf-8") for path in MODEL_DIR.glob("*_cmdlets.py"))
    source += (MODEL_DIR / "cmdlet_errors.py").read_text(encoding="utf-8")
    codes = set(re.findall(r"win32_error\(\s*command,\s*(\d+)", source))
    assert codes, "the pattern found no win32 errors: the test would pass without checking anything"
    assert missing("error", {f"Windows System Error {code}" for code in codes}) == []


def test_every_wsman_fault_is_listed():
    faults = {name for name in vars(wsman_messages) if name.startswith("FAULT_")}
    assert missing("fault", faults) == []


def test_every_default_is_listed():
    modelled = {f"client_configuration.{name}" for name in default_client_configuration()}
    modelled |= {f"host.{name}" for name in default_host_settings()}
    modelled |= {f"server_configuration.{name}" for name in default_server_configuration()}
    modelled |= {"winrm.max_envelope_kb", "winrm.basic_auth"}
    assert missing("default", modelled) == []


def test_each_row_names_a_source_or_says_assumed_and_why():
    found = rows()
    assert len(found) > 300
    vague = [item for (kind, item), source in found.items() if not (REPOSITORY.search(source) or "assumed:" in source)]
    assert vague == []
    short = [
        item for (kind, item), source in found.items() if source.strip().startswith("assumed:") and len(source) < 40
    ]
    assert short == [], "an assumption says why"


@pytest.mark.parametrize("spec", specs(), ids=lambda spec: spec.name)
def test_cmdlet_rows_point_at_that_cmdlets_page(spec):
    source = rows()[("cmdlet", spec.name)]
    assert f"/{spec.name}.md`" in source


def test_the_table_catches_an_unlisted_cmdlet(monkeypatch):
    """The checks above can fail: a cmdlet the table does not know is reported."""
    assert missing("cmdlet", {"New-SmbImaginaryThing"}) == ["New-SmbImaginaryThing"]
