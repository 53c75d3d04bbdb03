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
    C(New-SmbMapping -TcpPort|-QuicPort|-RdmaPort), so that the client reaches a server that listens on
    another port than 445 (TCP), 443 (QUIC) or 5445 (RDMA).
  - A mapping is identified by O(local_path), or by O(remote_path) when it has no local path. One that exists with
    another remote path or port is removed and created again, since Windows cannot edit a mapping.
  - Runs on the controller and drives the host over WinRM (see the C(winrm_*) options); nothing runs in Python on
    the host.
author:
  - smb.alternative_ports developers (@smb-alternative-ports)
extends_documentation_fragment:
  - smb.alternative_ports.attributes
  - smb.alternative_ports.attributes.WINDOWS
  - smb.alternative_ports.attributes.ACTION
  - smb.alternative_ports.attributes.CHANGES_STATE
  - smb.alternative_ports._winrm
options:
  remote_path:
    description: UNC path of the share, for example C(\\fs1.contoso.com\data).
    type: str
    required: true
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
      - Keep the mapping across logons (C(New-SmbMapping -Persistent)); on removal, also forget it (C(-UpdateProfile)).
      - Windows does not report this flag back, so changing only O(persistent) of an existing mapping changes nothing.
    type: bool
    default: false
  state:
    description: Whether the mapping should exist.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The mapping is made in the context of the WinRM logon session of the connecting user.
seealso:
  - module: smb.alternative_ports.client_port_policy
  - name: New-SmbMapping
    description: Microsoft's documentation of the cmdlet.
    link: https://learn.microsoft.com/powershell/module/smbshare/new-smbmapping
"""

EXAMPLES = r"""
- name: Map Z to a file server that serves SMB over TCP on port 4445
  smb.alternative_ports.client_mapping:
    local_path: "Z:"
    remote_path: \\fs1.contoso.com\data
    tcp_port: 4445
    persistent: true

- name: Reach a server over SMB over QUIC on UDP 8443, without a drive letter
  smb.alternative_ports.client_mapping:
    remote_path: \\edge1.contoso.com\projects
    quic_port: 8443

- name: Remove the mapping of Z
  smb.alternative_ports.client_mapping:
    local_path: "Z:"
    remote_path: \\fs1.contoso.com\data
    state: absent
"""

RETURN = r"""
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
  sample: ["New-SmbMapping -LocalPath Z: -RemotePath \\\\fs1.contoso.com\\data -TcpPort 4445 -Persistent True"]
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
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    **WINRM_ARGUMENT_SPEC,
}


def main() -> None:
    refuse_to_run_on_a_host("client_mapping", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
