#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: server_ports
short_description: Set the ports an SMB server listens on (pysmbd, Samba or Windows)
version_added: 0.1.0
description:
  - Reads the server's current port table, plans the change (adds first, then changes, then removes, so clients
    always have a listener), refuses a plan that cannot work before touching anything, applies it and returns the
    table before and after.
  - Refused before any change, each with a message that names the port; a port another process already holds
    (the process is named where C(/proc) tells it), a port below 1024 the server may not bind (no
    C(CAP_NET_BIND_SERVICE)), a transport the backend has no listener for, and a plan that leaves the server with no
    listener at all unless O(allow_no_listeners=true).
  - SMB over QUIC ports (V(quic), UDP) need TLS; with O(backend=pysmbd) a QUIC port is refused before any change
    unless the config's C([quic]) table names an existing certificate and private key (the
    C(smb.alternative_ports.pysmbd) role writes it when a quic listener or C(pysmbd_quic=true) asks for QUIC),
    and a UDP port another process holds is refused like a TCP one. Samba has no QUIC listener.
  - On Linux it runs on the target. With O(backend=windows) (or V(auto) on a WinRM or PSRP host) the work runs on
    the controller over WinRM, and Windows can move only its SMB over QUIC listener.
author:
  - smb.alternative_ports developers (@smb-alternative-ports)
extends_documentation_fragment:
  - smb.alternative_ports.attributes
  - smb.alternative_ports.attributes.ACTION
  - smb.alternative_ports.attributes.CHANGES_STATE
  - smb.alternative_ports._server_ports
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [posix, windows]
options:
  ports:
    description:
      - The alternative ports to add (O(state=present)) or remove (O(state=absent)).
    type: list
    elements: dict
    default: []
    suboptions:
      transport:
        description: V(tcp) (Direct TCP), V(quic) (UDP) or V(rdma) (SMB Direct, TCP port space).
        type: str
        choices: [tcp, quic, rdma]
        required: true
      port:
        description: Port number, 1-65535.
        type: int
        required: true
      instances:
        description: Windows' C(EnableInstances). pysmbd and Samba take only V(default).
        type: str
        choices: [default, none]
        default: default
      address:
        description:
          - Backend V(pysmbd) only, the address this port listens on, instead of O(address). Give the same port
            several times with different addresses to listen on each (the role's rollback restores
            RV(listeners.before) this way).
        type: str
  state:
    description: Whether O(ports) should be listening (V(present)) or not (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), also remove every port that is not in O(ports), except standard ports when
        O(standard_ports=keep).
    type: bool
    default: false
  standard_ports:
    description:
      - V(keep) leaves the standard ports (TCP 445, NetBIOS 139, QUIC 443, RDMA 5445) as they are, even with
        O(exclusive=true).
      - V(close) stops listening on them (pysmbd, Samba).
    type: str
    choices: [keep, close]
    default: keep
  allow_no_listeners:
    description: Allow a plan that leaves the server with no listener at all (every client locked out).
    type: bool
    default: false
  address:
    description: Address that new pysmbd listeners bind (backend V(pysmbd)). Ports that stay keep their addresses.
    type: str
    default: 0.0.0.0
  firewall:
    description:
      - Backend V(windows) only, create and remove an inbound UDP firewall rule with each QUIC port.
      - The Linux backends leave the firewall alone; the C(smb.alternative_ports.pysmbd) role (and the
        C(alternative_ports) role after a change) opens it, UDP for QUIC ports.
    type: bool
    default: true
  samba_restart_command:
    description:
      - Command that restarts smbd after its ports changed (backend V(samba)), for example C(systemctl restart smbd).
      - By default, an smbd that runs as a systemd service is restarted with C(systemctl restart) of that service;
        any other running smbd is stopped (SIGTERM to the pid in its C(pid directory)) and started again with
        C(smbd -D -s) O(smb_conf). smbd binds its ports only at start-up, so a reload would not move them.
    type: str
notes:
  - pysmbd applies the change with a hitless reload; sessions on ports that stay are kept. Samba is restarted,
    which drops its open sessions.
  - O(state=absent) with O(exclusive=true) removes only the listed ports; O(exclusive) applies to O(state=present).
seealso:
  - module: smb.alternative_ports.server_ports_info
  - module: smb.alternative_ports.verify
