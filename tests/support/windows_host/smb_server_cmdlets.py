"""SMB server cmdlets: alternative ports, QUIC certificate mappings, QUIC client access control.

Facts modelled (Microsoft's SmbShare documentation for Windows Server 2025):

- ``New/Set/Remove/Get-SmbServerAlternativePort`` take ``-TransportType``, ``-Port`` (UInt16) and
  ``-EnableInstances`` (``Default`` or ``None``; mandatory on New and Set). The output object
  (MSFT_SmbServerAlternativePort) has ``TransportType``, ``Port`` and ``Instances``: no EnableInstances.
  The docs say of ``-EnableInstances``: "Currently only the Default instance is allowed"; the model
  refuses ``None`` with ERROR_INVALID_PARAMETER (assumed: the collection must tolerate a host that
  accepts it too). The Windows SMB server can move only its QUIC listener: a TCP or RDMA alternative
  port is refused (ERROR_NOT_SUPPORTED). A duplicate is refused, and port 0 is not a port.
- ``*-SmbServerCertificateMapping`` associate a certificate (by 40-hex-digit thumbprint) with a server
  name for SMB over QUIC.
  ``Set-SmbServerCertificateMapping`` points a mapping at a renewed certificate, keeping its access entries.
- ``Grant/Revoke`` add and remove allow entries, ``Block/Unblock`` add and remove deny entries, of a
  certificate mapping: ``-Name`` must name an existing ``New-SmbServerCertificateMapping`` (else the
  query cmdlet's "No MSFT_SmbServerCertificateMapping objects found"); entries are keyed by identifier
  type (``ISSUER`` or ``SHA256``) and identifier.
- The CDXML query cmdlets (Get/Set/Remove) fail with "No MSFT_... objects found with property ..."
  when a filter value without wildcards matches nothing.
- Set/Remove/Grant/Block/Revoke ask for confirmation unless ``-Force`` (see ``catalog``).
"""

from __future__ import annotations

import re
from typing import Any

from .binding import BOOL, ENUM, ENUMS, STRING, STRINGS, SWITCH, UINT16, UINT16S, Param
from .catalog import CmdletSpec, register
from .cmdlet_errors import already_exists, cim_not_found, invalid_parameter, not_supported
from .state import ALTERNATIVE_PORTS_MIN_BUILD, WindowsState
from .wildcard import has_wildcard, wildcard_match

# Enumerator names as the SmbShare module prints them.
TRANSPORTS = ("Tcp", "Quic", "Rdma")
INSTANCES = ("Default", "None")
_TRANSPORT_ENUM = "Microsoft.PowerShell.Cmdletization.GeneratedTypes.SmbServerAlternativePort.TransportType"
_INSTANCE_ENUM = "Microsoft.PowerShell.Cmdletization.GeneratedTypes.SmbServerAlternativePort.Instance"
_PORT_CLASS = "MSFT_SmbServerAlternativePort"


def _transport(mandatory: bool, many: bool = False) -> Param:
    kind = ENUMS if many else ENUM
    return Param("TransportType", kind, mandatory, TRANSPORTS, _TRANSPORT_ENUM)


def _instances(name: str, mandatory: bool) -> Param:
    return Param(name, ENUM, mandatory, INSTANCES, _INSTANCE_ENUM)


def _check_instances(command: str, instances: str) -> None:
    if instances != "Default":
        # "Currently only the Default instance is allowed." (New-SmbServerAlternativePort); the error is assumed.
        raise invalid_parameter(command)


def _find_port(state: WindowsState, transport: str, port: int) -> dict[str, Any] | None:
    for entry in state.alternative_ports:
        if entry["TransportType"].lower() == transport.lower() and entry["Port"] == port:
            return entry
    return None


def _check_server_port(command: str, transport: str, port: int) -> None:
    if transport != "Quic":
        # Windows lets the SMB server move only its QUIC listener; TCP 445 and SMB Direct stay put.
        raise not_supported(command)
    if port == 0:
        raise invalid_parameter(command)


def _sorted_ports(state: WindowsState) -> list[dict[str, Any]]:
    return sorted(state.alternative_ports, key=lambda e: (TRANSPORTS.index(e["TransportType"]), e["Port"]))


