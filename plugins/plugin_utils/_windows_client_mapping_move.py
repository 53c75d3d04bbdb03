# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``client_mapping_move``: a Windows client's global SMB mappings follow their servers to a new port.

This is a private plugin_utils file: its API may change without notice.

A global mapping (``New-SmbGlobalMapping -TcpPort|-QuicPort``) names its port; when the server moves, the mapping
must be removed and created again on the new port, since Windows cannot edit one. Creating it needs the credential
it reaches the server with, and Windows gives no credential back: ``-Credential`` is a parameter of
``New-SmbGlobalMapping`` only, and ``Get-SmbGlobalMapping`` (``MSFT_SmbGlobalMapping``) reports the local and remote
path, the status and the ports, no account. So the credential comes from the model: the client's
``smb_alternative_ports.client.mappings`` entry of the same identity (local path, or remote path for a deviceless
mapping). A mapping on the host that the model does not describe is reported as one that cannot be recreated
without credentials and, unless ``on_unknown=skip``, nothing changes on the client.

A mapping without a port follows the Alternative Port Mappings policy (client_port_policy), not this module.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import CmdletCall
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_mapping import (
    current_mappings,
    find_mapping,
    plan_mapping,
    read_calls,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import (
    WindowsTaskError,
    describe_calls,
    read_apply_read,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget

_GLOBAL = {"scope": "global"}
_PORT_OPTION = {"tcp": "tcp_port", "quic": "quic_port", "rdma": "rdma_port"}


def server_of(remote_path: str) -> str:
    """``fs1`` of ``\\\\fs1\\data`` (lower case: Windows compares server names without case)."""
    return remote_path.lstrip("\\").split("\\", 1)[0].lower()


def _endpoint(value: Mapping[str, Any], where: str) -> Dict[str, Any]:
    transport = str(value.get("transport") or "").lower()
    port = value.get("port")
    port = int(port) if isinstance(port, str) and port.strip().isdigit() else port  # a templated "4445"
    if transport not in _PORT_OPTION or not isinstance(port, int) or not 1 <= port <= 65535:
        raise WindowsTaskError(f"{where} must be {{transport: tcp|quic|rdma, port: 1-65535}}, not {dict(value)}")
    return {"transport": transport, "port": port}


def check_moves(moves: List[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The moves in one shape: ``{server (lower case), from: {transport, port}, to: {transport, port}}``."""
    checked = []
    for index, move in enumerate(moves):
        server = str(move.get("server") or "").strip().lower()
        if not server:
            raise WindowsTaskError(f"moves[{index}].server is empty: give the server name the UNC paths use")
        checked.append(
            {
                "server": server,
                "from": _endpoint(move.get("from") or {}, f"moves[{index}].from"),
                "to": _endpoint(move.get("to") or {}, f"moves[{index}].to"),
            }
        )
    return checked


def _move_for(mapping: Mapping[str, Any], moves: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    for move in moves:
        if (
            server_of(mapping["remote_path"]) == move["server"]
            and mapping["transport"] == move["from"]["transport"]
            and mapping["port"] == move["from"]["port"]
        ):
            return move
    return None


def _described(mapping: Mapping[str, Any], described: List[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The model's global mapping with the identity of ``mapping`` and a credential, or None."""
    wanted = {"local_path": mapping["local_path"], "remote_path": mapping["remote_path"]}
    candidates = []
    for entry in described:
        if str(entry.get("scope") or "global") != "global" or not entry.get("username") or not entry.get("password"):
            continue
        local = str(entry.get("local_path") or "").upper() or None
        candidates.append({"local_path": local, "remote_path": str(entry.get("remote_path") or ""), "entry": entry})
    found = find_mapping(candidates, wanted)
    if found is None or found["remote_path"].lower() != mapping["remote_path"].lower():
        return None
    return found["entry"]


def mapping_args(mapping: Mapping[str, Any], entry: Mapping[str, Any], endpoint: Mapping[str, Any]) -> dict:
    """client_mapping's arguments for ``mapping`` on ``endpoint``, with the model entry's credential."""
    return {
        "scope": "global",
        "local_path": mapping["local_path"],
        "remote_path": mapping["remote_path"],
        _PORT_OPTION[endpoint["transport"]]: endpoint["port"],
        "persistent": bool(entry.get("persistent")),
        "username": entry["username"],
        "password": entry["password"],
    }


def plan_moves(
    mappings: List[Dict[str, Any]], moves: List[Dict[str, Any]], described: List[Mapping[str, Any]]
) -> Dict[str, Any]:
    """``{calls, moved, unknown}``: the calls that recreate every mapping a move reaches on its new port, those
    mappings (no credential in them), and those the model gives no credential for."""
    calls: List[CmdletCall] = []
    moved, unknown = [], []
    for mapping in mappings:
        move = _move_for(mapping, moves)
        if move is None:
            continue
        shown = {
            "server": move["server"],
            "local_path": mapping["local_path"],
            "remote_path": mapping["remote_path"],
        }
        entry = _described(mapping, described)
        if entry is None:
            unknown.append({**shown, "transport": mapping["transport"], "port": mapping["port"]})
            continue
        calls.extend(plan_mapping([mapping], mapping_args(mapping, entry, move["to"])))
        moved.append({**shown, "from": move["from"], "to": move["to"]})
    return {"calls": calls, "moved": moved, "unknown": unknown}


def _unknown_text(label: str, unknown: List[Mapping[str, Any]]) -> str:
    listed = "; ".join(
        f"{row['local_path'] or '(deviceless)'} -> {row['remote_path']} on {row['transport']}/{row['port']}"
        for row in unknown
    )
    return (
        f"{label}: cannot recreate without credentials these global mappings on the new port (Windows does not give "
        f"a mapping's credential back): {listed}. Describe each in the client's smb_alternative_ports.client.mappings "
        "with username and password, or remove it, or set on_unknown=skip to leave it on the old port"
    )


def run_client_mapping_move(
    target: WinRMTarget, args: Mapping[str, Any], check_mode: bool, session_factory=None
) -> dict:
    moves = check_moves(list(args.get("moves") or []))
    described = list(args.get("mappings") or [])
    on_unknown = str(args.get("on_unknown") or "fail")
    plans: Dict[str, Any] = {}

    def plan(mappings: List[Dict[str, Any]]) -> List[CmdletCall]:
        plans.update(plan_moves(mappings, moves, described))
        if plans["unknown"] and on_unknown == "fail":
            raise WindowsTaskError(_unknown_text(target.label, plans["unknown"]), result={"unknown": plans["unknown"]})
        return plans["calls"]

    outcome = read_apply_read(
        target,
        read_calls(_GLOBAL),
        lambda results: current_mappings(results, target.label, _GLOBAL),
        plan,
        check_mode,
        **({"session_factory": session_factory} if session_factory else {}),
    )
    if not check_mode and outcome.changes:
        for row in plans["moved"]:
            found = find_mapping(outcome.after, {"local_path": row["local_path"], "remote_path": row["remote_path"]})
            if found is None or (found["transport"], found["port"]) != (row["to"]["transport"], row["to"]["port"]):
                raise WindowsTaskError(
                    f"{target.label}: New-SmbGlobalMapping ran but {row['remote_path']} is not mapped on "
                    f"{row['to']['transport']}/{row['to']['port']}"
                )
    return {
        "changed": bool(outcome.changes),
        "moved": plans["moved"],
        "unknown": plans["unknown"],
        "warnings": [_unknown_text(target.label, plans["unknown"])] if plans["unknown"] else [],
        "before": outcome.before,
        "after": outcome.after,
        "commands": describe_calls(outcome.changes),
    }
