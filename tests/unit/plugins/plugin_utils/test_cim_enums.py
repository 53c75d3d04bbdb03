"""Enum properties read as names or as the class's numbers, with the value maps of the class definitions."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._cim_enums import (
    UnknownEnumValue,
    enum_label,
    enum_name,
)
from tests.support.windows_host.cim_classes import CLASSES


@pytest.mark.parametrize(
    ("cim_class", "prop", "value", "name"),
    [
        ("SmbServerAlternativePort", "TransportType", "Quic", "quic"),
        ("SmbServerAlternativePort", "TransportType", 2, "quic"),
        ("SmbServerAlternativePort", "TransportType", "2", "quic"),
        ("SmbServerAlternativePort", "Instances", 1, "default"),
        ("SmbMapping", "TransportType", 1, "tcp"),
        ("SmbClientAccessToServer", "AccessControlType", 1, "deny"),
        ("SmbClientAccessToServer", "AccessControlType", "Allow", "allow"),
        ("SmbClientAccessToServer", "IdentifierType", 0, "sha256"),
    ],
)
def test_names_and_numbers_read_the_same(cim_class, prop, value, name):
    assert enum_name(cim_class, prop, value) == name


def test_labels_keep_the_cmdlets_spelling():
    assert enum_label("SmbMapping", "Status", 0) == "OK"
    assert enum_label("SmbMapping", "Status", "Disconnected") == "Disconnected"


def test_a_missing_value_reads_as_the_default():
    assert enum_name("SmbServerAlternativePort", "Instances", None, "default") == "default"


def test_a_number_outside_the_value_map_is_a_clear_error():
    with pytest.raises(UnknownEnumValue, match=r"MSFT_SmbMapping.TransportType is 7, which is not in its value map"):
        enum_name("SmbMapping", "TransportType", 7)


def test_the_collection_and_the_emulated_host_use_the_same_value_maps():
    """Two copies (the collection cannot import tests): they must agree, or a numbers run would test nothing."""
    for cls in CLASSES.values():
        for prop, value_map in cls.enums.items():
            for number, name in value_map.items():
                assert enum_name(cls.name.removeprefix("MSFT_"), prop, number) == name.lower(), (cls.name, prop)