"""

EXAMPLES = r"""
- name: Serve SMB on TCP 4445 and 14445 only, with 445 closed
  smb.alternative_ports.server_ports:
    backend: pysmbd
    ports:
      - {transport: tcp, port: 4445}
      - {transport: tcp, port: 14445}
    exclusive: true
    standard_ports: close
  register: ports

- name: Add TCP 4445 to Samba, keeping its other ports
  smb.alternative_ports.server_ports:
    backend: samba
    smb_conf: /etc/samba/smb.conf
    samba_restart_command: systemctl restart smbd
    ports:
      - {transport: tcp, port: 4445}

- name: Add SMB over QUIC on UDP 8443 to pysmbd (its config needs a [quic] certificate, see the pysmbd role)
  smb.alternative_ports.server_ports:
    backend: pysmbd
    ports:
      - {transport: quic, port: 8443}

- name: Stop listening on TCP 14445
  smb.alternative_ports.server_ports:
    backend: pysmbd
    ports:
      - {transport: tcp, port: 14445}
    state: absent
"""

RETURN = r"""
backend:
  description: The backend that did the work.
  returned: always
  type: str
  sample: pysmbd
before:
  description: The port table before the change, sorted by transport then port.
  returned: always
  type: list
  elements: dict
  sample: [{transport: tcp, port: 445, instances: default}]
after:
  description: The port table after the change (in check mode, what it would be).
  returned: always
  type: list
  elements: dict
  sample: [{transport: tcp, port: 4445, instances: default}, {transport: tcp, port: 14445, instances: default}]
listeners:
  description: Backend V(pysmbd) only, the listeners with their addresses, before and after.
  returned: when O(backend=pysmbd)
  type: dict
  contains:
    before:
      description: The listeners before the change.
      type: list
      elements: dict
      sample: [{transport: tcp, address: 127.0.0.1, port: 445}]
    after:
      description: The listeners after the change (in check mode, what they would be).
      type: list
      elements: dict
      sample: [{transport: tcp, address: 127.0.0.1, port: 4445}]
