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
from ansible_collections.smb.alternative_ports.plugins.module_utils._selinux_ports import (
    LabelChange,
    SelinuxPorts,
    SelinuxPortsError,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._selinux_ports import detect as detect_selinux
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import (
    BackendError,
    PortBackend,
    PortRequest,
    PortState,
)


class LocalBackend(PortBackend):
    """A backend whose server runs on this host.

    It refuses ports another process holds and low ports the server cannot bind, keeps the host firewall
    (firewalld, ufw or nftables, see ``_host_firewall.py``) open for exactly the server's ports when ``manage_firewall``,
    and labels the server's ports ``smbd_port_t`` in SELinux as ``selinux_mode`` says (``_selinux_ports.py``).
    Subclasses implement ``server_pids``, ``check_entries`` (what their server cannot listen on) and ``apply_ports``.

    Order of a change: new labels first (an enforcing host denies the bind otherwise), then the ports, then the
    labels of removed ports (only once nothing listens there), then the firewall. A failed port change takes the new
    labels back, so the restored server and the policy agree.
    """

    run_command: Callable[..., Tuple[int, str, str]]
    manage_firewall = False
    selinux_mode = "never"
    """``auto`` (label when SELinux is enabled), ``always`` (also when it is disabled) or ``never``."""
    selinux_label_required = False
    """Whether the server's SELinux domain may bind only ``smbd_port_t`` ports (smbd_t), so a port another service
    labelled is refused; an unconfined server (pysmbd) binds any port, and such a port keeps its type."""
    _host_firewall: Optional[HostFirewall] = None
    _firewall_change: Optional[FirewallChange] = None
    _selinux: Optional[SelinuxPorts] = None
    _label_change: Optional[LabelChange] = None

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

    # --- SELinux port labels --------------------------------------------------------------------------------
    def label_change(self, state: PortState, steps: List[dict]) -> Optional[LabelChange]:
        """The port labels the planned table needs (None: SELinux not managed here)."""
        try:
            if self._selinux is None:
                self._selinux = detect_selinux(self.run_command, self.selinux_mode)
            if self._selinux is None:
                return None
            removed = port_specs(step for step in steps if step["action"] == "remove")
            return self._selinux.plan(port_specs(planned_table(state.table, steps)), removed)
        except SelinuxPortsError as exc:
            raise BackendError(f"cannot read the SELinux port labels: {exc}") from exc

    def _label_new_ports(self) -> None:
        labels = self._label_change
        if labels is None or self._selinux is None or not labels.labelled:
            return
        try:
            self._selinux.label(labels)
        except SelinuxPortsError as exc:
            raise BackendError(
                f"SELinux refused the port labels, so nothing else was changed: {exc} (fix the policy store, or set "
                "selinux: never and label the ports yourself)"
            ) from exc

    def _take_new_labels_back(self) -> None:
        labels = self._label_change
        if labels is None or self._selinux is None or not labels.labelled:
            return
        try:
            self._selinux.undo_label(labels)
        except SelinuxPortsError:
            pass  # the port change's own error is the one to report; a stale label only allows a bind

    def _unlabel_removed_ports(self) -> None:
        labels = self._label_change
        if labels is None or self._selinux is None or not labels.unlabelled:
            return
        try:
            self._selinux.unlabel(labels)
        except SelinuxPortsError as exc:
            raise BackendError(
                f"the ports were changed but SELinux kept the labels of the removed ones: {exc}; remove them with "
                f"semanage port -d ({', '.join(labels.unlabelled)}), or set selinux: never"
            ) from exc

    # --- the flow -------------------------------------------------------------------------------------------
    def has_work(self, state: PortState, steps: List[dict], request: PortRequest) -> bool:
        self._firewall_change = self.firewall_change(state, steps)
        self._label_change = self.label_change(state, steps)
        return (
            bool(steps)
            or bool(self._firewall_change and self._firewall_change.changed)
            or bool(self._label_change and self._label_change.changed)
        )

    def apply(self, state: PortState, steps: List[dict], request: PortRequest) -> PortState:
        self._label_new_ports()
        try:
            after = self.apply_ports(state, steps, request) if steps else state
        except Exception:
            self._take_new_labels_back()
            raise
        self._unlabel_removed_ports()
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
        fields = {}
        if self._firewall_change is not None:
            fields["firewall"] = self._firewall_change.as_dict()
        if self._label_change is not None:
            fields["selinux"] = self._label_change.as_dict()
        return fields

    def info_extra(self, state: PortState) -> dict:
        """The SELinux types of the server's ports, when ``selinux_mode`` says to read them. Read-only, so in ``auto``
        a store that cannot be read is a warning (``warnings``), not a failure; ``always`` fails on it."""
        try:
            selinux = detect_selinux(self.run_command, self.selinux_mode)
            return {"selinux_labels": selinux.labels(port_specs(state.table))} if selinux else {}
        except SelinuxPortsError as exc:
            if self.selinux_mode == "always":
                raise BackendError(f"cannot read the SELinux port labels: {exc}") from exc
            return {"warnings": [f"the SELinux port labels were not read: {exc}"]}

    def diff_extra(self) -> Tuple[str, str]:
        before, after = "", ""
        if self._label_change is not None:
            before, after = self._label_change.diff_lines("before"), self._label_change.diff_lines("after")
        if self._firewall_change is not None:
            before += self._firewall_change.diff_lines("before")
            after += self._firewall_change.diff_lines("after")
        return before, after

    def server_pids(self) -> List[int]:
        raise NotImplementedError

    def check_entries(self, entries: List[dict]) -> List[str]:
        raise NotImplementedError

    def bind_addresses(self, step: dict, request: PortRequest) -> Optional[List[str]]:
        """The addresses the server will bind for ``step``; None when unknown (then any address conflicts)."""
        return None

    def refusals(self, state: PortState, steps: List[dict], request: PortRequest) -> List[str]:
        problems = self.check_entries([s for s in steps if s["action"] != "remove"])
        if self._label_change is not None and self.selinux_label_required and not request.restoring:
            added = port_specs(step for step in steps if step["action"] == "add")
            problems.extend(why for spec, why in sorted(self._label_change.conflicts.items()) if spec in added)
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
