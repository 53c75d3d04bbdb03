#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: validate
short_description: Validate an SMB alternative-ports model on the controller
version_added: 0.1.0
description:
  - Checks the model C(smb_alternative_ports) against the collection's JSON Schema
    (C(schemas/alternative_ports.schema.json)) and against the rules a schema cannot say
    (duplicate ports, TCP and RDMA on one number, TCP or RDMA server ports on Windows, port 139,
    a configuration that would lock every client out, shadowed policy entries).
  - Runs entirely on the controller and never contacts the host, so a bad model stops a play before any
    host is touched.
  - "On error it fails and lists B(every) problem with its JSON path, for example
    C(server.ports[2].port: 65536 is greater than the maximum of 65535 (use a port from 1 to 65535))."
  - On success it returns the model with every default filled in, and the backend it resolves to.
extends_documentation_fragment:
  - smb.alternative_ports.attributes
  - smb.alternative_ports.attributes.ACTION
  - smb.alternative_ports.attributes.READ_ONLY
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: all
options:
  model:
    description:
      - The model to validate, shaped by C(schemas/alternative_ports.schema.json).
      - Defaults to the host's C(smb_alternative_ports) variable.
    type: dict
  host_is_windows:
    description:
      - Whether the host is a Windows host, which decides what O(model) C(backend=auto) means.
      - Defaults to true when the host's C(ansible_connection) is C(winrm) or C(psrp), or its C(ansible_os_family) is C(Windows).
    type: bool
notes:
  - The C(windows) backend refuses TCP and RDMA server ports, because Windows can move only its SMB over QUIC
    listener; TCP and RDMA listening ports cannot be changed on Windows.
seealso:
  - module: smb.alternative_ports.server_ports
  - module: smb.alternative_ports.verify
"""

EXAMPLES = r"""
- name: Validate the host's model before anything else
  smb.alternative_ports.validate:
  register: validated

- name: Validate an explicit model
  smb.alternative_ports.validate:
    model:
      backend: pysmbd
      server:
        ports:
          - {transport: tcp, port: 4445}
          - {transport: tcp, port: 14445}
        standard_ports: close
"""

RETURN = r"""
model:
  description:
    - The model with every default filled in.
    - C(verify.credentials.password) is replaced by C(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER), since task results are
      printed and handed to every callback; read the password from the model you passed in.
  returned: success
  type: dict
  sample:
    backend: pysmbd
    server:
      ports: [{transport: tcp, port: 4445, instances: default}]
      exclusive: false
      standard_ports: close
      firewall: true
      allow_no_listeners: false
    client: {mappings: [], port_policy: [], port_policy_exclusive: false, quic: null}
    verify: {from: controller, level: negotiate, timeout: 3, expect_removed_closed: true, report: {}}
backend:
  description: The backend the model resolves to on this host (C(auto) stays C(auto) unless the host is Windows).
  returned: success
  type: str
  sample: pysmbd
errors:
  description: Every problem found, each with its JSON path, message and fix.
  returned: failure
  type: list
  elements: dict
  sample:
    - path: server.ports[2].port
      message: 65536 is greater than the maximum of 65535
      fix: use a port from 1 to 65535
      text: "server.ports[2].port: 65536 is greater than the maximum of 65535 (use a port from 1 to 65535)"
model_warnings:
  description: Advice that does not stop the play (also shown as warnings).
  returned: always
  type: list
  elements: str
  sample: ["server.ports[1]: port 4445 is used by quic and tcp (best practice is one distinct port per transport)"]
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={"model": {"type": "dict"}, "host_is_windows": {"type": "bool"}}, supports_check_mode=True
    )
    module.fail_json(msg="smb.alternative_ports.validate runs on the controller through its action plugin")


if __name__ == "__main__":
    main()
