#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: quic_server_access
short_description: Manage the SMB over QUIC certificate mappings and client access control of a Windows server
version_added: 0.1.0
description:
  - Maps the server names clients use to a certificate of the machine's store (C(New-SmbServerCertificateMapping)),
    which the SMB over QUIC listener of Windows Server 2025 needs before it serves, on its standard or its alternative
    ports.
  - Grants, blocks or revokes client access by client certificate (C(Grant-), C(Block-) and
    C(Revoke-SmbClientAccessToServer)), for servers that use SMB over QUIC client access control.
  - A mapping that exists with another certificate is removed and created again. Runs on the controller and drives
    the host over WinRM.
extends_documentation_fragment:
  - smb.alternative_ports.attributes.WINDOWS
  - smb.alternative_ports.attributes.CHANGES_STATE
  - smb.alternative_ports._winrm
options:
  certificate_mappings:
    description: Certificate mappings to create, replace or remove.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Server name clients connect to, as in the certificate's subject or SAN.
        type: str
        required: true
      thumbprint:
        description: Thumbprint of the certificate (required with O(certificate_mappings[].state=present)).
        type: str
      store_name:
        description: Certificate store of the local machine that holds it.
        type: str
        default: My
      require_client_authentication:
        description: Whether clients must present a certificate (client access control). Left as Windows sets it when omitted.
        type: bool
      state:
        description: Whether the mapping should exist.
        type: str
        choices: [present, absent]
        default: present
  client_access:
    description: Client access control entries.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Server name the entry applies to.
        type: str
        required: true
      identifier_type:
        description: How O(client_access[].identifier) names the client certificate.
        type: str
        choices: [sha256, issuer]
        default: sha256
      identifier:
        description: SHA-256 hash of the client certificate, or its issuer's distinguished name.
        type: str
        required: true
      access:
        description: V(grant) allows the client, V(block) denies it, V(revoke) removes the entry.
        type: str
        choices: [grant, block, revoke]
        default: grant
seealso:
  - module: smb.alternative_ports.server_ports
"""

EXAMPLES = r"""
- name: Map the QUIC server name to its certificate and allow one client
  smb.alternative_ports.quic_server_access:
    certificate_mappings:
      - name: fs1.contoso.com
        thumbprint: 0123456789ABCDEF0123456789ABCDEF01234567
    client_access:
      - name: fs1.contoso.com
        identifier: 4F3C0A6B1F0E8D7C6B5A49382716F5E4D3C2B1A09F8E7D6C5B4A39281706F5E4
        access: grant

- name: Block a lost laptop
  smb.alternative_ports.quic_server_access:
    client_access:
      - name: fs1.contoso.com
        identifier: 9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C4D3E2F1A0B9C8D7E6F5A4B3C2D1E0F9A8B
        access: block
"""

RETURN = r"""
before:
  description: The certificate mappings and the client access entries of the named servers, before.
  returned: always
  type: dict
  sample: {"certificate_mappings": [], "client_access": []}
after:
  description: The same after the change (in check mode, unchanged; see RV(commands)).
  returned: always
  type: dict
  sample:
    certificate_mappings: [{"name": "fs1.contoso.com", "thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567", "store_name": "My",
                            "require_client_authentication": false}]
    client_access: []
commands:
  description: The changing cmdlet calls that were run (in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample: ["New-SmbServerCertificateMapping -Name fs1.contoso.com -Thumbprint 0123456789ABCDEF0123456789ABCDEF01234567 -StoreName My -Force"]
"""

from ansible_collections.smb.alternative_ports.plugins.module_utils._winrm_options import (
    WINRM_ARGUMENT_SPEC,
    refuse_to_run_on_a_host,
)

ARGUMENT_SPEC = {
    "certificate_mappings": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "thumbprint": {"type": "str"},
            "store_name": {"type": "str", "default": "My"},
            "require_client_authentication": {"type": "bool"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        },
    },
    "client_access": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "identifier_type": {"type": "str", "default": "sha256", "choices": ["sha256", "issuer"]},
            "identifier": {"type": "str", "required": True},
            "access": {"type": "str", "default": "grant", "choices": ["grant", "block", "revoke"]},
        },
    },
    **WINRM_ARGUMENT_SPEC,
}


def main() -> None:
    refuse_to_run_on_a_host("quic_server_access", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