def new_alternative_port(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    transport, port = args["TransportType"], args["Port"]
    _check_server_port(command, transport, port)
    _check_instances(command, args["EnableInstances"])
    if _find_port(state, transport, port) is not None:
        raise already_exists(command)
    entry = {"TransportType": transport, "Port": port, "Instances": args["EnableInstances"]}
    state.alternative_ports.append(entry)
    return [dict(entry)]


def set_alternative_port(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    transport, port = args["TransportType"], args["Port"]
    _check_server_port(command, transport, port)
    entry = _find_port(state, transport, port)
    if entry is None:
        raise cim_not_found(command, _PORT_CLASS, "Port", port)
    _check_instances(command, args["EnableInstances"])
    entry["Instances"] = args["EnableInstances"]
    return []


def _query_ports(state: WindowsState, args: dict[str, Any], command: str) -> list[dict[str, Any]]:
    transports = args.get("TransportType")
    ports = args.get("Port")
    by_transport = [e for e in _sorted_ports(state) if transports is None or e["TransportType"] in transports]
    for transport in transports or []:
        if not any(entry["TransportType"] == transport for entry in by_transport):
            raise cim_not_found(command, _PORT_CLASS, "TransportType", transport)
    for port in ports or []:
        if not any(entry["Port"] == port for entry in by_transport):
            raise cim_not_found(command, _PORT_CLASS, "Port", port)
    return [entry for entry in by_transport if ports is None or entry["Port"] in ports]


def get_alternative_port(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return [dict(entry) for entry in _query_ports(state, args, command)]


def remove_alternative_port(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    found = _query_ports(state, args, command)
    for entry in found:
        state.alternative_ports.remove(entry)
    return [dict(entry) for entry in found] if args.get("PassThru") else []


# -- certificate mappings ----------------------------------------------------------------------------
_CERT_CLASS = "MSFT_SmbServerCertificateMapping"
_THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")


def _match_names(items: list[dict[str, Any]], names: list[str] | None, command: str, cim_class: str) -> list[dict]:
    if names is None:
        return list(items)
    found = []
    for name in names:
        matched = [item for item in items if wildcard_match(name, item["Name"])]
        if not matched and not has_wildcard(name):
            raise cim_not_found(command, cim_class, "Name", name)
        found.extend(item for item in matched if item not in found)
    return found


def new_certificate_mapping(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    if not _THUMBPRINT.match(args["Thumbprint"]) or not args["Name"]:
        raise invalid_parameter(command)
    if any(m["Name"].lower() == args["Name"].lower() for m in state.certificate_mappings):
        raise already_exists(command)
    mapping = {
        "Name": args["Name"],
        "Subject": args.get("Subject", ""),
        "Thumbprint": args["Thumbprint"].upper(),
        "DisplayName": args.get("DisplayName", ""),
        "StoreName": args["StoreName"],
        "Type": args.get("Type", "QUIC"),
        "Flags": args.get("Flags", "None"),
        "RequireClientAuthentication": args.get("RequireClientAuthentication", False),
        "SkipClientCertificateAccessCheck": args.get("SkipClientCertificateAccessCheck", False),
    }
    state.certificate_mappings.append(mapping)
    return [dict(mapping)]


def get_certificate_mapping(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return [dict(m) for m in _match_names(state.certificate_mappings, args.get("Name"), command, _CERT_CLASS)]


def remove_certificate_mapping(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    found = _match_names(state.certificate_mappings, args.get("Name"), command, _CERT_CLASS)
    if args.get("Thumbprint") is not None:
        wanted = {t.upper() for t in args["Thumbprint"]}
        found = [m for m in found if m["Thumbprint"] in wanted]
        if not found:
            raise cim_not_found(command, _CERT_CLASS, "Thumbprint", args["Thumbprint"][0])
    for mapping in found:
        state.certificate_mappings.remove(mapping)
        # The access entries are records of the mapping (assumed: they go with it).
        state.client_access[:] = [e for e in state.client_access if e["Name"].lower() != mapping["Name"].lower()]
    return [dict(m) for m in found] if args.get("PassThru") else []


def set_certificate_mapping(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    """A renewed certificate: the mapping keeps its name and its access entries (Microsoft's SMB over QUIC guide)."""
    found = _match_names(state.certificate_mappings, args["Name"], command, _CERT_CLASS)
    if "Thumbprint" in args and not _THUMBPRINT.match(args["Thumbprint"]):
        raise invalid_parameter(command)
    for mapping in found:
        for prop in (
            "Thumbprint",
            "StoreName",
            "DisplayName",
            "RequireClientAuthentication",
            "SkipClientCertificateAccessCheck",
        ):
            if prop in args:
                mapping[prop] = args[prop].upper() if prop == "Thumbprint" else args[prop]
    return [dict(m) for m in found] if args.get("PassThru") else []


# -- client access control -------------------------------------------------------------------------
_ACCESS_CLASS = "MSFT_SmbClientAccessToServer"
IDENTIFIER_TYPES = ("ISSUER", "SHA256")
_IDENTIFIER_ENUM = "Microsoft.PowerShell.Cmdletization.GeneratedTypes.SmbClientAccessToServer.IdentifierType"


def _access_entry(state: WindowsState, name: str, id_type: str, identifier: str, access: str) -> dict[str, Any] | None:
    for entry in state.client_access:
        if (
            entry["Name"].lower() == name.lower()
            and entry["IdentifierType"] == id_type
            and entry["Identifier"].lower() == identifier.lower()
            and entry["AccessControlType"] == access
        ):
            return entry
    return None


def _mapping_names(state: WindowsState, names: list[str], command: str) -> list[str]:
    """-Name of the access cmdlets selects certificate mappings; one that matches none is an error."""
    return [m["Name"] for m in _match_names(state.certificate_mappings, names, command, _CERT_CLASS)]


def _add_access(state: WindowsState, args: dict[str, Any], command: str, access: str) -> list[Any]:
    out = []
    for name in _mapping_names(state, args["Name"], command):
        entry = _access_entry(state, name, args["IdentifierType"], args["Identifier"], access)
        if entry is None:
            entry = {
                "Name": name,
                "IdentifierType": args["IdentifierType"],
                "Identifier": args["Identifier"],
                "AccessControlType": access,
                "Description": args.get("Description", ""),
            }
            state.client_access.append(entry)
        out.append(dict(entry))
    return out


def _remove_access(state: WindowsState, args: dict[str, Any], command: str, access: str) -> list[Any]:
    for name in _mapping_names(state, args["Name"], command):
        entry = _access_entry(state, name, args["IdentifierType"], args["Identifier"], access)
        if entry is None:
            raise cim_not_found(command, _ACCESS_CLASS, "Identifier", args["Identifier"])
        state.client_access.remove(entry)
    return []


def grant_client_access(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return _add_access(state, args, command, "Allow")


def block_client_access(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return _add_access(state, args, command, "Deny")


def revoke_client_access(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return _remove_access(state, args, command, "Allow")


def unblock_client_access(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return _remove_access(state, args, command, "Deny")


def get_client_access(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    # -Name names the certificate mappings whose entries to list; a mapping without entries lists nothing.
    names = {name.lower() for name in _mapping_names(state, args["Name"], command)}
    return [dict(e) for e in state.client_access if e["Name"].lower() in names]


def _access_params(adds: bool) -> tuple[Param, ...]:
    """Grant and Block take a -Description for the entry they add; Revoke and Unblock do not."""
    return (
        Param("Name", STRINGS, mandatory=True),
        Param("IdentifierType", ENUM, True, IDENTIFIER_TYPES, _IDENTIFIER_ENUM),
        Param("Identifier", STRING, mandatory=True),
        *((Param("Description", STRING),) if adds else ()),
        Param("Force", SWITCH),
    )


register(
    CmdletSpec(
        "Get-SmbServerAlternativePort",
        (_transport(False, many=True), Param("Port", UINT16S), Param("IncludeHidden", SWITCH)),
        get_alternative_port,
        output_class=_PORT_CLASS,
        min_build=ALTERNATIVE_PORTS_MIN_BUILD,
    )
)
register(
    CmdletSpec(
        "New-SmbServerAlternativePort",
        (_transport(True), Param("Port", UINT16, True), _instances("EnableInstances", True), Param("Force", SWITCH)),
        new_alternative_port,
        changes_state=True,
        output_class=_PORT_CLASS,
        min_build=ALTERNATIVE_PORTS_MIN_BUILD,
    )
)
register(
    CmdletSpec(
        "Set-SmbServerAlternativePort",
        (
            _transport(True),
            Param("Port", UINT16, True),
            _instances("EnableInstances", True),
            _instances("DisableInstances", False),
            Param("Force", SWITCH),
        ),
        set_alternative_port,
        changes_state=True,
        prompts_without_force=True,
        min_build=ALTERNATIVE_PORTS_MIN_BUILD,
    )
)
register(
    CmdletSpec(
        "Remove-SmbServerAlternativePort",
        (
            _transport(True, many=True),
            Param("Port", UINT16S, True),
            Param("IncludeHidden", SWITCH),
            Param("Force", SWITCH),
            Param("PassThru", SWITCH),
        ),
        remove_alternative_port,
        changes_state=True,
        prompts_without_force=True,
        output_class=_PORT_CLASS,
        min_build=ALTERNATIVE_PORTS_MIN_BUILD,
    )
)
register(
    CmdletSpec(
        "New-SmbServerCertificateMapping",
        (
            Param("Name", STRING, True),
            Param("Thumbprint", STRING, True),
            Param("StoreName", STRING, True),
            Param("Subject", STRING),
            Param("DisplayName", STRING),
            Param("Type", ENUM, enum=("QUIC",), enum_type="SmbServerCertificateMapping.Type"),
            Param("Flags", ENUM, enum=("None", "AllowNamedPipe", "DefaultCert"), enum_type="Flags"),
            Param("RequireClientAuthentication", BOOL),
            Param("SkipClientCertificateAccessCheck", BOOL),
            Param("Force", SWITCH),
        ),
        new_certificate_mapping,
        changes_state=True,
        output_class=_CERT_CLASS,
    )
)
register(
    CmdletSpec(
        "Get-SmbServerCertificateMapping",
        (Param("Name", STRINGS), Param("IncludeHidden", SWITCH)),
        get_certificate_mapping,
        output_class=_CERT_CLASS,
    )
)
register(
    CmdletSpec(
        "Remove-SmbServerCertificateMapping",
        (
            Param("Name", STRINGS, True),
            Param("Thumbprint", STRINGS),
            Param("IncludeHidden", SWITCH),
            Param("Force", SWITCH),
            Param("PassThru", SWITCH),
        ),
        remove_certificate_mapping,
        changes_state=True,
        prompts_without_force=True,
        output_class=_CERT_CLASS,
    )
)
register(
    CmdletSpec(
        "Set-SmbServerCertificateMapping",
        (
            Param("Name", STRINGS, True),
            Param("Thumbprint", STRING),
            Param("StoreName", STRING),
            Param("RequireClientAuthentication", BOOL),
            Param("SkipClientCertificateAccessCheck", BOOL),
            Param("PassThru", SWITCH),
        ),
        set_certificate_mapping,
        changes_state=True,
        prompts_without_force=True,
        output_class=_CERT_CLASS,
    )
)
for _name, _handler, _adds in (
    ("Grant-SmbClientAccessToServer", grant_client_access, True),
    ("Block-SmbClientAccessToServer", block_client_access, True),
    ("Revoke-SmbClientAccessToServer", revoke_client_access, False),
    ("Unblock-SmbClientAccessToServer", unblock_client_access, False),
):
    register(
        CmdletSpec(
            _name,
            _access_params(_adds),
            _handler,
            changes_state=True,
            prompts_without_force=True,
            output_class=_ACCESS_CLASS,
        )
    )
register(
    CmdletSpec(
        "Get-SmbClientAccessToServer",
        (Param("Name", STRINGS, True),),
        get_client_access,
        output_class=_ACCESS_CLASS,
    )
)


# -- server configuration ---------------------------------------------------------------------------
def get_server_configuration(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return [dict(state.server_configuration)]


def set_server_configuration(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    if "EnableSMBQUIC" in args:
        state.server_configuration["EnableSMBQUIC"] = args["EnableSMBQUIC"]
    return []


register(
    CmdletSpec("Get-SmbServerConfiguration", (), get_server_configuration, output_class="MSFT_SmbServerConfiguration")
)
register(
    CmdletSpec(
        "Set-SmbServerConfiguration",
        (Param("EnableSMBQUIC", BOOL), Param("Force", SWITCH)),
        set_server_configuration,
        changes_state=True,
        prompts_without_force=True,
    )
)
