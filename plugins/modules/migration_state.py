#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: migration_state
short_description: Read and record the state file of a port migration on the controller
version_added: 0.1.0
description:
  - Keeps the JSON state file of the C(smb.alternative_ports.migrate) role on the controller; every phase of a
    migration (V(preflight), V(add), V(clients), V(drain), V(remove)) is recorded per host with its result, so a
    stopped run resumes after the last phase a host completed and C(migrate_action=rollback) finds the table each
    host had before the migration.
  - Without O(phase) and O(forget) it only reads the file (a missing file is an empty state).
  - The file is replaced atomically. It holds port tables and client addresses, no secret.
  - Runs on the controller only; use it with C(run_once) (the role does).
extends_documentation_fragment:
  - smb.alternative_ports.attributes
  - smb.alternative_ports.attributes.ACTION
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the file is not written; RV(state) is what it would hold.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: partial
    details: Recording a phase adds an entry to the file's event log each time.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: all
options:
  path:
    description: The state file on the controller; created with its directory when missing.
    type: path
    required: true
  migration:
    description:
      - The name of the migration, for example C(tcp-445-to-tcp-4445). A file that records another migration is
        refused, so two migrations never share one file by mistake.
    type: str
    required: true
  phase:
    description: The phase to record for the hosts of O(outcomes).
    type: str
    choices: [preflight, add, clients, drain, remove]
  outcomes:
    description:
      - One dict per host with C(host) (its inventory name), C(status) (V(done), V(failed) or V(rolled_back); only
        V(done) marks the phase completed), C(result) (kept as is, for example a
        M(smb.alternative_ports.server_ports) result), and the host's C(from) and C(to) endpoints.
    type: list
    elements: dict
    default: []
  forget:
    description: Hosts whose record is removed (a rollback put them back, their migration starts over).
    type: list
    elements: str
    default: []
seealso:
  - module: smb.alternative_ports.server_ports
"""

EXAMPLES = r"""
- name: Read the migration's state
  smb.alternative_ports.migration_state:
    path: "{{ playbook_dir }}/migration-state.json"
    migration: tcp-445-to-tcp-4445
  run_once: true
  register: state

- name: Record the add phase for this batch
  smb.alternative_ports.migration_state:
    path: "{{ playbook_dir }}/migration-state.json"
    migration: tcp-445-to-tcp-4445
    phase: add
    outcomes:
      - {host: fs1, status: done, result: "{{ added }}", from: {transport: tcp, port: 445}, to: {transport: tcp, port: 4445}}
  run_once: true
"""

RETURN = r"""
path:
  description: The state file.
  returned: success
  type: str
state:
  description: The whole document after this task (C(hosts) with each host's C(completed) phases and C(phases) results, C(events)).
  returned: success
  type: dict
completed:
  description: Per host, the phases it has completed, in order.
  returned: success
  type: dict
  sample: {fs1: [preflight, add]}
done:
  description: The hosts for which O(phase) was recorded V(done) by this task.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "migration": {"type": "str", "required": True},
            "phase": {"type": "str", "choices": ["preflight", "add", "clients", "drain", "remove"]},
            "outcomes": {"type": "list", "elements": "dict", "default": []},
            "forget": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    module.fail_json(msg="smb.alternative_ports.migration_state runs on the controller through its action plugin")


if __name__ == "__main__":
    main()
