#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: client_port_policy
short_description: Manage Windows' Alternative Port Mappings policy and the SMB over QUIC client
version_added: 0.1.0
description:
  - Manages the entries of the Group Policy setting "Alternative Port Mappings" of a Windows 11 24H2 /
    Windows Server 2025 client, the REG_MULTI_SZ value C(AlternativePortMappings) under
    C(HKLM:\Software\Policies\Microsoft\Windows\LanmanWorkstation), one C(server:transport:port) per entry.
    The SMB client uses the first entry whose server matches, so the order of the entries is kept.
  - An entry is identified by its server and transport. Merged (the default), a matching entry gets the new port in
    place and new entries are appended; with O(exclusive=true) the policy holds exactly O(entries), in that order.
  - Clients match the server name exactly as a UNC path gives it, so a short name, an FQDN and an address of one
    server are three entries. M(smb.alternative_ports.validate) refuses two entries for one server and transport
    (the second never applies) and warns about spellings that look like one server.
  - No Microsoft source shows C(rdma) in this policy; entries with it are written as given, and
    M(smb.alternative_ports.validate) warns about them. Prefer M(smb.alternative_ports.client_mapping) with
    O(smb.alternative_ports.client_mapping#module:rdma_port) for SMB Direct.
  - The value is a local policy. On a domain member, a GPO that sets "Alternative Port Mappings" overwrites it at the
    next policy refresh; manage the entries in that GPO instead.
  - Optionally turns the SMB over QUIC client on or off (C(Set-SmbClientConfiguration -EnableSMBQUIC)).
  - Runs on the controller and drives the host over WinRM. The entries travel over stdin, so hundreds of entries
    are fine.
extends_documentation_fragment:
  - smb.alternative_ports.attributes.WINDOWS
  - smb.alternative_ports.attributes.CHANGES_STATE
  - smb.alternative_ports._winrm
options:
  entries:
    description: Policy entries to add or update (O(state=present)) or to remove (O(state=absent)).
    type: list
    elements: dict
    default: []
    suboptions:
      server:
        description: Server name or address as clients write it in UNC paths.
        type: str
        required: true
      transport:
        description: Transport of the entry.
        type: str
        choices: [tcp, quic, rdma]
        required: true
      port:
        description: Port clients use for this server and transport, 1-65535.
        type: int
        required: true
  exclusive:
    description:
      - Replace every entry of the policy with O(entries). With an empty O(entries) this clears the policy.
      - Entries the module cannot parse are kept unless O(exclusive=true).
    type: bool
    default: false
  state:
    description: Whether O(entries) should be in the policy.
    type: str
    choices: [present, absent]
    default: present
  quic:
    description: Turn the SMB over QUIC client on (V(enabled)) or off (V(disabled)). Left as it is when omitted.
    type: str
    choices: [enabled, disabled]
seealso:
  - module: smb.alternative_ports.client_mapping
"""

EXAMPLES = r"""
- name: Send SMB for two file servers to their alternative ports
  smb.alternative_ports.client_port_policy:
    entries:
      - {server: fs1.contoso.com, transport: tcp, port: 4445}
      - {server: edge1.contoso.com, transport: quic, port: 8443}

- name: Make the policy exactly one entry and turn the QUIC client off
  smb.alternative_ports.client_port_policy:
    entries:
      - {server: fs1.contoso.com, transport: tcp, port: 4445}
    exclusive: true
    quic: disabled

- name: Drop the entry of a decommissioned server
  smb.alternative_ports.client_port_policy:
    entries:
      - {server: old.contoso.com, transport: tcp, port: 4445}
    state: absent
"""

RETURN = r"""
before:
  description: The policy entries (as C(server:transport:port) lines) and, when O(quic) is given, the QUIC client state, before.
  returned: always
  type: dict
  sample: {"entries": ["fs1.contoso.com:tcp:4445"], "quic": "enabled"}
after:
  description: The same after the change (in check mode, as it would be).
  returned: always
  type: dict
  sample: {"entries": ["fs1.contoso.com:tcp:4445", "edge1.contoso.com:quic:8443"], "quic": "disabled"}
commands:
  description: The changing cmdlet calls that were run (in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample: ["Set-SmbClientConfiguration -EnableSMBQUIC $false -Force"]
"""

from ansible_collections.smb.alternative_ports.plugins.module_utils._winrm_options import (
    WINRM_ARGUMENT_SPEC,
    refuse_to_run_on_a_host,
)

ARGUMENT_SPEC = {
    "entries": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "server": {"type": "str", "required": True},
            "transport": {"type": "str", "required": True, "choices": ["tcp", "quic", "rdma"]},
            "port": {"type": "int", "required": True},
        },
    },
    "exclusive": {"type": "bool", "default": False},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "quic": {"type": "str", "choices": ["enabled", "disabled"]},
    **WINRM_ARGUMENT_SPEC,
}


def main() -> None:
    refuse_to_run_on_a_host("client_port_policy", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
