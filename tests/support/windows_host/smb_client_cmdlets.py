"""SMB client cmdlets: mappings with alternative ports, and the client configuration.

Facts modelled (Microsoft's SmbShare documentation for Windows Server 2025 / Windows 11 24H2):

- ``New-SmbMapping [-LocalPath] [-RemotePath] ... -TcpPort|-QuicPort|-RdmaPort <UInt16>`` maps a share,
  reaching the server on another port. One alternative port per mapping: the provider refuses two
  port parameters, or a port that contradicts ``-TransportType``. A drive letter can be used once.
- ``Get-SmbMapping`` and ``Remove-SmbMapping`` filter on LocalPath/RemotePath (wildcards allowed);
  Remove asks for confirmation unless ``-Force``.
- ``Set-SmbClientConfiguration -EnableSMBQUIC $false`` turns the QUIC client off; it asks for
  confirmation unless ``-Force``. ``Get-SmbClientConfiguration`` returns one object.
"""

from __future__ import annotations

import re
from typing import Any

from .binding import BOOL, CREDENTIAL, ENUM, STRING, STRINGS, SWITCH, UINT16, Param
from .catalog import CmdletSpec, register
from .cmdlet_errors import cim_not_found, invalid_parameter, win32_error
from .state import WindowsState
from .wildcard import has_wildcard, wildcard_match

MAPPING_TRANSPORTS = ("None", "TCP", "QUIC")
_MAPPING_CLASS = "MSFT_SmbMapping"
_GLOBAL_CLASS = "MSFT_SmbGlobalMapping"
_UNC = re.compile(r"^\\\\[^\\/]+\\[^\\/]+")
_DRIVE = re.compile(r"^[A-Za-z]:$")
_PORT_PARAMS = ("TcpPort", "QuicPort", "RdmaPort")


def _check_mapping(args: dict[str, Any], command: str) -> None:
    remote = args.get("RemotePath", "")
    if not remote:
        raise invalid_parameter(command)
    if not _UNC.match(remote):
        raise win32_error(command, 67, "The network name cannot be found.", "ObjectNotFound")
    local = args.get("LocalPath", "")
    if local and not _DRIVE.match(local):
        raise win32_error(command, 1200, "The specified device name is invalid.", "InvalidArgument")
    ports = [name for name in _PORT_PARAMS if args.get(name)]
    if len(ports) > 1:
        raise invalid_parameter(command)
    transport = args.get("TransportType")
    if ports and transport not in (None, "None"):
        implied = "QUIC" if ports[0] == "QuicPort" else "TCP"
        if implied != transport:
            raise invalid_parameter(command)


def _new(mappings: list[dict[str, Any]], args: dict[str, Any], command: str) -> dict[str, Any]:
    _check_mapping(args, command)
    local = args.get("LocalPath", "")
    if local and any(m["LocalPath"].lower() == local.lower() for m in mappings):
        raise win32_error(command, 85, "The local device name is already in use.", "ResourceExists")
    if not local:
        # A deviceless connection to the same share is reused and takes the new settings.
        mappings[:] = [m for m in mappings if m["LocalPath"] or m["RemotePath"].lower() != args["RemotePath"].lower()]
    # Without -TransportType the mapping reads back "None" (assumed) and the client tries TCP first.
    mapping = {
        "Status": "OK",
        "LocalPath": local,
        "RemotePath": args["RemotePath"],
        "TransportType": args.get("TransportType", "None"),
        "TcpPort": args.get("TcpPort", 0),
        "QuicPort": args.get("QuicPort", 0),
        "RdmaPort": args.get("RdmaPort", 0),
        "Persistent": args.get("Persistent", False),
        "RequireIntegrity": args.get("RequireIntegrity", False),
        "RequirePrivacy": args.get("RequirePrivacy", False),
        "UseWriteThrough": args.get("UseWriteThrough", False),
        "BlockNTLM": args.get("BlockNTLM", False),
        "CompressNetworkTraffic": int(bool(args.get("CompressNetworkTraffic", False))),
        "SkipCertificateCheck": args.get("SkipCertificateCheck", False),
        "GlobalMapping": False,
    }
    mappings.append(mapping)
    return mapping


