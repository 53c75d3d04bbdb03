# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the ``uint32`` enum properties of the ROOT/Microsoft/Windows/SMB classes in either form.

This is a private module_utils file: its API may change without notice.

The SmbShare cmdlets return CIM instances. When the module's type data turns an enum property into a .NET enum,
the executor sends its name (``Quic``); when it does not, the property reaches the executor as a plain number
(``2``), and Windows PowerShell 5.1's ConvertTo-Json writes every .NET enum as a number anyway. Every reader of
an enum property goes through :func:`enum_name`, which accepts both and answers the lower-case name.

Value maps (tests/support/windows_host/SOURCES.md has the source of each):
- ``SmbMapping.TransportType``: 0 None, 1 TCP, 2 QUIC (microsoft/wmi's generated ``SmbMapping_TransportType``
  has the values 0, 1, 2; the names and their order are New-SmbMapping's accepted values).
- ``SmbServerAlternativePort.Instances``: a flag set 0-15 in the class; 0 None and 1 Default (the two values
  ``-EnableInstances`` accepts).
- ``SmbServerAlternativePort.TransportType``: assumed like SmbMapping's, with RDMA 3 (no published value map).
- ``SmbClientAccessToServer.AccessControlType``: assumed 0 Allow, 1 Deny, as .NET's AccessControlType.
- ``SmbClientAccessToServer.IdentifierType``: assumed 0 SHA256, 1 ISSUER, in the order the cmdlets list them.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

_MAPPING_TRANSPORT = {0: "None", 1: "TCP", 2: "QUIC"}
# MSFT_SmbMapping.Status, from the class documentation (MicrosoftDocs/win32 msft-smbmapping.md).
_MAPPING_STATUS = {
    0: "OK",
    1: "Paused",
    2: "Disconnected",
    3: "NetworkError",
    4: "Connecting",
    5: "Reconnecting",
    6: "Unavailable",
}

#: (CIM class without the MSFT_ prefix, property) -> {number: name as the cmdlets print it}
VALUE_MAPS: Dict[tuple, Dict[int, str]] = {
    ("SmbMapping", "TransportType"): _MAPPING_TRANSPORT,
    ("SmbMapping", "Status"): _MAPPING_STATUS,
    ("SmbGlobalMapping", "TransportType"): _MAPPING_TRANSPORT,
    ("SmbGlobalMapping", "Status"): _MAPPING_STATUS,
    ("SmbServerAlternativePort", "TransportType"): {0: "None", 1: "Tcp", 2: "Quic", 3: "Rdma"},
    ("SmbServerAlternativePort", "Instances"): {0: "None", 1: "Default"},
    ("SmbClientAccessToServer", "AccessControlType"): {0: "Allow", 1: "Deny"},
    ("SmbClientAccessToServer", "IdentifierType"): {0: "SHA256", 1: "ISSUER"},
}


class UnknownEnumValue(ValueError):
    """A number that the class's value map does not know; the message names the class, property and value."""


def enum_label(cim_class: str, prop: str, value: Any, default: str = "") -> str:
    """The enumerator name of ``value`` as the cmdlets print it, whether it arrived as a name or a number."""
    if value is None or value == "":
        return default
    mapping = VALUE_MAPS[(cim_class, prop)]
    number = _as_number(value)
    if number is None:
        return str(value).strip()
    if number not in mapping:
        known = ", ".join(f"{key} {name}" for key, name in sorted(mapping.items()))
        raise UnknownEnumValue(
            f"MSFT_{cim_class}.{prop} is {number}, which is not in its value map ({known}); "
            "the host may run a newer Windows than this collection knows: report it with the host's build"
        )
    return mapping[number]


def enum_name(cim_class: str, prop: str, value: Any, default: str = "") -> str:
    """The lower-case enumerator name of ``value``, whether it arrived as a name (``"Quic"``) or a number (``2``)."""
    return enum_label(cim_class, prop, value, default).lower()


def enum_names(cim_class: str, row: Mapping[str, Any], props: Mapping[str, str]) -> Dict[str, str]:
    """Several enum properties of one output row at once: ``{property: default}`` -> ``{property: name}``."""
    return {prop: enum_name(cim_class, prop, row.get(prop), default) for prop, default in props.items()}


def _as_number(value: Any) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
