#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: client_mapping
short_description: Map a Windows drive or path to an SMB server on an alternative port
version_added: 0.1.0
description:
  - Creates or removes an SMB mapping on a Windows 11 24H2 / Windows Server 2025 client with
    C(New-SmbGlobalMapping) (O(scope=global), the default) or C(New-SmbMapping) (O(scope=user)) and
    C(-TcpPort|-QuicPort|-RdmaPort), so that the client reaches a server that listens on
    another port than 445 (TCP), 443 (QUIC) or 5445 (RDMA).
  - A global mapping is machine-wide. Every user, service and container of the host uses it, and it outlives the
    WinRM session that made it. It reaches the file server with the credential of O(username) and O(password).
  - A QUIC port is sent with C(-TransportType QUIC); without it the Windows client would try TCP first.
  - Windows connects to the share when it creates the mapping, so the server name must resolve and the share must
    answer; a mapping cannot be prepared ahead of its server.
  - A mapping is identified by O(local_path), or by O(remote_path) when it has no local path. One that exists with
    another remote path or port is removed and created again, since Windows cannot edit a mapping.
  - Runs on the controller and drives the host over WinRM (see the C(winrm_*) options); nothing runs in Python on
    the host.
extends_documentation_fragment:
  - smb.alternative_ports.attributes.WINDOWS
  - smb.alternative_ports.attributes.CHANGES_STATE
  - smb.alternative_ports._winrm
options:
  remote_path:
    description: UNC path of the share, for example C(\\fs1.contoso.com\data).
    type: str
    required: true
  scope:
    description:
      - V(global) makes a machine-wide mapping (C(New-SmbGlobalMapping)); it needs O(username) and O(password).
      - V(user) makes a mapping of the logon session that runs the cmdlet (C(New-SmbMapping)). Over WinRM that is
        the task's own network logon. It is user-specific, ends with that logon session (so with the task), and a
        network logon has no credentials to pass on to the file server (the second hop). A user mapping is useful
        only from an interactive logon with credentials, which is what C(become) (runas) gives a task; this module
        drives the host through its own WinRM shell and does not use C(become), so use V(user) only to check that a
        server is reachable on the port, and V(global) to configure a host.
    type: str
    choices: [global, user]
    default: global
  username:
    description:
      - Account the mapping uses to reach the file server, as C(user), C(DOMAIN\user) or C(user@domain).
      - Required with O(scope=global) and O(state=present) (C(-Credential)); with O(scope=user), optional
        (C(-UserName)).
      - Windows does not report the account of a mapping, so changing only O(username) or O(password) of an
        existing mapping changes nothing; remove the mapping first.
    type: str
  password:
    description: Password of O(username). Never logged or returned.
    type: str
  local_path:
    description: Drive letter such as V(Z:). Omit it for a mapping without a drive letter.
    type: str
  tcp_port:
    description: Reach the server with SMB over TCP on this port. Give exactly one of O(tcp_port), O(quic_port), O(rdma_port).
    type: int
  quic_port:
    description: Reach the server with SMB over QUIC on this UDP port.
    type: int
  rdma_port:
    description: Reach the server with SMB Direct (RDMA) on this port.
    type: int
  transport:
    description: The transport the port belongs to. Optional; when given it must agree with the port option.
    type: str
    choices: [tcp, quic, rdma]
  persistent:
    description:
      - Keep the mapping across reboots and logons (C(-Persistent)); on removal of a user mapping, also forget it
        (C(-UpdateProfile)).
      - Windows does not report this flag back, so changing only O(persistent) of an existing mapping changes nothing.
    type: bool
    default: false
  state:
    description: Whether the mapping should exist.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Fleet-wide, the Alternative Port Mappings policy (M(smb.alternative_ports.client_port_policy)) reaches every
    mapping and UNC path of a client without a mapping per share.
seealso:
  - module: smb.alternative_ports.client_port_policy
  - name: New-SmbGlobalMapping
    description: Microsoft's documentation of the cmdlet.
    link: https://learn.microsoft.com/powershell/module/smbshare/new-smbglobalmapping
  - name: New-SmbMapping
    description: Microsoft's documentation of the cmdlet.
    link: https://learn.microsoft.com/powershell/module/smbshare/new-smbmapping
"""

EXAMPLES = r"""
- name: Map Z, for the whole machine, to a file server that serves SMB over TCP on port 4445
  smb.alternative_ports.client_mapping:
    local_path: "Z:"
    remote_path: \\fs1.contoso.com\data
    tcp_port: 4445
    username: CONTOSO\svc-files
    password: "{{ vault_svc_files_password }}"
    persistent: true

- name: Check that a server answers SMB over QUIC on UDP 8443 (a mapping of the task's own logon session)
  smb.alternative_ports.client_mapping:
    scope: user
    remote_path: \\edge1.contoso.com\projects
    quic_port: 8443

- name: Remove the mapping of Z
  smb.alternative_ports.client_mapping:
    local_path: "Z:"
    remote_path: \\fs1.contoso.com\data
    state: absent
"""

RETURN = r"""
scope:
  description: The kind of mapping managed, V(global) or V(user).
  returned: always
  type: str
  sample: global
before:
  description: The mapping as it was (null when there was none).
  returned: always
  type: dict
  sample: null
after:
  description: The mapping as it is now (in check mode, as it would be).
  returned: always
  type: dict
  sample: {"local_path": "Z:", "remote_path": "\\\\fs1.contoso.com\\data", "transport": "tcp", "port": 4445, "status": "OK"}
commands:
  description: The changing cmdlet calls that were run (in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample: ["New-SmbGlobalMapping -LocalPath Z: -RemotePath \\\\fs1.contoso.com\\data -TcpPort 4445 -Persistent -Credential <credential>"]
"""

from ansible_collections.smb.alternative_ports.plugins.module_utils._winrm_options import (
    WINRM_ARGUMENT_SPEC,
    refuse_to_run_on_a_host,
)

ARGUMENT_SPEC = {
    "remote_path": {"type": "str", "required": True},
    "local_path": {"type": "str"},
    "tcp_port": {"type": "int"},
    "quic_port": {"type": "int"},
    "rdma_port": {"type": "int"},
    "transport": {"type": "str", "choices": ["tcp", "quic", "rdma"]},
    "persistent": {"type": "bool", "default": False},
    "scope": {"type": "str", "default": "global", "choices": ["global", "user"]},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    **WINRM_ARGUMENT_SPEC,
}


def main() -> None:
    refuse_to_run_on_a_host("client_mapping", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
