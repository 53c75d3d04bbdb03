"""The CIM classes whose instances the modelled cmdlets return: property names and enum value maps.

Every output object of a modelled cmdlet is an instance of one class here, and carries exactly the
properties listed (``SOURCES.md`` gives the source of each, and a test holds the two together).

Enum properties are ``uint32`` in the classes. On Windows the SmbShare module's type data turns some of
them into .NET enums, which the executor writes as names; others reach the executor as the plain
number. ``WindowsState.host["enum_form"]`` chooses which the emulated host answers, so the collection is
tested against both. The names are as the cmdlets print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CimClass:
    """A class of ROOT/Microsoft/Windows/SMB (or of the NetSecurity/registry providers): its output properties."""

    name: str
    properties: tuple[str, ...]
    enums: dict[str, dict[int, str]] = field(default_factory=dict)

    def as_numbers(self, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` with each enum property given as its number, as when no type data converts it."""
        converted = dict(obj)
        for prop, value_map in self.enums.items():
            value = converted.get(prop)
            if isinstance(value, str):
                numbers = {name.lower(): number for number, name in value_map.items()}
                converted[prop] = numbers[value.lower()]
        return converted


_TRANSPORT = {0: "None", 1: "Tcp", 2: "Quic", 3: "Rdma"}
_MAPPING_TRANSPORT = {0: "None", 1: "TCP", 2: "QUIC"}
_MAPPING_STATUS = {
    0: "OK",
    1: "Paused",
    2: "Disconnected",
    3: "NetworkError",
    4: "Connecting",
    5: "Reconnecting",
    6: "Unavailable",
}
_MAPPING_PROPERTIES = (
    "LocalPath",
    "RemotePath",
    "Status",
    "TransportType",
    "TcpPort",
    "QuicPort",
    "RdmaPort",
    "BlockNTLM",
    "CompressNetworkTraffic",
    "RequireIntegrity",
    "RequirePrivacy",
    "SkipCertificateCheck",
    "UseWriteThrough",
)

CLASSES: dict[str, CimClass] = {
    cls.name: cls
    for cls in (
        CimClass(
            "MSFT_SmbServerAlternativePort",
            ("TransportType", "Port", "Instances"),
            {"TransportType": _TRANSPORT, "Instances": {0: "None", 1: "Default"}},
        ),
        CimClass(
            "MSFT_SmbMapping",
            (*_MAPPING_PROPERTIES, "GlobalMapping"),
            {"TransportType": _MAPPING_TRANSPORT, "Status": _MAPPING_STATUS},
        ),
        CimClass(
            "MSFT_SmbGlobalMapping",
            _MAPPING_PROPERTIES,
            {"TransportType": _MAPPING_TRANSPORT, "Status": _MAPPING_STATUS},
        ),
        CimClass(
            "MSFT_SmbServerCertificateMapping",
            (
                "Name",
                "Subject",
                "Thumbprint",
                "DisplayName",
                "StoreName",
                "Type",
                "Flags",
                "RequireClientAuthentication",
                "SkipClientCertificateAccessCheck",
                "MappingStatus",
                "RenewalChain",
            ),
        ),
        CimClass(
            "MSFT_SmbClientAccessToServer",
            ("Name", "IdentifierType", "Identifier", "AccessControlType", "Description"),
            {"AccessControlType": {0: "Allow", 1: "Deny"}, "IdentifierType": {0: "SHA256", 1: "ISSUER"}},
        ),
        CimClass("MSFT_SmbServerConfiguration", ("EnableSMBQUIC",)),
        CimClass("MSFT_NetUDPEndpoint", ("LocalAddress", "LocalPort", "OwningProcess")),
        CimClass(
            "MSFT_NetTCPConnection", ("LocalAddress", "LocalPort", "RemoteAddress", "RemotePort", "OwningProcess")
        ),
        CimClass(
            "MSFT_SmbClientConfiguration",
            ("EnableSMBQUIC", "ForceSMBEncryptionOverQuic", "RequireSecuritySignature", "EnableInsecureGuestLogons"),
        ),
    )
}


def convert_output(class_name: str, obj: Any, enum_form: str) -> Any:
    """An output object as the executor sees it: the class's properties only (the model may keep more, such
    as the user a global mapping was made with), enums as names or numbers according to ``enum_form``."""
    cls = CLASSES.get(class_name)
    if cls is None or not isinstance(obj, dict):
        return obj
    projected = {prop: obj.get(prop) for prop in cls.properties}
    return cls.as_numbers(projected) if enum_form == "numbers" else projected
