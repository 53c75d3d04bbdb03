# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Linux backends (pysmbd, Samba) check on the host they run on before a change.

This is a private module_utils file: its API may change without notice.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Tuple

from ansible_collections.smb.alternative_ports.plugins.module_utils._host_firewall import (
    FirewallChange,
    HostFirewall,
    HostFirewallError,
    detect,
    port_specs,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._plan import planned_table
from ansible_collections.smb.alternative_ports.plugins.module_utils._ports_in_use import (
    PRIVILEGED_PORT_LIMIT,
    can_bind,
    foreign_holders,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import (
    BackendError,
    PortBackend,
    PortRequest,
    PortState,
)


class LocalBackend(PortBackend):
    """A backend whose server runs on this host.

    It refuses ports another process holds and low ports the server cannot bind, and keeps the host firewall
    (firewalld or nftables, see ``_host_firewall.py``) open for exactly the server's ports when ``manage_firewall``.
    Subclasses implement ``server_pids``, ``check_entries`` (what their server cannot listen on) and ``apply_ports``.
    """

    run_command: Callable[..., Tuple[int, str, str]]
    manage_firewall = False
    _host_firewall: Optional[HostFirewall] = None
    _firewall_change: Optional[FirewallChange] = None

    def apply_ports(self, state: PortState, steps: List[dict], request: PortRequest) -> PortState:
        raise NotImplementedError

    # --- the host firewall ----------------------------------------------------------------------------------
    def host_firewall(self) -> HostFirewall:
        if self._host_firewall is None:
            self._host_firewall = detect(self.run_command)
        return self._host_firewall

    def firewall_change(self, state: PortState, steps: List[dict]) -> Optional[FirewallChange]:
        """What the firewall needs for the planned table: its ports open, the removed ones closed (None: unmanaged)."""
        if not self.manage_firewall:
            return None
        removed = port_specs(step for step in steps if step["action"] == "remove")
        try:
            return self.host_firewall().plan(port_specs(planned_table(state.table, steps)), removed)
        except HostFirewallError as exc:
            raise BackendError(f"cannot read the host firewall: {exc} (fix it, or set firewall: false)") from exc

    def has_work(self, state: PortState, steps: List[dict], request: PortRequest) -> bool:
        self._firewall_change = self.firewall_change(state, steps)
        return bool(steps) or bool(self._firewall_change and self._firewall_change.changed)

    def apply(self, state: PortState, steps: List[dict], request: PortRequest) -> PortState:
        after = self.apply_ports(state, steps, request) if steps else state
        change = self._firewall_change
        if change is not None and change.changed:
            try:
                self.host_firewall().apply(change, port_specs(after.table))
            except HostFirewallError as exc:
                raise BackendError(
                    f"the ports were changed but the host firewall refused to follow: {exc}; open or close "
                    f"{', '.join(change.opened + change.closed)} by hand, or set firewall: false"
                ) from exc
        return after

    def result_fields(self, before: PortState, after: PortState, steps: List[dict], request: PortRequest) -> dict:
        if self._firewall_change is None:
            return {}
        return {"firewall": self._firewall_change.as_dict()}

    def server_pids(self) -> List[int]:
        raise NotImplementedError

    def check_entries(self, entries: List[dict]) -> List[str]:
        raise NotImplementedError

    def bind_addresses(self, step: dict, request: PortRequest) -> Optional[List[str]]:
        """The addresses the server will bind for ``step``; None when unknown (then any address conflicts)."""
        return None

    def refusals(self, state: PortState, steps: List[dict], request: PortRequest) -> List[str]:
        problems = self.check_entries([s for s in steps if s["action"] != "remove"])
        problems.extend(super().refusals(state, steps, request))
        server_pids = self.server_pids()
        for step in steps:
            if step["action"] != "add":
                continue
            addresses = self.bind_addresses(step, request)
            for holder in foreign_holders(step["transport"], step["port"], server_pids, addresses=addresses):
                problems.append(f"{holder.describe()}: stop it or pick another port")
                break
            if step["port"] < PRIVILEGED_PORT_LIMIT:
                pid = server_pids[0] if server_pids else None
                if not can_bind(step["port"], pid):
                    who = f"the running {self.name} (pid {pid})" if pid else "this process"
                    problems.append(
                        f"{step['transport']}/{step['port']}: {who} lacks CAP_NET_BIND_SERVICE to bind a port below "
                        f"{PRIVILEGED_PORT_LIMIT} (grant it, for pysmbd set pysmbd_listeners in the pysmbd role so its "
                        "unit gets the capability, or use a port of 1024 or above)"
                    )
        return problems
