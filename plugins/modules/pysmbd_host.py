#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pysmbd_host
short_description: Install, configure and start the bundled pysmbd server on a Linux host in one module call
version_added: 0.1.0
description:
  - The work of the C(smb.alternative_ports.pysmbd) role
    in one task, so that a run that changes nothing costs one module start on the host instead of some twenty.
  - On the controller, the action plugin packs O(sources) into a deterministic tarball, hashes the passwords of
    O(users), renders O(config_template), O(users_template) and O(unit_template) with the task's variables, and reads
    PID 1's name, the installed tarball's checksum and the existing config with one shell command (no Python).
  - On the host, the module compares and changes only what differs, in this order. The tarball (sent only when its
    SHA-256 differs) and the virtualenv (C(pip install) only when the tarball changed or C(pysmbd) is missing); the
    group and the system account; the directories; the QUIC certificate (generated once with C(pysmbd gen-cert)
    unless O(quic_certificate) is given); the users file; the config, checked with C(pysmbd check-config) before it
    replaces the old one; the systemd unit, checked with C(systemd-analyze verify) when it changed; and, in supervisor
    mode, the running server (started when it is not running).
  - Once the config exists and O(keep_listeners=true), its C([[listeners]]) are kept, since
    M(smb.alternative_ports.server_ports) owns them.
  - It restarts and reloads nothing itself; RV(restart) and RV(reload) say what the server needs, so the role can
    notify its handlers.
