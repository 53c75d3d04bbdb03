# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choosing and building the backend of a Linux host from a module's options (``backend: auto`` included).

This is a private module_utils file: its API may change without notice. Windows hosts never reach a module:
their action plugin builds ``backends.windows.WindowsBackend`` on the controller.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._local import LocalBackend
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.pysmbd import HAS_TOML, PysmbdBackend
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.samba import SambaBackend

# The options of the backend doc fragment (smb.alternative_ports._server_ports).
BACKEND_ARGUMENT_SPEC = {
    "backend": {"type": "str", "default": "auto", "choices": ["auto", "pysmbd", "samba", "windows"]},
    "config_path": {"type": "path", "default": "/etc/pysmbd/pysmbd.toml"},
    "smb_conf": {"type": "path", "default": "/etc/samba/smb.conf"},
    "executable": {"type": "path"},
}


def linux_backend(module: AnsibleModule) -> LocalBackend:
    """The backend the module's options name; ``auto`` is pysmbd where its config exists, else Samba."""
    backend = _build(module)
    backend.manage_firewall = bool(module.params.get("firewall"))
    backend.selinux_mode = str(module.params.get("selinux") or "never")
    return backend


def _build(module: AnsibleModule) -> LocalBackend:
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
    return SambaBackend(params["smb_conf"], module.run_command, smbd, testparm, params.get("samba_restart_command"))
