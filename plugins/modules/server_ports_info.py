#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: server_ports_info
short_description: Read the ports an SMB server listens on (pysmbd, Samba or Windows)
version_added: 0.1.0
description:
  - Returns the server's port table, the same shape M(smb.alternative_ports.server_ports) returns as C(after).
  - For pysmbd it also returns the configured listeners with their addresses, and what the running server
    reports through C(pysmbd status --json), each listener's state and the number of sessions and connections.
  - For Samba it returns the version and the smb.conf parameter used.
extends_documentation_fragment:
  - smb.alternative_ports.attributes.POSIX_AND_WINDOWS
  - smb.alternative_ports.attributes.READ_ONLY
  - smb.alternative_ports._server_ports
  - smb.alternative_ports._winrm
options:
  firewall:
    description:
      - Backend V(windows) only, also read the inbound UDP firewall rules the collection made for QUIC ports
        (RV(firewall_rules)).
    type: bool
    default: true
  selinux:
    description:
      - Backends V(pysmbd) and V(samba), also read the SELinux type of each port of the table with C(semanage port)
        (RV(selinux_labels)); nothing is changed.
      - V(auto) reads them when SELinux is enabled (enforcing or permissive); where C(semanage) is missing or fails,
        the module warns and returns no RV(selinux_labels). V(always) reads them also where SELinux is disabled (the
        policy store) and fails when they cannot be read. V(never) does not read them.
    type: str
    choices: [auto, always, never]
    default: auto
seealso:
  - module: smb.alternative_ports.server_ports
"""

EXAMPLES = r"""
- name: Read pysmbd's ports
  smb.alternative_ports.server_ports_info:
    backend: pysmbd
  register: info

- name: Show them
  ansible.builtin.debug:
    msg: "{{ info.ports | map(attribute='port') | list }}"
"""

RETURN = r"""
backend:
  description: The backend that was read.
  returned: always
  type: str
  sample: pysmbd
ports:
  description: The port table, sorted by transport then port.
  returned: always
  type: list
  elements: dict
  sample: [{transport: tcp, port: 4445, instances: default}]
listeners:
  description: pysmbd's configured listeners, with their addresses.
  returned: when O(backend=pysmbd)
  type: list
  elements: dict
  sample: [{transport: tcp, address: 0.0.0.0, port: 4445}]
status:
  description: What the running pysmbd reports (C(pysmbd status --json)); empty when it is not running.
  returned: when O(backend=pysmbd)
  type: dict
  sample: {pid: 4242, listeners: [{transport: tcp, address: 0.0.0.0, port: 4445, state: listening}], sessions: 1}
quic_certificate_sha256:
  description: Backend V(pysmbd), the SHA-256 fingerprint of the certificate its C([quic]) table names; empty without one.
  returned: when O(backend=pysmbd)
  type: str
  sample: "3F:0A:...:9C"
running:
  description: Whether the server process is running.
  returned: when O(backend=pysmbd) or O(backend=samba)
  type: bool
firewall_rules:
  description: Backend V(windows), the names of the collection's inbound UDP rules for QUIC ports.
  returned: when O(backend=windows) and O(firewall=true)
  type: list
  elements: str
  sample: [smb-alternative-port-quic-8443]
selinux_labels:
  description:
    - Backends V(pysmbd) and V(samba), each port of the table (C(port/protocol); QUIC is UDP) and the SELinux type its
      narrowest C(semanage port) record gives it, a local record before the policy's; V(none) when no record covers
      it. A confined smbd may bind only V(smbd_port_t) ports.
  returned: when the backend is V(pysmbd) or V(samba) and O(selinux) applies (V(auto) on a host with SELinux enabled)
  type: dict
  sample: {445/tcp: smbd_port_t, 4445/tcp: smbd_port_t, 8443/udp: unreserved_port_t}
samba_version:
  description: Samba's version as C([major, minor]).
  returned: when O(backend=samba)
  type: list
  elements: int
  sample: [4, 17]
parameter:
  description: The smb.conf parameter that holds the ports on this Samba version.
  returned: when O(backend=samba)
  type: str
  sample: smb ports
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smb.alternative_ports.plugins.module_utils._winrm_options import WINRM_ARGUMENT_SPEC
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import BackendError, describe_ports
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.linux import (
    BACKEND_ARGUMENT_SPEC,
    linux_backend,
)

ARGUMENT_SPEC = {
    **BACKEND_ARGUMENT_SPEC,
    "firewall": {"type": "bool", "default": True},
    "selinux": {"type": "str", "default": "auto", "choices": ["auto", "always", "never"]},
    **WINRM_ARGUMENT_SPEC,
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    backend = linux_backend(module)
    try:
        result = describe_ports(backend)
        for warning in result.pop("warnings", []):
            module.warn(warning)
        module.exit_json(**result)
    except BackendError as exc:
        module.fail_json(msg=str(exc), backend=backend.name)


if __name__ == "__main__":
    main()