plan:
  description: The steps, in the order they are applied.
  returned: always
  type: list
  elements: dict
  sample:
    - {action: add, transport: tcp, port: 4445, instances: default}
    - {action: remove, transport: tcp, port: 445, instances: default}
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.smb.alternative_ports.plugins.module_utils._backend_pysmbd import (
    HAS_TOML,
    PysmbdBackend,
    PysmbdError,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._backend_samba import SambaBackend, SambaError
from ansible_collections.smb.alternative_ports.plugins.module_utils._plan import (
    apply_plan,
    format_table,
    plan_changes,
    table,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._ports_in_use import (
    PRIVILEGED_PORT_LIMIT,
    can_bind,
    foreign_holders,
)

# Standard ports per transport; 139 (NetBIOS session service) counts as standard for tcp.
STANDARD_PORTS = {("tcp", 445), ("tcp", 139), ("quic", 443), ("rdma", 5445)}

PORT_SPEC = {
    "transport": {"type": "str", "required": True, "choices": ["tcp", "quic", "rdma"]},
    "port": {"type": "int", "required": True},
    "instances": {"type": "str", "default": "default", "choices": ["default", "none"]},
    "address": {"type": "str"},
}

ARGUMENT_SPEC = {
    "backend": {"type": "str", "default": "auto", "choices": ["auto", "pysmbd", "samba", "windows"]},
    "ports": {"type": "list", "elements": "dict", "default": [], "options": PORT_SPEC},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "exclusive": {"type": "bool", "default": False},
    "standard_ports": {"type": "str", "default": "keep", "choices": ["keep", "close"]},
    "allow_no_listeners": {"type": "bool", "default": False},
    "address": {"type": "str", "default": "0.0.0.0"},
    "config_path": {"type": "path", "default": "/etc/pysmbd/pysmbd.toml"},
    "smb_conf": {"type": "path", "default": "/etc/samba/smb.conf"},
    "executable": {"type": "path"},
    "samba_restart_command": {"type": "str"},
    "firewall": {"type": "bool", "default": True},
}


class RefusedError(Exception):
    """The plan cannot work; nothing was changed."""


def plan_with_standard_ports(current, desired, state, exclusive, standard_ports):
    """plan_changes, then apply the standard_ports policy (keep them out of exclusive removals, or close them)."""
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


def refusals(backend, before, after, plan, params, pinned=None) -> list:
    """Every reason to refuse the plan, checked before anything changes."""
    problems = list(backend.check_entries([s for s in plan if s["action"] != "remove"]))
    if not after and not params["allow_no_listeners"]:
        problems.append(
            "this change would leave the server with no listener at all, locking every client out "
            "(list at least one port, or set allow_no_listeners: true)"
        )
    server_pids = backend.server_pids()
    for step in plan:
        if step["action"] != "add":
            continue
        where = f"{step['transport']}/{step['port']}"
        # pysmbd binds the given address (a port on another address is no conflict); Samba's binding is not known.
        key = (step["transport"], step["port"])
        addresses = (pinned or {}).get(key, [params["address"]]) if backend.name == "pysmbd" else None
        for holder in foreign_holders(step["transport"], step["port"], server_pids, addresses=addresses):
            problems.append(f"{holder.describe()}: stop it or pick another port")
            break
        if step["port"] < PRIVILEGED_PORT_LIMIT:
            pid = server_pids[0] if server_pids else None
            if not can_bind(step["port"], pid):
                who = f"the running {backend.name} (pid {pid})" if pid else "this process"
                problems.append(
                    f"{where}: {who} lacks CAP_NET_BIND_SERVICE to bind a port below {PRIVILEGED_PORT_LIMIT} "
                    "(grant it, for pysmbd set pysmbd_listeners in the pysmbd role so its unit gets the "
                    "capability, or use a port of 1024 or above)"
                )
    return problems


def manage_ports(backend, params: dict, check_mode: bool, diff_mode: bool = False) -> dict:
    """Plan, refuse or apply; returns the server_ports result. Raises RefusedError before any change."""
    desired = [{k: v for k, v in p.items() if k != "address"} for p in params["ports"]]
    pinned = {}
    for entry in params["ports"]:
        if entry.get("address"):
            pinned.setdefault((entry["transport"], entry["port"]), []).append(entry["address"])
    before = table(backend.read_table())
    plan = plan_with_standard_ports(before, desired, params["state"], params["exclusive"], params["standard_ports"])
    after = table(apply_plan(before, plan))
    result = {"changed": after != before, "backend": backend.name, "before": before, "after": after, "plan": plan}
    if diff_mode:
        result["diff"] = {"before": format_table(before), "after": format_table(after)}
    if backend.name == "pysmbd":
        predicted = backend.planned_listeners(after, params["address"], pinned) if plan else backend.listeners
        result["listeners"] = {"before": backend.listeners, "after": predicted}
    if not plan:
        return result
    problems = refusals(backend, before, after, plan, params, pinned)
    if problems:
        raise RefusedError("; ".join(problems))
    if not check_mode:
        if backend.name == "pysmbd":
            backend.apply(after, params["address"], pinned)
            result["listeners"]["after"] = backend.listeners
        else:
            backend.apply(after)
    return result


def build_backend(module: AnsibleModule):
    params = module.params
    name = params["backend"]
    if name == "auto":
        name = "pysmbd" if os.path.exists(params["config_path"]) else "samba"
    if name == "windows":
        module.fail_json(msg="backend windows runs on the controller through the action plugin; do not call the module")
    if name == "pysmbd":
        if not HAS_TOML:
            module.fail_json(msg=missing_required_lib("tomli (or Python 3.11+)"))
        return PysmbdBackend(params["config_path"], module.run_command, params["executable"])
    smbd = module.get_bin_path("smbd", opt_dirs=["/usr/sbin"]) or "smbd"
    testparm = module.get_bin_path("testparm", opt_dirs=["/usr/bin"]) or "testparm"
    return SambaBackend(params["smb_conf"], module.run_command, smbd, testparm, params["samba_restart_command"])


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    for index, entry in enumerate(module.params["ports"]):
        if not 1 <= entry["port"] <= 65535:
            module.fail_json(msg=f"ports[{index}].port: {entry['port']} is not a port (use 1-65535)")
    backend = build_backend(module)
    try:
        result = manage_ports(backend, module.params, module.check_mode, module._diff)
    except RefusedError as exc:
        module.fail_json(msg=f"refused, nothing was changed: {exc}", backend=backend.name)
    except (PysmbdError, SambaError) as exc:
        module.fail_json(msg=str(exc), backend=backend.name, exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
