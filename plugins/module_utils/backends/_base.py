# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one interface every server_ports backend (pysmbd, Samba, Windows) implements, and the flow that drives it.

This is a private module_utils file: its API may change without notice.

A port change is the same five steps whatever the server:

1. ``check_request``: refuse what this backend can never do, before the host is touched (Windows: TCP ports);
2. ``read``: the host's port table, plus what the backend needs to know about it (pysmbd: listener addresses);
3. ``plan``: the ordered steps (adds, changes, removes) with the standard-ports policy applied;
4. ``refusals``: every reason the plan cannot work on this host (a port in use, no QUIC certificate, ...);
5. ``apply`` (or ``predict`` in check mode): carry the steps out and return the table the host now has.

``restore_request`` turns an earlier result back into the request that puts its ``before`` table back: the entry
role's rollback. ``change_ports`` runs the steps for server_ports; ``describe_ports`` reads for server_ports_info.
Modules only build a backend and call one of those two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.smb.alternative_ports.plugins.module_utils._plan import (
    format_table,
    plan_changes,
    planned_table,
    table,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._ports import STANDARD_PORTS, port_problem


class BackendError(Exception):
    """The backend could not read or change the host; the message says what to do. ``result`` adds fields."""

    def __init__(self, message: str, result: Optional[dict] = None) -> None:
        super().__init__(message)
        self.result = result or {}


class RefusedError(BackendError):
    """The request or its plan cannot work; nothing was changed."""

    def __init__(self, problems: List[str]) -> None:
        super().__init__("refused, nothing was changed: " + "; ".join(problems))
        self.problems = problems


@dataclass
class PortRequest:
    """What server_ports was asked, in backend-neutral terms (the module's options)."""

    ports: List[dict]
    """``{transport, port, instances, address?}`` entries; ``address`` pins a pysmbd listener's address."""
    state: str = "present"
    exclusive: bool = False
    standard_ports: str = "keep"
    allow_no_listeners: bool = False
    address: str = "0.0.0.0"
    """Where new pysmbd listeners bind."""
    restoring: bool = False
    """Set by ``restore_request``: the host goes back to a table it had, so a port it listened on is not refused."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PortRequest:
        return cls(
            ports=[dict(entry) for entry in params.get("ports") or []],
            state=str(params.get("state") or "present"),
            exclusive=bool(params.get("exclusive")),
            standard_ports=str(params.get("standard_ports") or "keep"),
            allow_no_listeners=bool(params.get("allow_no_listeners")),
            address=str(params.get("address") or "0.0.0.0"),
        )

    @property
    def desired(self) -> List[dict]:
        """The requested table entries, without addresses."""
        return [
            {
                "transport": str(entry["transport"]).lower(),
                "port": entry["port"],
                "instances": str(entry.get("instances") or "default").lower(),
            }
            for entry in self.ports
        ]

    @property
    def pinned(self) -> Dict[Tuple[str, int], List[str]]:
        """(transport, port) -> the addresses the request pins for it."""
        pinned: Dict[Tuple[str, int], List[str]] = {}
        for entry in self.ports:
            if entry.get("address"):
                pinned.setdefault((str(entry["transport"]).lower(), entry["port"]), []).append(entry["address"])
        return pinned


@dataclass
class PortState:
    """A host's port table as a backend read it (or predicts it), with what else that backend tracks."""

    table: List[dict]
    details: Dict[str, Any] = field(default_factory=dict)


class PortBackend:
    """Base of every backend. Subclasses set ``name`` and implement ``read``, ``refusals`` and ``apply``."""

    name = ""

    # --- before the host is touched ---------------------------------------------------------------------------
    def check_request(self, request: PortRequest) -> List[str]:
        """Problems with the request itself that no host state can fix. The default checks the port numbers."""
        problems = []
        for index, entry in enumerate(request.ports):
            problem = port_problem(entry.get("port"), f"ports[{index}].port")
            if problem:
                problems.append(problem)
        return problems

    # --- reading and planning ---------------------------------------------------------------------------------
    def read(self) -> PortState:
        raise NotImplementedError

    def plan(self, state: PortState, request: PortRequest) -> List[dict]:
        """Steps from ``plan_changes``, then the standard-ports policy: kept out of exclusive removals, or closed."""
        return plan_with_standard_ports(
            state.table, request.desired, request.state, request.exclusive, request.standard_ports
        )

    def refusals(self, state: PortState, steps: List[dict], request: PortRequest) -> List[str]:
        """Every reason the plan cannot work on this host; the default refuses a plan that leaves no listener."""
        if not planned_table(state.table, steps) and not request.allow_no_listeners:
            return [
                "this change would leave the server with no listener at all, locking every client out "
                "(list at least one port, or set allow_no_listeners: true)"
            ]
        return []

    def has_work(self, state: PortState, steps: List[dict], request: PortRequest) -> bool:
        """Whether ``apply`` has anything to do (Windows also repairs firewall rules of ports that stay)."""
        return bool(steps)

    # --- changing ---------------------------------------------------------------------------------------------
    def predict(self, state: PortState, steps: List[dict], request: PortRequest) -> PortState:
        """The state ``apply`` would leave (check mode)."""
        return PortState(planned_table(state.table, steps))

    def apply(self, state: PortState, steps: List[dict], request: PortRequest) -> PortState:
        raise NotImplementedError

    def restore_request(self, previous: Mapping[str, Any]) -> PortRequest:
        """The request that puts back the ``before`` table of an earlier server_ports result, and only it."""
        return PortRequest(
            ports=[dict(entry) for entry in previous.get("before") or []],
            exclusive=True,
            standard_ports="close",
            allow_no_listeners=True,
            restoring=True,
        )

    # --- reporting --------------------------------------------------------------------------------------------
    def result_fields(self, before: PortState, after: PortState, steps: List[dict], request: PortRequest) -> dict:
        """Backend-specific fields of the server_ports result."""
        return {}

    def info(self, state: PortState) -> dict:
        """Backend-specific fields of the server_ports_info result."""
        return {}

    def info_extra(self, state: PortState) -> dict:
        """Fields of the server_ports_info result that every backend of a kind adds (host state beside the ports)."""
        return {}

    def diff_extra(self) -> Tuple[str, str]:
        """Lines diff mode adds after the tables (before, after): host state beside the ports, such as labels."""
        return "", ""


def plan_with_standard_ports(current, desired, state: str, exclusive: bool, standard_ports: str) -> List[dict]:
    """plan_changes, then the standard_ports policy (keep them out of exclusive removals, or close them)."""
    plan = plan_changes(current, desired, state=state, exclusive=exclusive)
    desired_keys = {(e["transport"], e["port"]) for e in desired}
    if standard_ports == "keep":
        return [
            step
            for step in plan
            if not (step["action"] == "remove" and (step["transport"], step["port"]) in STANDARD_PORTS)
            or (state == "absent" and (step["transport"], step["port"]) in desired_keys)
        ]
    planned = {(s["transport"], s["port"]) for s in plan if s["action"] == "remove"}
    for entry in table(current):
        key = (entry["transport"], entry["port"])
        if key in STANDARD_PORTS and key not in planned and (state == "absent" or key not in desired_keys):
            plan.append(dict(action="remove", **entry))
    return plan


def change_ports(backend: PortBackend, request: PortRequest, check_mode: bool, diff_mode: bool = False) -> dict:
    """Check, read, plan, refuse or apply; returns the server_ports result. Raises RefusedError before any change."""
    problems = backend.check_request(request)
    if problems:
        raise RefusedError(problems)
    before = backend.read()
    steps = backend.plan(before, request)
    has_work = backend.has_work(before, steps, request)
    if has_work:
        problems = backend.refusals(before, steps, request)
        if problems:
            raise RefusedError(problems)
    after = before
    if has_work:
        after = backend.predict(before, steps, request) if check_mode else backend.apply(before, steps, request)
    result = {
        "changed": has_work,
        "backend": backend.name,
        "before": table(before.table),
        "after": table(after.table),
        "plan": steps,
        **backend.result_fields(before, after, steps, request),
    }
    if diff_mode:
        extra_before, extra_after = backend.diff_extra()
        result["diff"] = {
            "before": format_table(before.table) + extra_before,
            "after": format_table(after.table) + extra_after,
        }
    return result


def describe_ports(backend: PortBackend) -> dict:
    """The server_ports_info result: the table and what the backend adds to it. Never changes anything."""
    state = backend.read()
    return {
        "changed": False,
        "backend": backend.name,
        "ports": table(state.table),
        **backend.info(state),
        **backend.info_extra(state),
    }
