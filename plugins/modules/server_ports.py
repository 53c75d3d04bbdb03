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
  - A process that holds the port on another address only is no conflict where the server binds its own addresses.
    pysmbd binds O(address); Samba binds every address unless smb.conf sets C(bind interfaces only = yes) with
    C(interfaces), and then only the addresses of those interfaces (read with C(testparm) and C(ip -j address)).
  - SMB over QUIC ports (V(quic), UDP) need TLS; with O(backend=pysmbd) a QUIC port is refused before any change
    unless the config's C([quic]) table names an existing certificate and private key (the
    C(smb.alternative_ports.pysmbd) role writes it when a quic listener or C(pysmbd_quic=true) asks for QUIC),
    and a UDP port another process holds is refused like a TCP one. Samba has no QUIC listener.
  - On Linux it runs on the target. With O(backend=windows) (or V(auto) on a WinRM or PSRP host) the work runs on
    the controller over WinRM, and Windows can move only its SMB over QUIC listener.
  - On Windows a new QUIC port is refused before any change (check mode too) when another process holds the UDP
    port (named as C(Get-NetUDPEndpoint) and C(Get-Process) report it), when the kernel (System, pid 4) holds it
    although it is not one of the server's own alternative ports (likely http.sys), when it lies in an excluded
    port range (C(netsh interface ipv4 show excludedportrange protocol=udp); the message gives the range and the
    fix), and for UDP 443 while http.sys serves HTTP/3 (C(EnableHttp3) = 1). That check costs one more read on the
    host, only when the plan adds ports.
extends_documentation_fragment:
  - smb.alternative_ports.attributes.POSIX_AND_WINDOWS
  - smb.alternative_ports.attributes.CHANGES_STATE
  - smb.alternative_ports._server_ports
  - smb.alternative_ports._winrm
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
        description:
          - Windows' C(-EnableInstances). Microsoft documents that only the Default instance is allowed and that the
            setting is not used, so every backend takes only V(default); V(none) is refused before any change.
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
  restore:
    description:
      - The registered result of an earlier C(server_ports) task on this host. Puts back its RV(before) table
        exactly and removes every other port, standard ports included (pysmbd listeners get back their addresses
        from RV(listeners.before)). The entry role's rollback uses it.
      - Mutually exclusive with O(ports), O(state), O(exclusive) and O(standard_ports).
    type: dict
  address:
    description: Address that new pysmbd listeners bind (backend V(pysmbd)). Ports that stay keep their addresses.
    type: str
    default: 0.0.0.0
  firewall:
    description:
      - Keep the host firewall open for exactly the server's ports, TCP for V(tcp) and V(rdma), UDP for V(quic).
      - Backend V(windows) creates and removes an inbound UDP rule named C(smb-alternative-port-quic-<port>) with
        each QUIC port, and puts back a missing one.
      - Backends V(pysmbd) and V(samba) use firewalld when it runs (C(firewall-cmd), a permanent and a runtime rule
        per port in its default zone; only ports this change removed are closed), else an active ufw (C(ufw allow
        <port>/<proto> comment 'smb.alternative_ports'), one rule per port; only rules with that comment are
        removed), else nftables' C(inet filter input) chain when it exists (rules tagged
        C(smb.alternative_ports pysmbd), replaced as a set in one transaction), else a firewalld that is enabled at
        boot but not running now (C(firewall-offline-cmd) edits its permanent zone, so the ports are open once it
        starts), else nothing. A firewall that lacks a port of the table counts as a change, also when the ports
        themselves are as asked.
      - ufw comes before the C(inet filter input) chain because ufw's own chains drop the port whatever that chain
        says, and its administrator reads C(ufw status). A ufw enabled at boot (C(ENABLED=yes) in
        C(/etc/ufw/ufw.conf)) but not active is refused before any change, since ufw rejects rule changes then.
      - With ufw, a port one of the administrator's own rules opens to anyone (C(ufw allow 445/tcp)) gets no rule of
        ours, so their rule is never taken over or deleted.
      - In diff mode, each port the firewall opens or closes shows as C(firewall <kind> <port>/<proto> open|closed).
      - With firewalld, a port a service of the zone already opens (C(samba) opens 139/tcp and 445/tcp) gets no
        rule of its own, and services are never removed, so a removed port that a service opens stays open.
    type: bool
    default: true
  selinux:
    description:
      - Backends V(pysmbd) and V(samba), label each port the server listens on with the SELinux port type
        C(smbd_port_t) through C(semanage port) (package C(policycoreutils-python-utils)), and remove that label
        from ports the change removed. With SELinux enforcing, smbd may bind only ports labelled C(smbd_port_t).
      - V(auto) labels whenever SELinux is enabled, enforcing or permissive (as C(community.general.seport) does),
        so a permissive host keeps working once it is switched to enforcing. V(always) labels even where SELinux is
        disabled (a host being prepared to enable it; the labels go into the policy store). V(never) leaves labels
        alone.
      - New labels are added before the server moves to its new ports, and taken back when that move fails; the
        labels of removed ports go only after the server stopped listening there. All labels of one change go
        through one C(semanage import) transaction (each rebuilds the policy, which takes seconds).
      - A port the policy itself labels C(smbd_port_t) (445, 137-139) is left as it is and never unlabelled. A port
        the policy labels with another type (8443/tcp is C(http_port_t)) gets a local record that overrides it;
        removing the port deletes that record, which gives the port back its policy type. A port that a local
        record of someone else labels with another type is never relabelled (another service uses it); the Samba
        backend refuses to add it before any change, since smbd could not bind it. Only a local C(smbd_port_t)
        record of exactly a removed port is deleted.
      - A QUIC (UDP) port is labelled too, but the policies read (Debian's refpolicy, Fedora's samba.te) let smbd
        bind only TCP C(smbd_port_t) ports so far.
      - Backend V(pysmbd) uses the same type. pysmbd, as the C(smb.alternative_ports.pysmbd) role installs it (a
        systemd service running C(/opt/pysmbd/venv/bin/pysmbd), file type C(bin_t)), runs in an unconfined domain
        (C(unconfined_service_t) on RHEL's targeted policy, C(initrc_t) on Debian's default policy), which may
        bind any port, so the label is not what lets pysmbd listen; it marks the port as an SMB port, so
        C(semanage port -l) tells the truth and a server swapped for a confined smbd keeps working.
    type: str
    choices: [auto, always, never]
    default: auto
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

