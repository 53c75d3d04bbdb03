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
author:
  - smb.alternative_ports developers (@smb-alternative-ports)
extends_documentation_fragment:
  - smb.alternative_ports.attributes
  - smb.alternative_ports.attributes.ACTION
  - smb.alternative_ports.attributes.READ_ONLY
  - smb.alternative_ports._server_ports
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [posix, windows]
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
running:
  description: Whether the server process is running.
  returned: always
  type: bool
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

import json
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.smb.alternative_ports.plugins.module_utils._backend_pysmbd import (
    HAS_TOML,
    PysmbdBackend,
    PysmbdError,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._backend_samba import SambaBackend, SambaError
from ansible_collections.smb.alternative_ports.plugins.module_utils._plan import table

ARGUMENT_SPEC = {
    "backend": {"type": "str", "default": "auto", "choices": ["auto", "pysmbd", "samba", "windows"]},
    "config_path": {"type": "path", "default": "/etc/pysmbd/pysmbd.toml"},
    "smb_conf": {"type": "path", "default": "/etc/samba/smb.conf"},
    "executable": {"type": "path"},
}


def describe(backend) -> dict:
    result = {"changed": False, "backend": backend.name, "ports": table(backend.read_table())}
    result["running"] = bool(backend.server_pids())
    if backend.name == "pysmbd":
        result["listeners"] = backend.listeners
        result["status"] = {}
        if result["running"] and backend.executable:
            rc, out, _err = backend.run_command(
                [backend.executable, "status", "--config", backend.config_path, "--json"]
            )
            if rc == 0:
                try:
                    result["status"] = json.loads(out)
                except ValueError:
                    result["status"] = {}
    else:
        result["samba_version"] = list(backend.version)
        result["parameter"] = backend.parameter
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
    return SambaBackend(params["smb_conf"], module.run_command, smbd, testparm)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    backend = build_backend(module)
    try:
        module.exit_json(**describe(backend))
    except (PysmbdError, SambaError) as exc:
        module.fail_json(msg=str(exc), backend=backend.name)


if __name__ == "__main__":
    main()