extends_documentation_fragment:
  - smb.alternative_ports.attributes
  - smb.alternative_ports.attributes.ACTION
  - smb.alternative_ports.attributes.CHANGES_STATE
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [posix]
options:
  sources:
    description:
      - The directory of pysmbd's Python project on the controller (the role's C(files/pysmbd)).
    type: path
    required: true
  install_dir:
    description:
      - Where the tarball and the unpacked sources live on the host.
    type: path
    required: true
  venv:
    description:
      - The virtualenv pysmbd is installed into.
    type: path
    required: true
  python:
    description:
      - The Python that makes the virtualenv.
    type: str
    default: python3
  pip_args:
    description:
      - More arguments for C(pip install), for example C(--no-index --find-links DIR).
    type: list
    elements: str
    default: []
  user:
    description:
      - The system account pysmbd runs as (shell C(/usr/sbin/nologin), no home directory).
    type: str
    default: pysmbd
  group:
    description:
      - The account's primary group; it owns the config, the users file and the directories.
    type: str
    default: pysmbd
  directories:
    description:
      - Directories to create, each with C(path) and optionally C(name) (a label), C(owner) (default O(user)) and
        C(mode) (default C(0770)); the group is always O(group). Other keys (a share's) are ignored.
    type: list
    elements: dict
    default: []
  config_path:
    description:
      - The pysmbd config file (TOML).
    type: path
    required: true
  users_file:
    description:
      - The users file (smbpasswd lines).
    type: path
    required: true
  unit_path:
    description:
      - The systemd unit file, written in every service mode.
    type: path
    required: true
  listeners:
    description:
      - The listeners (C(transport), C(address), C(port)) of a config written for the first time, or of every config
        when O(keep_listeners=false).
    type: list
    elements: dict
    default: []
  keep_listeners:
    description:
      - Keep the listeners of an existing config.
    type: bool
    default: true
  quic:
    description:
      - Write the C([quic]) table and provide a certificate even without a quic listener (so that
        M(smb.alternative_ports.server_ports) can add one later).
    type: bool
    default: false
  quic_certificate:
    description:
      - A PEM certificate on the host for SMB over QUIC. With O(quic_private_key), or neither for a generated pair.
    type: str
    default: ""
  quic_private_key:
    description:
      - The PEM private key of O(quic_certificate), on the host.
    type: str
    default: ""
  quic_generated_certificate:
    description:
      - Where the generated certificate goes when O(quic_certificate) is empty.
    type: path
  quic_generated_private_key:
    description:
      - Where the generated private key goes (owner root, group O(group), mode C(0640)).
    type: path
  quic_certificate_names:
    description:
      - The names of a generated certificate (the first is its subject).
    type: list
    elements: str
    default: []
  quic_certificate_days:
    description:
      - How long a generated certificate is valid.
    type: int
    default: 825
  users:
    description:
      - The accounts, each with C(name), C(password) and optionally C(uid). The passwords are hashed on the
        controller and never reach the host or a log; only the users file's hashes do.
    type: list
    elements: dict
    default: []
  service_mode:
    description:
      - V(systemd) or V(supervisor) (pysmbd's own C(serve --daemon)); V(auto) picks V(systemd) when it is PID 1.
      - In V(systemd) mode the module only writes the unit; enable and start it with M(ansible.builtin.systemd_service).
    type: str
    choices: [auto, systemd, supervisor]
    default: auto
  config_template:
    description:
      - The template of the config, looked up like M(ansible.builtin.template)'s O(ansible.builtin.template#module:src).
      - It sees the task's variables and C(pysmbd_effective_listeners), C(pysmbd_quic_needed),
        C(pysmbd_needs_low_ports) and C(pysmbd_password_hashes) (one NT hash per user, in order).
    type: str
    default: pysmbd.toml.j2
  users_template:
    description:
      - The template of the users file (same variables as O(config_template)).
    type: str
    default: users.j2
  unit_template:
    description:
      - The template of the systemd unit (same variables as O(config_template)).
    type: str
    default: pysmbd.service.j2
  source_checksum:
    description:
      - Set by the action plugin, not by users. The SHA-256 of the tarball the controller packed.
    type: str
  source_file:
    description:
      - Set by the action plugin, not by users. The tarball it sent, when the host's differs.
    type: path
  quic_pair:
    description:
      - Set by the action plugin, not by users. The certificate and key to use or generate, when QUIC is needed.
    type: dict
  needs_low_ports:
    description:
      - Set by the action plugin, not by users. Whether a listener is below 1024 (supervisor mode grants
        C(CAP_NET_BIND_SERVICE) then).
    type: bool
    default: false
  config_content:
    description:
      - Set by the action plugin, not by users. The rendered config.
    type: str
  users_content:
    description:
      - Set by the action plugin, not by users. The rendered users file.
    type: str
  unit_content:
    description:
      - Set by the action plugin, not by users. The rendered unit.
    type: str
notes:
  - The diff shows the config and the unit in full, and the users file with every NT hash replaced by a marker that
    only says whether it changed.
seealso:
  - module: smb.alternative_ports.server_ports
"""

EXAMPLES = r"""
# The pysmbd role runs it with its variables; sources is the role's files/pysmbd.
- name: Install, configure and start pysmbd
  smb.alternative_ports.pysmbd_host:
    sources: /usr/share/ansible/collections/ansible_collections/smb/alternative_ports/roles/pysmbd/files/pysmbd
    install_dir: /opt/pysmbd
    venv: /opt/pysmbd/venv
    directories:
      - {name: config, path: /etc/pysmbd, owner: root, mode: "0750"}
      - {name: data, path: /srv/pysmbd/data}
    config_path: /etc/pysmbd/pysmbd.toml
    users_file: /etc/pysmbd/users
    unit_path: /etc/systemd/system/pysmbd.service
    listeners:
      - {transport: tcp, address: 0.0.0.0, port: 4445}
    users:
      - {name: alice, password: "{{ vault_alice_password }}"}
  register: pysmbd_state
"""

RETURN = r"""
changes:
  description: What changed (or would change in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [sources, installed, config]
restart:
  description: The server needs a restart (new code, or it runs code older than the installed one).
  returned: always
  type: bool
  sample: false
reload:
  description: The server needs a reload (new config, users file or certificate) and no restart.
  returned: always
  type: bool
  sample: true
unit_changed:
  description: The systemd unit changed (systemd needs a daemon-reload).
  returned: always
  type: bool
  sample: false
service_mode:
  description: The service mode used, V(systemd) or V(supervisor).
  returned: always
  type: str
  sample: supervisor
listeners:
  description: The listeners written to the config (the existing config's when they were kept).
  returned: always
  type: list
  elements: dict
  sample: [{transport: tcp, address: 0.0.0.0, port: 4445}]
quic_needed:
  description: Whether the config has a C([quic]) table.
  returned: always
  type: bool
  sample: true
quic_certificate:
  description: The QUIC certificate the config names, or an empty string.
  returned: always
  type: str
  sample: /etc/pysmbd/quic-cert.pem
quic_fingerprint_sha256:
  description: The SHA-256 fingerprint of the QUIC certificate, lower-case pairs separated by colons, or an empty
    string (no QUIC, or a certificate still to be generated in check mode).
  returned: always
  type: str
  sample: "3f:a1:...:9c"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smb.alternative_ports.plugins.module_utils._pysmbd_host import HostError, PysmbdHost

ARGUMENT_SPEC = {
    "sources": {"type": "path", "required": True},
    "install_dir": {"type": "path", "required": True},
    "venv": {"type": "path", "required": True},
    "python": {"type": "str", "default": "python3"},
    "pip_args": {"type": "list", "elements": "str", "default": []},
    "user": {"type": "str", "default": "pysmbd"},
    "group": {"type": "str", "default": "pysmbd"},
    "directories": {"type": "list", "elements": "dict", "default": []},
    "config_path": {"type": "path", "required": True},
    "users_file": {"type": "path", "required": True},
    "unit_path": {"type": "path", "required": True},
    "listeners": {"type": "list", "elements": "dict", "default": []},
    "keep_listeners": {"type": "bool", "default": True},
    "quic": {"type": "bool", "default": False},
    "quic_certificate": {"type": "str", "default": ""},
    "quic_private_key": {"type": "str", "default": "", "no_log": False},
    "quic_generated_certificate": {"type": "path"},
    "quic_generated_private_key": {"type": "path", "no_log": False},
    "quic_certificate_names": {"type": "list", "elements": "str", "default": []},
    "quic_certificate_days": {"type": "int", "default": 825},
    "users": {"type": "list", "elements": "dict", "default": [], "no_log": True},
    "service_mode": {"type": "str", "default": "auto", "choices": ["auto", "systemd", "supervisor"]},
    "config_template": {"type": "str", "default": "pysmbd.toml.j2"},
    "users_template": {"type": "str", "default": "users.j2"},
    "unit_template": {"type": "str", "default": "pysmbd.service.j2"},
    "source_checksum": {"type": "str"},
    "source_file": {"type": "path"},
    "quic_pair": {"type": "dict"},
    "needs_low_ports": {"type": "bool", "default": False},
    "config_content": {"type": "str"},
    "users_content": {"type": "str", "no_log": True},
    "unit_content": {"type": "str"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["config_content"] is None or module.params["source_checksum"] is None:
        module.fail_json(msg="pysmbd_host runs through its action plugin: call it as smb.alternative_ports.pysmbd_host")
    if module.params["service_mode"] == "auto":
        module.fail_json(
            msg="service_mode auto is resolved by the action plugin: call smb.alternative_ports.pysmbd_host"
        )
    try:
        result = PysmbdHost(module).converge()
    except (HostError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
