# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``client_mapping``: an SMB mapping to a server on an alternative port (-TcpPort|-QuicPort|-RdmaPort).

This is a private plugin_utils file: its API may change without notice.

``scope: global`` (the default) makes a machine-wide mapping with ``New-SmbGlobalMapping -Credential``: it
serves every user and service and outlives the WinRM session. ``scope: user`` makes a ``New-SmbMapping``,
which belongs to the logon session that creates it; over WinRM that is the task's own network logon,
which ends with the task and has no credentials for a second hop to the file server.

A mapping is identified by its local path (``Z:``) or, for a deviceless mapping, by its remote path. A mapping
that exists with another remote path or port cannot be edited on Windows: it is removed, then created again.
A QUIC port is sent with ``-TransportType QUIC``; without it the client tries TCP first.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.smb.alternative_ports.plugins.module_utils._cim_enums import UnknownEnumValue, enum_label
from ansible_collections.smb.alternative_ports.plugins.module_utils._ports import is_port
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import CallResult, CmdletCall
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import (
    WindowsTaskError,
    describe_calls,
    output_of,
    read_apply_read,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget

PORT_OPTIONS = {"tcp_port": ("tcp", "TcpPort"), "quic_port": ("quic", "QuicPort"), "rdma_port": ("rdma", "RdmaPort")}
_PROPERTIES = ["LocalPath", "RemotePath", "Status", "TcpPort", "QuicPort", "RdmaPort", "TransportType"]
# scope -> (CIM class, Get, New, Remove)
_CMDLETS = {
    "global": ("SmbGlobalMapping", "Get-SmbGlobalMapping", "New-SmbGlobalMapping", "Remove-SmbGlobalMapping"),
    "user": ("SmbMapping", "Get-SmbMapping", "New-SmbMapping", "Remove-SmbMapping"),
}


def _scope(args: Mapping[str, Any]) -> str:
    return str(args.get("scope") or "global")


def read_calls(args: Mapping[str, Any]) -> List[CmdletCall]:
    return [CmdletCall(_CMDLETS[_scope(args)][1], {}, _PROPERTIES)]


def check_args(args: Mapping[str, Any]) -> Optional[str]:
    """The problem with ``args``, or None; checked before any connection."""
    remote = str(args.get("remote_path") or "")
    if not remote.startswith("\\\\") or len([part for part in remote[2:].split("\\") if part]) < 2:
        return f"remote_path {remote!r} is not a UNC path: write it as \\\\server\\share"
    local = args.get("local_path")
    if local and not (len(local) == 2 and local[0].isalpha() and local[1] == ":"):
        return f"local_path {local!r} is not a drive letter: write it as Z:"
    scope = _scope(args)
    if scope not in _CMDLETS:
        return f"scope {scope!r}: use global or user"
    if bool(args.get("username")) != bool(args.get("password")):
        return "give username and password together (the credential the mapping uses to reach the file server)"
    if scope == "global" and args.get("state", "present") == "present" and not args.get("username"):
        return (
            f"scope global needs username and password for {remote}: New-SmbGlobalMapping takes a credential, "
            "the account that the whole machine uses to reach the share"
        )
    given = [name for name in PORT_OPTIONS if args.get(name) is not None]
    if args.get("state", "present") == "present" and len(given) != 1:
        shown = ", ".join(given) if given else "none"
        return f"name exactly one of tcp_port, quic_port, rdma_port for {remote} (given: {shown})"
    for name in given:
        if not is_port(args[name]):
            return f"{name} {args[name]} is out of range: use 1-65535"
        transport = args.get("transport")
        if transport and transport != PORT_OPTIONS[name][0]:
            return f"transport {transport} does not agree with {name}: drop transport or use {PORT_OPTIONS[name][0]}"
    return None


def desired_mapping(args: Mapping[str, Any]) -> Dict[str, Any]:
    """The mapping ``args`` describes, in the shape ``current_mappings`` returns."""
    port_option = next((name for name in PORT_OPTIONS if args.get(name) is not None), None)
    return {
        "local_path": (args.get("local_path") or "").upper() or None,
        "remote_path": args["remote_path"],
        "transport": PORT_OPTIONS[port_option][0] if port_option else None,
        "port": int(args[port_option]) if port_option else None,
    }


def current_mappings(results: List[CallResult], where: str, args: Mapping[str, Any]) -> List[Dict[str, Any]]:
    read = read_calls(args)[0]
    cim_class = _CMDLETS[_scope(args)][0]
    if not results:
        raise WindowsTaskError(f"{where}: could not read the SMB mappings")
    mappings = []
    for row in output_of(results[0], read, where):
        transport, port = None, None
        for _option, (name, prop) in PORT_OPTIONS.items():
            if row.get(prop):
                transport, port = name, int(row[prop])
        try:
            status = enum_label(cim_class, "Status", row.get("Status")) or None
        except UnknownEnumValue as error:
            raise WindowsTaskError(f"{where}: {error}") from None
        mappings.append(
            {
                "local_path": (row.get("LocalPath") or "").upper() or None,
                "remote_path": row.get("RemotePath") or "",
                "transport": transport,
                "port": port,
                "status": status,
            }
        )
    return mappings


def find_mapping(mappings: List[Dict[str, Any]], wanted: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The existing mapping with the same identity: same local path, or for deviceless ones the same remote path."""
    for mapping in mappings:
        if wanted["local_path"]:
            if mapping["local_path"] == wanted["local_path"]:
                return mapping
        elif not mapping["local_path"] and mapping["remote_path"].lower() == wanted["remote_path"].lower():
            return mapping
    return None


def _same(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return (
        existing["remote_path"].lower() == wanted["remote_path"].lower()
        and existing["transport"] == wanted["transport"]
        and existing["port"] == wanted["port"]
    )


def _remove_call(mapping: Mapping[str, Any], args: Mapping[str, Any]) -> CmdletCall:
    parameters: Dict[str, Any] = (
        {"LocalPath": mapping["local_path"]} if mapping["local_path"] else {"RemotePath": mapping["remote_path"]}
    )
    parameters["Force"] = True
    if _scope(args) == "user" and args.get("persistent"):
        parameters["UpdateProfile"] = True  # also forget the mapping across logons
    return CmdletCall(_CMDLETS[_scope(args)][3], parameters)


def _new_call(wanted: Mapping[str, Any], args: Mapping[str, Any]) -> CmdletCall:
    parameters: Dict[str, Any] = {}
    if wanted["local_path"]:
        parameters["LocalPath"] = wanted["local_path"]
    parameters["RemotePath"] = wanted["remote_path"]
    parameters[PORT_OPTIONS[f"{wanted['transport']}_port"][1]] = wanted["port"]
    if wanted["transport"] == "quic":
        parameters["TransportType"] = "QUIC"  # without it the client tries TCP first
    parameters["Persistent"] = bool(args.get("persistent"))
    if args.get("username"):
        secret = {"UserName": str(args["username"]), "Password": str(args["password"])}
        if _scope(args) == "global":
            parameters["Credential"] = {"PSCredential": secret}  # the executor builds the PSCredential
        else:
            parameters["UserName"], parameters["Password"] = secret["UserName"], secret["Password"]
    return CmdletCall(_CMDLETS[_scope(args)][2], parameters)


def plan_mapping(mappings: List[Dict[str, Any]], args: Mapping[str, Any]) -> List[CmdletCall]:
    wanted = desired_mapping(args)
    existing = find_mapping(mappings, wanted)
    if args.get("state", "present") == "absent":
        if existing is None:
            return []
        if wanted["port"] is not None and not _same(existing, wanted):
            return []  # a mapping of that path exists but is not the one described: leave it alone
        return [_remove_call(existing, args)]
    if existing is not None and _same(existing, wanted):
        return []
    calls = [_remove_call(existing, args)] if existing is not None else []
    return [*calls, _new_call(wanted, args)]


def _public(mapping: Optional[Mapping[str, Any]]) -> Optional[dict]:
    if mapping is None:
        return None
    return {key: mapping[key] for key in ("local_path", "remote_path", "transport", "port", "status")}


def _diff_text(mapping: Optional[Mapping[str, Any]]) -> str:
    if mapping is None:
        return ""
    path = mapping["local_path"] or "(deviceless)"
    return f"{path} -> {mapping['remote_path']} over {mapping['transport']}/{mapping['port']}\n"


def run_client_mapping(target: WinRMTarget, args: Mapping[str, Any], check_mode: bool, session_factory=None) -> dict:
    problem = check_args(args)
    if problem:
        raise WindowsTaskError(f"{target.host}: {problem}")
    wanted = desired_mapping(args)
    outcome = read_apply_read(
        target,
        read_calls(args),
        lambda results: current_mappings(results, target.label, args),
        lambda mappings: plan_mapping(mappings, args),
        check_mode,
        **({"session_factory": session_factory} if session_factory else {}),
    )
    before = find_mapping(outcome.before, wanted)
    if check_mode:
        after = None if args.get("state", "present") == "absent" and outcome.changes else before
        if outcome.changes and args.get("state", "present") == "present":
            after = dict(wanted, status=None)
    else:
        after = find_mapping(outcome.after, wanted)
    if not check_mode and outcome.changes:
        present = args.get("state", "present") == "present"
        if present and (after is None or not _same(after, wanted)):
            raise WindowsTaskError(
                f"{target.label}: {_CMDLETS[_scope(args)][2]} ran but {wanted['remote_path']} is not mapped as asked"
            )
        if not present and after is not None and (wanted["port"] is None or _same(after, wanted)):
            raise WindowsTaskError(f"{target.label}: {_CMDLETS[_scope(args)][3]} ran but the mapping is still there")
    return {
        "changed": bool(outcome.changes),
        "scope": _scope(args),
        "before": _public(before),
        "after": _public(after),
        "commands": describe_calls(outcome.changes),
        "diff": {"before": _diff_text(before), "after": _diff_text(after)},
    }