def new_mapping(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    mapping = _new(state.smb_mappings, args, command)
    mapping["UserName"] = args.get("UserName", "")  # kept for tests; not a property of MSFT_SmbMapping
    return [dict(mapping)]


def new_global_mapping(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    mapping = _new(state.global_mappings, args, command)
    mapping["UserName"] = args["Credential"]["UserName"]  # kept for tests; the password is not kept
    return [dict(mapping)]


def _query_mappings(
    state: WindowsState, args: dict[str, Any], command: str, cim_class: str = _MAPPING_CLASS
) -> list[dict[str, Any]]:
    found = list(state.global_mappings if cim_class == _GLOBAL_CLASS else state.smb_mappings)
    for prop in ("LocalPath", "RemotePath"):
        patterns = args.get(prop)
        if patterns is None:
            continue
        kept = [m for m in found if any(wildcard_match(p, m[prop]) for p in patterns)]
        for pattern in patterns:
            if not has_wildcard(pattern) and not any(wildcard_match(pattern, m[prop]) for m in kept):
                raise cim_not_found(command, cim_class, prop, pattern)
        found = kept
    return found


def get_mapping(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return [dict(m) for m in _query_mappings(state, args, command)]


def remove_mapping(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    for mapping in _query_mappings(state, args, command):
        state.smb_mappings.remove(mapping)
    return []


def get_global_mapping(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return [dict(m) for m in _query_mappings(state, args, command, _GLOBAL_CLASS)]


def remove_global_mapping(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    for mapping in _query_mappings(state, args, command, _GLOBAL_CLASS):
        state.global_mappings.remove(mapping)
    return []


def get_client_configuration(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return [dict(state.client_configuration)]


_CLIENT_SETTINGS = (
    "EnableSMBQUIC",
    "ForceSMBEncryptionOverQuic",
    "RequireSecuritySignature",
    "EnableInsecureGuestLogons",
)


def set_client_configuration(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    for name in _CLIENT_SETTINGS:
        if name in args:
            state.client_configuration[name] = args[name]
    return []


register(
    CmdletSpec(
        "New-SmbMapping",
        (
            Param("LocalPath", STRING),
            Param("RemotePath", STRING),
            Param("UserName", STRING),
            Param("Password", STRING),
            Param("Persistent", BOOL),
            Param("SaveCredentials", SWITCH),
            Param("HomeFolder", SWITCH),
            Param("RequireIntegrity", BOOL),
            Param("RequirePrivacy", BOOL),
            Param("UseWriteThrough", BOOL),
            Param("TransportType", ENUM, enum=MAPPING_TRANSPORTS, enum_type="SmbMapping.TransportType"),
            Param("SkipCertificateCheck", SWITCH),
            Param("CompressNetworkTraffic", BOOL),
            Param("GlobalMapping", SWITCH),
            Param("BlockNTLM", BOOL),
            Param("TcpPort", UINT16),
            Param("QuicPort", UINT16),
            Param("RdmaPort", UINT16),
        ),
        new_mapping,
        changes_state=True,
        output_class=_MAPPING_CLASS,
    )
)
register(
    CmdletSpec(
        "Get-SmbMapping",
        (Param("LocalPath", STRINGS), Param("RemotePath", STRINGS)),
        get_mapping,
        output_class=_MAPPING_CLASS,
    )
)
register(
    CmdletSpec(
        "New-SmbGlobalMapping",
        (
            Param("LocalPath", STRING),
            Param("RemotePath", STRING, True),
            Param("Credential", CREDENTIAL, True),
            Param("Persistent", BOOL),
            Param("RequireIntegrity", BOOL),
            Param("RequirePrivacy", BOOL),
            Param("UseWriteThrough", BOOL),
            Param("FullAccess", STRINGS),
            Param("DenyAccess", STRINGS),
            Param("TransportType", ENUM, enum=MAPPING_TRANSPORTS, enum_type="SmbGlobalMapping.TransportType"),
            Param("SkipCertificateCheck", SWITCH),
            Param("CompressNetworkTraffic", BOOL),
            Param("BlockNTLM", BOOL),
            Param("TcpPort", UINT16),
            Param("QuicPort", UINT16),
            Param("RdmaPort", UINT16),
        ),
        new_global_mapping,
        changes_state=True,
        output_class=_GLOBAL_CLASS,
    )
)
register(
    CmdletSpec(
        "Get-SmbGlobalMapping",
        (Param("LocalPath", STRINGS), Param("RemotePath", STRINGS)),
        get_global_mapping,
        output_class=_GLOBAL_CLASS,
    )
)
register(
    CmdletSpec(
        "Remove-SmbGlobalMapping",
        (Param("LocalPath", STRINGS), Param("RemotePath", STRINGS), Param("Force", SWITCH)),
        remove_global_mapping,
        changes_state=True,
        prompts_without_force=True,
    )
)
register(
    CmdletSpec(
        "Remove-SmbMapping",
        (
            Param("LocalPath", STRINGS),
            Param("RemotePath", STRINGS),
            Param("UpdateProfile", SWITCH),
            Param("Force", SWITCH),
        ),
        remove_mapping,
        changes_state=True,
        prompts_without_force=True,
    )
)
register(
    CmdletSpec("Get-SmbClientConfiguration", (), get_client_configuration, output_class="MSFT_SmbClientConfiguration")
)
register(
    CmdletSpec(
        "Set-SmbClientConfiguration",
        (*(Param(name, BOOL) for name in _CLIENT_SETTINGS), Param("Force", SWITCH)),
        set_client_configuration,
        changes_state=True,
        prompts_without_force=True,
    )
)
