# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``windows`` backend of ``server_ports`` and ``server_ports_info``: SMB over QUIC alternative ports.

This is a private plugin_utils file: its API may change without notice.

Windows Server 2025 can move only its SMB over QUIC listener (``*-SmbServerAlternativePort -TransportType
QUIC``). Each QUIC alternative port gets an inbound UDP firewall rule named
``smb-alternative-port-quic-<port>``, created with the port and removed with it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.smb.alternative_ports.plugins.module_utils._plan import (
    apply_plan,
    format_table,
    plan_changes,
    table,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import CallResult, CmdletCall
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import (
    WindowsTaskError,
    describe_calls,
    output_of,
    read_apply_read,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget

WINDOWS_REFUSAL = (
    "Windows can move only its SMB over QUIC listener; TCP and RDMA listening ports cannot be changed on Windows"
)
FIREWALL_RULE_PREFIX = "smb-alternative-port-quic-"

_PORT_PROPERTIES = ["TransportType", "Port", "EnableInstances"]
_RULE_PROPERTIES = ["Name", "DisplayName", "Direction", "Action", "Enabled"]
_INSTANCES = {"default": "Default", "none": "None"}


def refuse_non_quic(ports: List[Mapping[str, Any]], where: str = "") -> None:
    """Refuse TCP and RDMA server ports, and ports out of range, before any connection is made, naming each one."""
    prefix = f"{where}: " if where else ""
    for index, entry in enumerate(ports):
        port = entry.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise WindowsTaskError(f"{prefix}ports[{index}].port: {port!r} is not a port; use 1-65535")
    refused = [f"{p.get('transport')}/{p.get('port')}" for p in ports if str(p.get("transport", "")).lower() != "quic"]
    if refused:
        raise WindowsTaskError(
            f"{prefix}the windows backend cannot configure server port(s) {', '.join(refused)}: {WINDOWS_REFUSAL}. "
            "Use QUIC alternative ports on Windows servers, and point clients at other TCP ports with "
            "smb.alternative_ports.client_mapping or client_port_policy"
        )


def firewall_rule_name(port: int) -> str:
    return f"{FIREWALL_RULE_PREFIX}{port}"


def read_calls(firewall: bool) -> List[CmdletCall]:
    calls = [CmdletCall("Get-SmbServerAlternativePort", {}, _PORT_PROPERTIES)]
    if firewall:
        calls.append(CmdletCall("Get-NetFirewallRule", {"Name": FIREWALL_RULE_PREFIX + "*"}, _RULE_PROPERTIES))
    return calls


def parse_state(results: List[CallResult], calls: List[CmdletCall], where: str) -> Dict[str, Any]:
    """``{"ports": [PortEntry dicts, QUIC only], "other": [non-QUIC rows], "rules": {port: name}}``."""
    if len(results) < len(calls):
        raise WindowsTaskError(
            f"{where}: could not read the alternative ports back ({len(results)} of {len(calls)} reads ran)"
        )
    ports, other = [], []
    for row in output_of(results[0], calls[0], where):
        entry = {
            "transport": str(row.get("TransportType") or "").lower(),
            "port": int(row.get("Port") or 0),
            "instances": str(row.get("EnableInstances") or "Default").lower(),
        }
        (ports if entry["transport"] == "quic" else other).append(entry)
    rules: Dict[int, str] = {}
    if len(calls) > 1:
        for row in output_of(results[1], calls[1], where):
            name = str(row.get("Name") or "")
            suffix = name[len(FIREWALL_RULE_PREFIX) :]
            if name.startswith(FIREWALL_RULE_PREFIX) and suffix.isdigit():
                rules[int(suffix)] = name
    return {"ports": table(ports), "other": other, "rules": rules}


def change_calls(plan: List[dict], after_ports: List[int], rules: Dict[int, str], firewall: bool) -> List[CmdletCall]:
    """The changing calls for ``plan``, with the firewall rule of each port opened before and closed after it."""
    calls: List[CmdletCall] = []
    wanted_rules = set(after_ports) if firewall else set()
    for step in plan:
        port = step["port"]
        identity = {"TransportType": "QUIC", "Port": port}
        if step["action"] in ("add", "change") and port in wanted_rules and port not in rules:
            calls.append(_new_rule(port))
        if step["action"] == "add":
            calls.append(
                CmdletCall(
                    "New-SmbServerAlternativePort",
                    {**identity, "EnableInstances": _INSTANCES[step["instances"]], "Force": True},
                )
            )
        elif step["action"] == "change":
            calls.append(
                CmdletCall(
                    "Set-SmbServerAlternativePort",
                    {**identity, "EnableInstances": _INSTANCES[step["instances"]], "Force": True},
                )
            )
        else:
            calls.append(CmdletCall("Remove-SmbServerAlternativePort", {**identity, "Force": True}))
    if firewall:
        planned = {step["port"] for step in plan if step["action"] != "remove"}
        # A port that stays but lost its rule gets it back; a rule of ours for a port that is gone goes.
        calls.extend(_new_rule(port) for port in sorted(wanted_rules - planned - set(rules)))
        calls.extend(
            CmdletCall("Remove-NetFirewallRule", {"Name": rules[port]}) for port in sorted(set(rules) - wanted_rules)
        )
    return calls


def run_server_ports(target: WinRMTarget, args: Mapping[str, Any], check_mode: bool, session_factory=None) -> dict:
    """Bring the host's QUIC alternative ports to what ``args`` asks for; the result shape is the contract's."""
    ports = list(args.get("ports") or [])
    refuse_non_quic(ports, target.host)
    if str(args.get("standard_ports") or "keep") == "close":
        raise WindowsTaskError(
            f"{target.host}: the windows backend cannot close the standard SMB ports (445, 443, 5445): "
            "leave standard_ports at keep and block them with the Windows firewall if you must"
        )
    state = str(args.get("state") or "present")
    exclusive = bool(args.get("exclusive"))
    firewall = args.get("firewall", True) is not False
    calls = read_calls(firewall)
    desired = [
        {"transport": "quic", "port": int(p["port"]), "instances": str(p.get("instances") or "default").lower()}
        for p in ports
    ]
    plan_box: Dict[str, list] = {}

    def plan(state_now: Dict[str, Any]) -> List[CmdletCall]:
        steps = plan_changes(state_now["ports"], desired, state=state, exclusive=exclusive)
        after_ports = [entry.port for entry in apply_plan(state_now["ports"], steps)]
        plan_box["plan"] = steps
        return change_calls(steps, after_ports, state_now["rules"], firewall)

    outcome = read_apply_read(
        target,
        calls,
        lambda results: parse_state(results, calls, target.label),
        plan,
        check_mode,
        **({"session_factory": session_factory} if session_factory else {}),
    )
    steps = plan_box["plan"]
    before = outcome.before["ports"]
    after = table(apply_plan(before, steps)) if check_mode else outcome.after["ports"]
    result = {
        "changed": bool(outcome.changes),
        "backend": "windows",
        "before": before,
        "after": after,
        "plan": steps,
        "commands": describe_calls(outcome.changes),
        "diff": {"before": format_table(before), "after": format_table(after)},
    }
    if firewall:
        # In check mode: the rules the run would leave, one per port of the predicted table.
        result["firewall_rules"] = _predicted_rules(after) if check_mode else sorted(outcome.after["rules"].values())
    if not check_mode and outcome.changes and table(after) != table(apply_plan(before, steps)):
        raise WindowsTaskError(
            f"{target.label}: after the change the host reports {format_table(after).strip() or 'no ports'} "
            f"instead of {format_table(apply_plan(before, steps)).strip() or 'no ports'}",
            result=result,
        )
    return result


def run_server_ports_info(target: WinRMTarget, args: Optional[Mapping[str, Any]] = None, session_factory=None) -> dict:
    """Read the host's alternative ports (one executor run); never changes anything."""
    firewall = (args or {}).get("firewall", True) is not False
    calls = read_calls(firewall)
    outcome = read_apply_read(
        target,
        calls,
        lambda results: parse_state(results, calls, target.label),
        lambda _state: [],
        True,
        **({"session_factory": session_factory} if session_factory else {}),
    )
    result = {"changed": False, "backend": "windows", "ports": outcome.before["ports"]}
    if firewall:
        result["firewall_rules"] = sorted(outcome.before["rules"].values())
    return result


def _predicted_rules(after: List[dict]) -> List[str]:
    return sorted(firewall_rule_name(entry["port"]) for entry in after)


def _new_rule(port: int) -> CmdletCall:
    return CmdletCall(
        "New-NetFirewallRule",
        {
            "Name": firewall_rule_name(port),
            "DisplayName": f"SMB over QUIC alternative port {port} (UDP-In)",
            "Direction": "Inbound",
            "Protocol": "UDP",
            "LocalPort": str(port),
            "Action": "Allow",
        },
    )
