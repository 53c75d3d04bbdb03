# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``quic_server_access``: the SMB over QUIC certificate mappings and client access control of a Windows server.

This is a private plugin_utils file: its API may change without notice.

A certificate mapping (``New-SmbServerCertificateMapping``) binds the server name clients use to a certificate
in the machine's store; without one the QUIC listener does not serve. A renewed certificate is put on the
existing mapping with ``Set-SmbServerCertificateMapping`` (Microsoft's SMB over QUIC guide), which keeps the
mapping's access entries; removing and re-creating it would drop them.

Client access control keeps, per certificate mapping, allow entries (``Grant-``, undone by ``Revoke-``) and
deny entries (``Block-``, undone by ``Unblock-SmbClientAccessToServer``). The ``-Name`` of those cmdlets must
name an existing certificate mapping. ``access: grant`` leaves one allow entry and no deny entry, ``block`` one
deny entry and no allow entry, ``revoke`` neither.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Set, Tuple

from ansible_collections.smb.alternative_ports.plugins.module_utils._cim_enums import UnknownEnumValue, enum_name
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import CallResult, CmdletCall
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import (
    WindowsTaskError,
    describe_calls,
    output_of,
    read_apply_read,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget

_MAPPING_PROPERTIES = ["Name", "Thumbprint", "StoreName", "RequireClientAuthentication"]
_ACCESS_PROPERTIES = ["Name", "IdentifierType", "Identifier", "AccessControlType"]
_IDENTIFIER_TYPES = {"sha256": "SHA256", "issuer": "ISSUER"}
# The AccessControlType of an entry, and the cmdlets that add and remove one.
_ALLOW, _DENY = "allow", "deny"
_ADD = {_ALLOW: "Grant-SmbClientAccessToServer", _DENY: "Block-SmbClientAccessToServer"}
_REMOVE = {_ALLOW: "Revoke-SmbClientAccessToServer", _DENY: "Unblock-SmbClientAccessToServer"}
# What each ``access`` choice leaves on the host.
_WANTED = {"grant": {_ALLOW}, "block": {_DENY}, "revoke": set()}
_ACCESS_WORD = {_ALLOW: "grant", _DENY: "block"}
_ENTRY_OF_COMMAND = {
    "Grant-SmbClientAccessToServer": (_ALLOW, True),
    "Block-SmbClientAccessToServer": (_DENY, True),
    "Revoke-SmbClientAccessToServer": (_ALLOW, False),
    "Unblock-SmbClientAccessToServer": (_DENY, False),
}


def check_args(args: Mapping[str, Any]) -> List[str]:
    problems = []
    for index, mapping in enumerate(args.get("certificate_mappings") or []):
        if not mapping.get("name"):
            problems.append(f"certificate_mappings[{index}].name: give the server name clients connect to")
        if mapping.get("state", "present") == "present" and not mapping.get("thumbprint"):
            problems.append(f"certificate_mappings[{index}].thumbprint: give the certificate's thumbprint")
    for index, entry in enumerate(args.get("client_access") or []):
        if not entry.get("name") or not entry.get("identifier"):
            problems.append(f"client_access[{index}]: give the server name and the client certificate identifier")
        if str(entry.get("identifier_type", "sha256")).lower() not in _IDENTIFIER_TYPES:
            problems.append(f"client_access[{index}].identifier_type: use sha256 or issuer")
        if entry.get("access", "grant") not in ("grant", "block", "revoke"):
            problems.append(f"client_access[{index}].access: use grant, block or revoke")
    return problems


def read_calls(args: Mapping[str, Any]) -> List[CmdletCall]:
    calls = [CmdletCall("Get-SmbServerCertificateMapping", {}, _MAPPING_PROPERTIES)]
    names = sorted({str(entry["name"]) for entry in args.get("client_access") or []}, key=str.lower)
    if names:
        calls.append(CmdletCall("Get-SmbClientAccessToServer", {"Name": names}, _ACCESS_PROPERTIES))
    return calls


def _access_key(name: str, identifier_type: str, identifier: str) -> Tuple[str, str, str]:
    return (name.lower(), identifier_type.lower(), identifier.lower())


def parse_state(results: List[CallResult], calls: List[CmdletCall], where: str) -> Dict[str, Any]:
    if len(results) < len(calls):
        raise WindowsTaskError(
            f"{where}: could not read the QUIC server access settings ({len(results)} of {len(calls)} reads ran)"
        )
    mappings = {}
    for row in output_of(results[0], calls[0], where):
        name = str(row.get("Name") or "")
        mappings[name.lower()] = {
            "name": name,
            "thumbprint": str(row.get("Thumbprint") or "").upper(),
            "store_name": str(row.get("StoreName") or ""),
            "require_client_authentication": bool(row.get("RequireClientAuthentication")),
        }
    access: Dict[Tuple[str, str, str], Dict[str, Any]] = {}
    if len(calls) > 1:
        for row in output_of(results[1], calls[1], where):
            try:
                id_type = enum_name("SmbClientAccessToServer", "IdentifierType", row.get("IdentifierType"))
                control = enum_name("SmbClientAccessToServer", "AccessControlType", row.get("AccessControlType"))
            except UnknownEnumValue as error:
                raise WindowsTaskError(f"{where}: {error}") from None
            name, identifier = str(row.get("Name") or ""), str(row.get("Identifier") or "")
            entry = access.setdefault(
                _access_key(name, id_type, identifier),
                {"name": name, "identifier_type": id_type, "identifier": identifier, "controls": set()},
            )
            entry["controls"].add(control)
    return {"certificate_mappings": mappings, "client_access": access}


def _mapping_calls(current: Mapping[str, dict], wanted: Mapping[str, Any]) -> List[CmdletCall]:
    name = str(wanted["name"])
    existing = current.get(name.lower())
    if wanted.get("state", "present") == "absent":
        return (
            [CmdletCall("Remove-SmbServerCertificateMapping", {"Name": existing["name"], "Force": True})]
            if existing
            else []
        )
    parameters: Dict[str, Any] = {
        "Name": name,
        "Thumbprint": str(wanted["thumbprint"]).replace(" ", "").upper(),
        "StoreName": wanted.get("store_name") or "My",
    }
    if wanted.get("require_client_authentication") is not None:
        parameters["RequireClientAuthentication"] = bool(wanted["require_client_authentication"])
    if existing and _mapping_matches(existing, parameters):
        return []
    if existing:
        # A renewed certificate (or another store or setting): Set keeps the mapping and its access entries.
        # Set-SmbServerCertificateMapping has no -Force: -Confirm:$false keeps it from prompting.
        return [
            CmdletCall("Set-SmbServerCertificateMapping", {**parameters, "Name": existing["name"], "Confirm": False})
        ]
    return [CmdletCall("New-SmbServerCertificateMapping", {**parameters, "Force": True})]


def _mapping_matches(existing: Mapping[str, Any], parameters: Mapping[str, Any]) -> bool:
    same = (
        existing["thumbprint"] == parameters["Thumbprint"]
        and existing["store_name"].lower() == str(parameters["StoreName"]).lower()
    )
    if "RequireClientAuthentication" in parameters:
        same = same and existing["require_client_authentication"] == parameters["RequireClientAuthentication"]
    return same


def _access_calls(current: Mapping[tuple, dict], wanted: Mapping[str, Any]) -> List[CmdletCall]:
    identifier_type = _IDENTIFIER_TYPES[str(wanted.get("identifier_type", "sha256")).lower()]
    parameters = {
        "Name": str(wanted["name"]),
        "IdentifierType": identifier_type,
        "Identifier": str(wanted["identifier"]),
    }
    existing = current.get(_access_key(parameters["Name"], identifier_type, parameters["Identifier"]))
    have: Set[str] = set(existing["controls"]) if existing else set()
    if existing:
        parameters["Name"] = existing["name"]
    want = _WANTED[wanted.get("access", "grant")]
    # Remove first, so that a client moved from blocked to granted is never both for a moment longer than needed.
    calls = [CmdletCall(_REMOVE[control], {**parameters, "Force": True}) for control in sorted(have - want)]
    calls += [CmdletCall(_ADD[control], {**parameters, "Force": True}) for control in sorted(want - have)]
    return calls


def _check_access_names(state_now: Mapping[str, Any], args: Mapping[str, Any], where: str) -> None:
    """Every access entry's name must be a certificate mapping that exists, or that this task creates."""
    names = set(state_now["certificate_mappings"])
    for mapping in args.get("certificate_mappings") or []:
        key = str(mapping["name"]).lower()
        if mapping.get("state", "present") == "absent":
            names.discard(key)
        else:
            names.add(key)
    for index, entry in enumerate(args.get("client_access") or []):
        if entry.get("access", "grant") != "revoke" and str(entry["name"]).lower() not in names:
            raise WindowsTaskError(
                f"{where}: client_access[{index}].name: {entry['name']!r} is not a certificate mapping on the host; "
                "client access entries belong to a certificate mapping: add it under certificate_mappings "
                "(New-SmbServerCertificateMapping) or use the name of an existing one"
            )


def plan_access(state_now: Mapping[str, Any], args: Mapping[str, Any], where: str = "") -> List[CmdletCall]:
    _check_access_names(state_now, args, where)
    calls: List[CmdletCall] = []
    for mapping in args.get("certificate_mappings") or []:
        if mapping.get("state", "present") == "present":
            calls.extend(_mapping_calls(state_now["certificate_mappings"], mapping))
    for entry in args.get("client_access") or []:
        calls.extend(_access_calls(state_now["client_access"], entry))
    # A mapping goes last: its removal takes its access entries with it.
    for mapping in args.get("certificate_mappings") or []:
        if mapping.get("state", "present") == "absent":
            calls.extend(_mapping_calls(state_now["certificate_mappings"], mapping))
    return calls


def predict(state_now: Mapping[str, Any], changes: List[CmdletCall]) -> Dict[str, Any]:
    """The state ``changes`` would leave (check mode), in parse_state's shape."""
    mappings = {key: dict(value) for key, value in state_now["certificate_mappings"].items()}
    access = {key: {**value, "controls": set(value["controls"])} for key, value in state_now["client_access"].items()}
    for call in changes:
        parameters = call.parameters
        if call.command in ("New-SmbServerCertificateMapping", "Set-SmbServerCertificateMapping"):
            mappings[parameters["Name"].lower()] = {
                "name": parameters["Name"],
                "thumbprint": parameters["Thumbprint"],
                "store_name": parameters["StoreName"],
                "require_client_authentication": bool(parameters.get("RequireClientAuthentication")),
            }
        elif call.command == "Remove-SmbServerCertificateMapping":
            mappings.pop(parameters["Name"].lower(), None)
            access = {key: value for key, value in access.items() if key[0] != parameters["Name"].lower()}
        else:
            control, added = _ENTRY_OF_COMMAND[call.command]
            id_type = parameters["IdentifierType"].lower()
            entry = access.setdefault(
                _access_key(parameters["Name"], id_type, parameters["Identifier"]),
                {
                    "name": parameters["Name"],
                    "identifier_type": id_type,
                    "identifier": parameters["Identifier"],
                    "controls": set(),
                },
            )
            (entry["controls"].add if added else entry["controls"].discard)(control)
    return {"certificate_mappings": mappings, "client_access": access}


def _public(state: Mapping[str, Any]) -> dict:
    rows = [
        {**{key: entry[key] for key in ("name", "identifier_type", "identifier")}, "access": _ACCESS_WORD[control]}
        for entry in state["client_access"].values()
        for control in sorted(entry["controls"])
    ]
    return {
        "certificate_mappings": sorted(state["certificate_mappings"].values(), key=lambda m: m["name"].lower()),
        "client_access": sorted(rows, key=lambda a: (a["name"].lower(), a["identifier"], a["access"])),
    }


def _diff_text(public: Mapping[str, Any]) -> str:
    lines = [
        f"certificate mapping {m['name']}: {m['store_name']}\\{m['thumbprint']}\n"
        for m in public["certificate_mappings"]
    ]
    lines += [
        f"client access {a['name']}: {a['access']} {a['identifier_type']}:{a['identifier']}\n"
        for a in public["client_access"]
    ]
    return "".join(lines)


def run_quic_server_access(
    target: WinRMTarget, args: Mapping[str, Any], check_mode: bool, session_factory=None
) -> dict:
    problems = check_args(args)
    if problems:
        raise WindowsTaskError(f"{target.host}: " + "; ".join(problems))
    calls = read_calls(args)
    outcome = read_apply_read(
        target,
        calls,
        lambda results: parse_state(results, calls, target.label),
        lambda state_now: plan_access(state_now, args, target.label),
        check_mode,
        **({"session_factory": session_factory} if session_factory else {}),
    )
    before = _public(outcome.before)
    after = _public(predict(outcome.before, outcome.changes)) if check_mode else _public(outcome.after)
    if not check_mode and outcome.changes and plan_access(outcome.after, args, target.label):
        raise WindowsTaskError(
            f"{target.label}: the QUIC server access settings did not take: {_diff_text(after).strip()}"
        )
    return {
        "changed": bool(outcome.changes),
        "before": before,
        "after": after,
        "commands": describe_calls(outcome.changes),
        "diff": {"before": _diff_text(before), "after": _diff_text(after)},
    }
