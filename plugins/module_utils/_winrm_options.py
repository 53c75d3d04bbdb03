# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``winrm_*`` options every Windows module takes, as one argument spec (documented in doc_fragments/_winrm.py).

This is a private module_utils file: its API may change without notice.
"""

from __future__ import annotations

WINRM_ARGUMENT_SPEC = {
    "winrm_host": {"type": "str"},
    "winrm_port": {"type": "int"},
    "winrm_user": {"type": "str"},
    "winrm_password": {"type": "str", "no_log": True},
    "winrm_scheme": {"type": "str", "choices": ["http", "https"]},
    "winrm_transport": {"type": "str", "choices": ["ntlm", "basic", "kerberos", "credssp", "certificate"]},
    "winrm_cert_validation": {"type": "str", "choices": ["validate", "ignore"]},
    "winrm_ca_trust_path": {"type": "path"},
    "winrm_message_encryption": {"type": "str", "choices": ["auto", "always", "never"]},
    "winrm_operation_timeout": {"type": "int"},
}


def refuse_to_run_on_a_host(name: str, argument_spec: dict) -> None:
    """The module side of a Windows-only module: its action plugin does the work, so a module run is a mistake."""
    # Imported here so that the option spec above stays importable without ansible (the action plugins use it too).
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    module.fail_json(
        msg=f"smb.alternative_ports.{name} runs on the controller through its action plugin; it cannot run as a module"
    )
