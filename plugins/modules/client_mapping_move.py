#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: client_mapping_move
short_description: Recreate a Windows client's global SMB mappings on the new port of the servers they reach
version_added: 0.1.0
description:
  - Reads the global mappings of a Windows client (C(Get-SmbGlobalMapping)) and, for every one that reaches a server
    of O(moves) on its old transport and port, removes it and creates it again on the new port
    (C(New-SmbGlobalMapping -TcpPort|-QuicPort|-RdmaPort)), since Windows cannot edit a mapping. The migrate role
    (R(smb.alternative_ports.migrate,ansible_collections.smb.alternative_ports.migrate_role)) runs it in its client
    phase, and with the moves reversed in a rollback.
  - Creating a global mapping needs its credential, and Windows does not give it back (C(-Credential) is a parameter
    of C(New-SmbGlobalMapping) only; C(Get-SmbGlobalMapping) reports paths, status and ports). The credential comes
    from O(mappings), the client's C(smb_alternative_ports.client.mappings) entry with the same local path (or, for
    a mapping without one, the same remote path).
  - A mapping that a move reaches but O(mappings) does not describe cannot be recreated; O(on_unknown) says whether
    that stops the task before anything changes on the client, or leaves that mapping on the old port with a warning.
  - A mapping without a port follows the Alternative Port Mappings policy (M(smb.alternative_ports.client_port_policy)),
    so this module leaves it alone.
  - Runs on the controller and drives the host over WinRM, with one read and one apply-and-read-back when something
    changes.
extends_documentation_fragment:
  - smb.alternative_ports.attributes.WINDOWS
  - smb.alternative_ports.attributes.CHANGES_STATE
  - smb.alternative_ports._winrm
options:
  moves:
    description: The servers that moved, as the client names them in UNC paths, each with its old and new endpoint.
    type: list
    elements: dict
    required: true
    suboptions:
      server:
        description: Server name as the mappings' remote paths give it (compared without case).
        type: str
        required: true
      from:
        description: The old endpoint, C({transport, port}); C(transport) is V(tcp), V(quic) or V(rdma).
        type: dict
        required: true
      to:
        description: The new endpoint, C({transport, port}).
        type: dict
        required: true
  mappings:
    description:
      - The client's mappings as its model describes them (C(smb_alternative_ports.client.mappings)); only global
        ones with O(mappings[].username) and O(mappings[].password) give a credential.
    type: list
    elements: dict
    default: []
    suboptions:
      local_path:
        description: Drive letter such as V(Z:); omitted for a deviceless mapping.
        type: str
      remote_path:
        description: UNC path of the share.
        type: str
        required: true
      tcp_port:
        description: The port in the model (not used to match; the host's mapping is).
        type: int
      quic_port:
        description: The port in the model (not used to match).
        type: int
      rdma_port:
        description: The port in the model (not used to match).
        type: int
      transport:
        description: The transport in the model (not used to match).
        type: str
        choices: [tcp, quic, rdma]
      persistent:
        description: Whether the recreated mapping persists (C(-Persistent)).
        type: bool
        default: false
      state:
        description: As in the model; not used.
        type: str
        choices: [present, absent]
        default: present
      scope:
        description: Only V(global) entries give a credential here.
        type: str
        choices: [global, user]
        default: global
      username:
        description: Account the mapping reaches the server with.
        type: str
      password:
        description: Password of O(mappings[].username). Never logged or returned.
        type: str
  on_unknown:
    description:
      - V(fail) stops before any change on the client when a mapping to move is not described in O(mappings), and
        lists every such mapping.
      - V(skip) moves the others and leaves those on the old port, with a warning; they stop working when the old
        port is removed.
    type: str
    choices: [fail, skip]
    default: fail
notes:
  - Check mode reads the mappings and reports what would move, and what could not.
seealso:
  - module: smb.alternative_ports.client_mapping
  - module: smb.alternative_ports.client_port_policy
  - name: New-SmbGlobalMapping
    description: Microsoft's documentation of the cmdlet (C(-Credential) is mandatory).
    link: https://learn.microsoft.com/powershell/module/smbshare/new-smbglobalmapping
  - name: Get-SmbGlobalMapping
    description: Microsoft's documentation of the cmdlet (no credential in its output).
    link: https://learn.microsoft.com/powershell/module/smbshare/get-smbglobalmapping
"""

EXAMPLES = r"""
- name: Global mappings to fs1 follow it from SMB over QUIC 8443 to 9443
  smb.alternative_ports.client_mapping_move:
    moves:
      - server: fs1.contoso.com
        from: {transport: quic, port: 8443}
        to: {transport: quic, port: 9443}
    mappings: "{{ smb_alternative_ports.client.mappings }}"
  register: moved

- name: Say which mappings moved
  ansible.builtin.debug:
    msg: "{{ moved.moved | map(attribute='remote_path') | list }}"
"""

RETURN = r"""
moved:
  description:
    - The mappings recreated on their new port (in check mode, that would be), without credentials, each with the
      O(moves[].server) it reaches (lower case).
  returned: always
  type: list
  elements: dict
  sample:
    - server: fs1.contoso.com
      local_path: "Z:"
      remote_path: \\fs1.contoso.com\data
      from: {transport: quic, port: 8443}
      to: {transport: quic, port: 9443}
unknown:
  description:
    - Mappings a move reaches that O(mappings) does not describe with a credential (left as they are), each with the
      O(moves[].server) it reaches, its paths, transport and port.
  returned: always
  type: list
  elements: dict
  sample: []
before:
  description: The client's global mappings as they were.
  returned: always
  type: list
  elements: dict
  sample: [{"local_path": "Z:", "remote_path": "\\\\fs1.contoso.com\\data", "transport": "quic", "port": 8443, "status": "OK"}]
after:
  description: The client's global mappings as they are now (in check mode, as they were).
  returned: always
  type: list
  elements: dict
  sample: [{"local_path": "Z:", "remote_path": "\\\\fs1.contoso.com\\data", "transport": "quic", "port": 9443, "status": "OK"}]
commands:
  description: The changing cmdlet calls that were run (in check mode, that would run); credentials masked.
  returned: always
  type: list
  elements: str
  sample:
    - "Remove-SmbGlobalMapping -LocalPath Z: -Force"
    - "New-SmbGlobalMapping -LocalPath Z: -RemotePath \\\\fs1.contoso.com\\data -QuicPort 9443 -TransportType QUIC
      -Persistent $false -Credential <credential>"
"""

from ansible_collections.smb.alternative_ports.plugins.module_utils._winrm_options import (
    WINRM_ARGUMENT_SPEC,
    refuse_to_run_on_a_host,
)

_ENDPOINT = {"type": "dict", "required": True}
ARGUMENT_SPEC = {
    "moves": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {"server": {"type": "str", "required": True}, "from": dict(_ENDPOINT), "to": dict(_ENDPOINT)},
    },
    "mappings": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "local_path": {"type": "str"},
            "remote_path": {"type": "str", "required": True},
            "tcp_port": {"type": "int"},
            "quic_port": {"type": "int"},
            "rdma_port": {"type": "int"},
            "transport": {"type": "str", "choices": ["tcp", "quic", "rdma"]},
            "persistent": {"type": "bool", "default": False},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "scope": {"type": "str", "default": "global", "choices": ["global", "user"]},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
        },
    },
    "on_unknown": {"type": "str", "default": "fail", "choices": ["fail", "skip"]},
    **WINRM_ARGUMENT_SPEC,
}


def main() -> None:
    refuse_to_run_on_a_host("client_mapping_move", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
