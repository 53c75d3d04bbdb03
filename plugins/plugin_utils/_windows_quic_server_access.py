# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``quic_server_access``: the SMB over QUIC certificate mappings and client access control of a Windows server.

This is a private plugin_utils file: its API may change without notice.

A certificate mapping (``New-SmbServerCertificateMapping``) binds the server name clients use to a certificate
in the machine's store; without one the QUIC listener does not serve. Client access control keeps per server
name a list of client certificates allowed (``Grant-``) or denied (``Block-SmbClientAccessToServer``); ``Revoke-``
drops an entry. A mapping that exists with another certificate is removed and created again.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Tuple

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
_ACCESS_VERBS = {"grant": "Grant-SmbClientAccessToServer", "block": "Block-SmbClientAccessToServer"}
# What Get-SmbClientAccessToServer reports for an entry, by the verb that made it.
_ACCESS_STATES = {
    "allow": "grant",
    "grant": "grant",
    "granted": "grant",
    "deny": "block",
    "block": "block",
    "blocked": "block",
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
    return (name.lower(), identifier_type.upper(), identifier.lower())


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
    access = {}
    if len(calls) > 1:
        for row in output_of(results[1], calls[1], where):
            raw_state = str(row.get("AccessControlType") or "").lower()
            key = _access_key(
                str(row.get("Name") or ""), str(row.get("IdentifierType") or ""), str(row.get("Identifier") or "")
            )
            access[key] = {
                "name": str(row.get("Name") or ""),
                "identifier_type": str(row.get("IdentifierType") or "").lower(),
                "identifier": str(row.get("Identifier") or ""),
                "access": _ACCESS_STATES.get(raw_state, raw_state),
            }
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
    new = CmdletCall("New-SmbServerCertificateMapping", {**parameters, "Force": True})
    if existing:
        return [CmdletCall("Remove-SmbServerCertificateMapping", {"Name": existing["name"], "Force": True}), new]
    return [new]


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
    access = wanted.get("access", "grant")
    if access == "revoke":
        return [CmdletCall("Revoke-SmbClientAccessToServer", {**parameters, "Force": True})] if existing else []
    if existing and existing["access"] == access:
        return []
    # Grant and Block set the entry's access whether or not it exists (an allowed client can be blocked directly).
    return [CmdletCall(_ACCESS_VERBS[access], {**parameters, "Force": True})]


def plan_access(state_now: Mapping[str, Any], args: Mapping[str, Any]) -> List[CmdletCall]:
    calls: List[CmdletCall] = []
    for mapping in args.get("certificate_mappings") or []:
        calls.extend(_mapping_calls(state_now["certificate_mappings"], mapping))
    for entry in args.get("client_access") or []:
        calls.extend(_access_calls(state_now["client_access"], entry))
    return calls


def predict(state_now: Mapping[str, Any], changes: List[CmdletCall]) -> Dict[str, Any]:
    """The state ``changes`` would leave (check mode), in parse_state's shape."""
    mappings = dict(state_now["certificate_mappings"])
    access = dict(state_now["client_access"])
    for call in changes:
        parameters = call.parameters
        if call.command == "New-SmbServerCertificateMapping":
            mappings[parameters["Name"].lower()] = {
                "name": parameters["Name"],
                "thumbprint": parameters["Thumbprint"],
                "store_name": parameters["StoreName"],
                "require_client_authentication": bool(parameters.get("RequireClientAuthentication")),
            }
        elif call.command == "Remove-SmbServerCertificateMapping":
            mappings.pop(parameters["Name"].lower(), None)
        else:
            key = _access_key(parameters["Name"], parameters["IdentifierType"], parameters["Identifier"])
            if call.command == "Revoke-SmbClientAccessToServer":
                access.pop(key, None)
            else:
                verb = "grant" if call.command.startswith("Grant") else "block"
                access[key] = {
                    "name": parameters["Name"],
                    "identifier_type": parameters["IdentifierType"].lower(),
                    "identifier": parameters["Identifier"],
                    "access": verb,
                }
    return {"certificate_mappings": mappings, "client_access": access}


def _public(state: Mapping[str, Any]) -> dict:
    return {
        "certificate_mappings": sorted(state["certificate_mappings"].values(), key=lambda m: m["name"].lower()),
        "client_access": sorted(state["client_access"].values(), key=lambda a: (a["name"].lower(), a["identifier"])),
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
        lambda state_now: plan_access(state_now, args),
        check_mode,
        **({"session_factory": session_factory} if session_factory else {}),
    )
    before = _public(outcome.before)
    after = _public(predict(outcome.before, outcome.changes)) if check_mode else _public(outcome.after)
    if not check_mode and outcome.changes and plan_access(outcome.after, args):
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