- name: Put back the table an earlier change found (a rollback)
  smb.alternative_ports.server_ports:
    backend: pysmbd
    restore: "{{ ports }}"

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
firewall:
  description: Backends V(pysmbd) and V(samba) with O(firewall=true), what the host firewall needed.
  returned: when O(firewall=true) and the backend is V(pysmbd) or V(samba)
  type: dict
  contains:
    kind:
      description:
        - V(firewalld) (running), V(ufw) (active), V(nftables), V(firewalld-offline) (enabled but not running; its
          permanent zone was edited), or V(none) when there is no firewall to open (nothing is opened then).
      type: str
      sample: nftables
    opened:
      description: The ports opened, as C(port/protocol).
      type: list
      elements: str
      sample: [4445/tcp, 8443/udp]
    closed:
      description: The ports closed, as C(port/protocol).
      type: list
      elements: str
      sample: [445/tcp]
selinux:
  description: Backends V(pysmbd) and V(samba), the SELinux port labels the change needed (in check mode, would need).
  returned: when the backend is V(pysmbd) or V(samba) and O(selinux) applies (V(auto) on a host with SELinux enabled)
  type: dict
  contains:
    type:
      description: The port type the server's ports carry.
      type: str
      sample: smbd_port_t
    labelled:
      description: The ports that got the type, as C(port/protocol).
      type: list
      elements: str
      sample: [4445/tcp]
    unlabelled:
      description: The ports whose local C(smbd_port_t) record was deleted, as C(port/protocol).
      type: list
      elements: str
      sample: [14445/tcp]
    before:
      description: Each changed port's type before the change (V(none) when no record covered it).
      type: dict
      sample: {4445/tcp: none, 14445/tcp: smbd_port_t}
    after:
      description: Each changed port's type after the change.
      type: dict
      sample: {4445/tcp: smbd_port_t, 14445/tcp: none}
