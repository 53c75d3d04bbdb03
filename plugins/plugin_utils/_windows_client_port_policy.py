# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``client_port_policy``: the "Alternative Port Mappings" policy and the SMB over QUIC client switch.

This is a private plugin_utils file: its API may change without notice.

The policy is the REG_MULTI_SZ value ``AlternativePortMappings`` under
``HKLM:\\Software\\Policies\\Microsoft\\Windows\\LanmanWorkstation``, one ``server:transport:port`` per entry; the
SMB client uses the first entry whose server matches, so order matters and is kept. An entry is identified by
its server and transport: merging replaces the port of a matching entry in place and appends new ones.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.smb.alternative_ports.plugins.module_utils._ports import TRANSPORTS, is_port
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import CallResult, CmdletCall
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import (
    WindowsTaskError,
    describe_calls,
    output_of,
    read_apply_read,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget

POLICY_KEY = "HKLM:\\Software\\Policies\\Microsoft\\Windows\\LanmanWorkstation"
POLICY_VALUE = "AlternativePortMappings"


def read_calls(manage_quic: bool) -> List[CmdletCall]:
    # Get-ItemProperty fails while the key does not exist, so it comes last: in the apply-and-read-back run
    # (stop_on_error) its failure cannot keep another read from running.
    calls = [CmdletCall("Test-Path", {"Path": POLICY_KEY})]
    if manage_quic:
        calls.append(CmdletCall("Get-SmbClientConfiguration", {}, ["EnableSMBQUIC"]))
    calls.append(CmdletCall("Get-ItemProperty", {"Path": POLICY_KEY}, [POLICY_VALUE]))
    return calls


def format_entry(entry: Mapping[str, Any]) -> str:
    return f"{entry['server']}:{str(entry['transport']).lower()}:{int(entry['port'])}"


def parse_entry(text: str) -> Optional[Dict[str, Any]]:
    """``server:transport:port`` as a dict, or None for a line Windows would skip as invalid."""
    parts = str(text).strip().rsplit(":", 2)
    if len(parts) != 3 or not parts[0] or parts[1].lower() not in TRANSPORTS or not parts[2].isdigit():
        return None
    return {"server": parts[0], "transport": parts[1].lower(), "port": int(parts[2])}


def check_entries(entries: List[Mapping[str, Any]]) -> List[str]:
    """Problems with the requested entries, each naming its index; checked before any connection."""
    problems = []
    seen = set()
    for index, entry in enumerate(entries):
        server = str(entry.get("server") or "")
        if not server or any(c in server for c in ": \t\\/"):
            problems.append(
                f"entries[{index}].server {server!r}: give a host name or address without ':', '\\' or spaces"
            )
        if str(entry.get("transport") or "").lower() not in TRANSPORTS:
            problems.append(f"entries[{index}].transport {entry.get('transport')!r}: use tcp, quic or rdma")
        port = entry.get("port")
        if not is_port(port):
            problems.append(f"entries[{index}].port {port!r}: use a port from 1 to 65535")
        key = (server.lower(), str(entry.get("transport") or "").lower())
        if key in seen:
            problems.append(
                f"entries[{index}]: {server} over {key[1]} is listed twice; the client would use only the first"
            )
        seen.add(key)
    return problems


def parse_state(results: List[CallResult], calls: List[CmdletCall], where: str) -> Dict[str, Any]:
    by_command = {result.command: (result, call) for result, call in zip(results, calls)}
    if "Test-Path" not in by_command:
        raise WindowsTaskError(f"{where}: could not read the port policy")
    test_path = by_command["Test-Path"][0]
    key_exists = bool(test_path.ok and test_path.output and _truthy(test_path.output[0]))
    lines: Optional[List[str]] = None
    if key_exists:
        if "Get-ItemProperty" not in by_command:
            raise WindowsTaskError(f"{where}: could not read {POLICY_KEY}")
        rows = output_of(*by_command["Get-ItemProperty"], where)
        value = rows[0].get(POLICY_VALUE) if rows and isinstance(rows[0], dict) else None
        if value is not None:
            lines = [str(line) for line in (value if isinstance(value, list) else [value])]
    state: Dict[str, Any] = {"key_exists": key_exists, "lines": lines}
    if any(call.command == "Get-SmbClientConfiguration" for call in calls):
        if "Get-SmbClientConfiguration" not in by_command:
            raise WindowsTaskError(f"{where}: could not read the SMB client configuration")
        rows = output_of(*by_command["Get-SmbClientConfiguration"], where, absent_ok=False)
        state["quic"] = "enabled" if rows and _truthy(rows[0].get("EnableSMBQUIC")) else "disabled"
    return state


def merged_lines(current: List[str], entries: List[Mapping[str, Any]], exclusive: bool, state: str) -> List[str]:
    """The policy lines after the change; unparsable existing lines stay unless ``exclusive``."""
    wanted = [{**entry, "transport": str(entry["transport"]).lower()} for entry in entries]
    if exclusive and state == "present":
        return [format_entry(entry) for entry in wanted]

    def identity(entry: Mapping[str, Any]) -> tuple:
        return (str(entry["server"]).lower(), entry["transport"])

    by_identity = {identity(entry): entry for entry in wanted}
    lines: List[str] = []
    placed = set()
    for line in current:
        parsed = parse_entry(line)
        if parsed is None or identity(parsed) not in by_identity:
            lines.append(line)
            continue
        if state == "absent":
            continue
        if identity(parsed) in placed:
            continue  # a later duplicate of a replaced entry: the first one wins anyway
        lines.append(format_entry(by_identity[identity(parsed)]))
        placed.add(identity(parsed))
    if state == "present":
        lines.extend(format_entry(entry) for entry in wanted if identity(entry) not in placed)
    return lines


def plan_policy(state_now: Mapping[str, Any], args: Mapping[str, Any]) -> List[CmdletCall]:
    calls: List[CmdletCall] = []
    current = state_now["lines"] or []
    entries = list(args.get("entries") or [])
    exclusive = bool(args.get("exclusive"))
    state = str(args.get("state") or "present")
    if entries or exclusive:
        lines = merged_lines(current, entries, exclusive, state)
        if lines != current:
            if not lines:
                calls.append(CmdletCall("Remove-ItemProperty", {"Path": POLICY_KEY, "Name": POLICY_VALUE}))
            else:
                if not state_now["key_exists"]:
                    calls.append(CmdletCall("New-Item", {"Path": POLICY_KEY, "Force": True}))
                calls.append(
                    CmdletCall(
                        "New-ItemProperty",
                        {
                            "Path": POLICY_KEY,
                            "Name": POLICY_VALUE,
                            "PropertyType": "MultiString",
                            "Value": lines,
                            "Force": True,
                        },
                    )
                )
    quic = args.get("quic")
    if quic and state_now.get("quic") != quic:
        calls.append(CmdletCall("Set-SmbClientConfiguration", {"EnableSMBQUIC": quic == "enabled", "Force": True}))
    return calls


def run_client_port_policy(
    target: WinRMTarget, args: Mapping[str, Any], check_mode: bool, session_factory=None
) -> dict:
    entries = list(args.get("entries") or [])
    problems = check_entries(entries)
    if problems:
        raise WindowsTaskError(f"{target.host}: " + "; ".join(problems))
    calls = read_calls(bool(args.get("quic")))
    outcome = read_apply_read(
        target,
        calls,
        lambda results: parse_state(results, calls, target.label),
        lambda state_now: plan_policy(state_now, args),
        check_mode,
        **({"session_factory": session_factory} if session_factory else {}),
    )
    before = outcome.before
    if check_mode:
        after = dict(before)
        if entries or args.get("exclusive"):
            lines = merged_lines(
                before["lines"] or [], entries, bool(args.get("exclusive")), str(args.get("state") or "present")
            )
            after["lines"] = lines or None
        if args.get("quic"):
            after["quic"] = args["quic"]
    else:
        after = outcome.after
    result = {
        "changed": bool(outcome.changes),
        "before": _public(before),
        "after": _public(after),
        "commands": describe_calls(outcome.changes),
        "diff": {"before": _diff_text(before), "after": _diff_text(after)},
    }
    return result


def _public(state: Mapping[str, Any]) -> dict:
    public = {"entries": list(state.get("lines") or [])}
    if "quic" in state:
        public["quic"] = state["quic"]
    return public


def _diff_text(state: Mapping[str, Any]) -> str:
    text = "".join(f"{line}\n" for line in state.get("lines") or [])
    if "quic" in state:
        text += f"EnableSMBQUIC: {state['quic'] == 'enabled'}\n"
    return text


def _truthy(value: Any) -> bool:
    if isinstance(value, dict):  # a primitive the executor could not pass through bare
        value = next(iter(value.values()), None)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)
