# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared documentation of the WinRM connection options of the collection's Windows modules."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  winrm_host:
    description:
      - Address of the Windows host's WinRM listener.
      - Defaults to the host's C(ansible_winrm_host), C(ansible_psrp_host) or C(ansible_host), then the inventory name.
    type: str
  winrm_port:
    description:
      - Port of the WinRM listener.
      - Defaults to C(ansible_winrm_port), C(ansible_psrp_port) or C(ansible_port), else V(5986) for HTTPS and V(5985) for HTTP.
    type: int
  winrm_user:
    description:
      - User to log on as. Defaults to C(ansible_winrm_user), C(ansible_psrp_user) or C(ansible_user).
    type: str
  winrm_password:
    description:
      - Password of O(winrm_user).
      - Defaults to C(ansible_winrm_password), C(ansible_psrp_password) or C(ansible_password). Never logged or returned.
    type: str
  winrm_scheme:
    description:
      - V(https) or V(http). Defaults to C(ansible_winrm_scheme) or C(ansible_psrp_protocol), else V(http) on port 5985
        and V(https) otherwise.
      - Over V(http) the module insists on message encryption (V(ntlm), V(kerberos) or V(credssp)) and refuses to send
        anything in the clear.
    type: str
    choices: [http, https]
  winrm_transport:
    description:
      - Authentication, as pywinrm names it. Defaults to C(ansible_winrm_transport) or C(ansible_psrp_auth), else V(ntlm).
    type: str
    choices: [ntlm, basic, kerberos, credssp, certificate]
  winrm_cert_validation:
    description:
      - Whether to validate the HTTPS certificate of the host.
      - Defaults to C(ansible_winrm_server_cert_validation) or C(ansible_psrp_cert_validation), else V(validate).
    type: str
    choices: [validate, ignore]
  winrm_ca_trust_path:
    description:
      - CA bundle to validate the host's HTTPS certificate with.
      - Defaults to C(ansible_winrm_ca_trust_path) or C(ansible_psrp_ca_cert).
    type: path
  winrm_message_encryption:
    description:
      - pywinrm's message encryption over HTTP. Defaults to C(ansible_winrm_message_encryption) or
        C(ansible_psrp_message_encryption), else V(auto). V(never) over HTTP is refused.
    type: str
    choices: [auto, always, never]
  winrm_operation_timeout:
    description:
      - Seconds a single WS-Management operation may take. Defaults to C(ansible_winrm_operation_timeout_sec), else V(20).
    type: int
notes:
  - The work runs on the controller, which talks to the host over WinRM with pywinrm; the host needs no Python.
  - Each task opens one WinRM shell and runs at most two PowerShell commands in it (read, then apply and read back),
    one in check mode. The data travels over stdin, never on the command line.
requirements:
  - pywinrm >= 0.5 on the controller
"""