problems:
  description:
    - When the change was refused (the task failed and nothing changed, in check mode too), every reason, one
      sentence each, naming the host, the port and the fix; C(msg) joins them. A port another process holds names
      it; on Windows also an excluded port range and HTTP/3 on UDP 443.
  returned: when the change was refused
  type: list
  elements: str
  sample: ["Administrator@fs1:5986: quic/8443: UDP port 8443 is held on 0.0.0.0 by nginx (pid 2216): stop it or pick another port"]
firewall_rules:
  description:
    - Backend V(windows) with O(firewall=true), the collection's inbound UDP rules for QUIC ports after the change
      (in check mode, the rules the change would leave).
  returned: when O(backend=windows) and O(firewall=true)
  type: list
  elements: str
  sample: [smb-alternative-port-quic-8443]
commands:
  description: Backend V(windows), the changing cmdlet calls, in order (in check mode, the calls that would run).
  returned: when O(backend=windows)
  type: list
  elements: str
  sample: ["New-SmbServerAlternativePort -TransportType QUIC -Port 8443 -EnableInstances Default -Force"]
quic_certificate_sha256:
  description:
    - Backend V(pysmbd), the SHA-256 fingerprint of the certificate its C([quic]) table names, read on the host;
      empty without one. The entry role pins it in verify when the model gives no CA or pin.
  returned: when O(backend=pysmbd)
  type: str
  sample: "3F:0A:...:9C"
plan:
  description: The steps, in the order they are applied.
  returned: always
  type: list
  elements: dict
  sample:
    - {action: add, transport: tcp, port: 4445, instances: default}
    - {action: remove, transport: tcp, port: 445, instances: default}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smb.alternative_ports.plugins.module_utils._files import ConfigWriteError
from ansible_collections.smb.alternative_ports.plugins.module_utils._winrm_options import WINRM_ARGUMENT_SPEC
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import (
    BackendError,
    PortRequest,
    RefusedError,
    change_ports,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.linux import (
    BACKEND_ARGUMENT_SPEC,
    linux_backend,
)

PORT_SPEC = {
    "transport": {"type": "str", "required": True, "choices": ["tcp", "quic", "rdma"]},
    "port": {"type": "int", "required": True},
    "instances": {"type": "str", "default": "default", "choices": ["default", "none"]},
    "address": {"type": "str"},
}

ARGUMENT_SPEC = {
    **BACKEND_ARGUMENT_SPEC,
    "ports": {"type": "list", "elements": "dict", "default": [], "options": PORT_SPEC},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "exclusive": {"type": "bool", "default": False},
    "standard_ports": {"type": "str", "default": "keep", "choices": ["keep", "close"]},
    "allow_no_listeners": {"type": "bool", "default": False},
    "address": {"type": "str", "default": "0.0.0.0"},
    "restore": {"type": "dict"},
    "samba_restart_command": {"type": "str"},
    "firewall": {"type": "bool", "default": True},
    "selinux": {"type": "str", "default": "auto", "choices": ["auto", "always", "never"]},
    **WINRM_ARGUMENT_SPEC,
}
MUTUALLY_EXCLUSIVE = [
    ("restore", "ports"),
    ("restore", "state"),
    ("restore", "exclusive"),
    ("restore", "standard_ports"),
]


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE, supports_check_mode=True)
    backend = linux_backend(module)
    try:
        if module.params["restore"] is not None:
            request = backend.restore_request(module.params["restore"])
        else:
            request = PortRequest.from_params(module.params)
        result = change_ports(backend, request, module.check_mode, module._diff)
    except RefusedError as exc:
        module.fail_json(msg=str(exc), backend=backend.name, problems=exc.problems)
    except (BackendError, ConfigWriteError) as exc:
        module.fail_json(
            msg=str(exc), backend=backend.name, exception=traceback.format_exc(), **getattr(exc, "result", {})
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
