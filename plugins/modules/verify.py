#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: verify
short_description: Prove, port by port, that SMB answers where it should and nowhere else
version_added: 1.0.0
description:
  - Probes every endpoint of one SMB server from the machine the task runs on, so C(delegate_to) picks the
    vantage point (the controller, the target itself, or any inventory host).
  - For each TCP endpoint it connects, sends an SMB2 NEGOTIATE offering dialects 2.0.2 to 3.1.1 (with the
    preauthentication integrity and encryption contexts) and reads the dialect, signing, server GUID,
    capabilities and maximum sizes from the answer. At O(level=session) it also logs in with NTLM, connects to
    a share and logs off cleanly.
  - Each endpoint gets one status, with its latency in milliseconds.
    V(smb) it answered SMB2 (and, at O(level=session), the login and tree connect worked);
    V(open) the TCP connection was accepted (O(level=tcp) only);
    V(not_smb) something else accepted the connection (HTTP, TLS, SMB1 only, garbage, silence);
    V(refused), V(timeout), V(unreachable) nothing accepted the connection;
    V(auth_failed), V(share_denied) the login or the tree connect was refused (O(level=session));
    V(tls_failed) QUIC only, the server certificate was not trusted (O(ca_path), the system CAs or
    O(fingerprint_sha256)) or the TLS handshake failed;
    V(alpn_mismatch) QUIC only, the server speaks QUIC but does not offer ALPN C(smb) (an HTTP/3 server, for example);
    V(unsupported_transport) an RDMA endpoint, which this version cannot probe (never counted as ok).
  - For each QUIC endpoint it does a QUIC handshake (TLS 1.3, ALPN C(smb)), checks the certificate, then sends the
    same NEGOTIATE on one bidirectional stream. Each QUIC row says whether the certificate was validated
    (RV(results[].tls_validation)). At O(level=session) the login and tree connect run over QUIC too.
  - An endpoint expected V(open) is ok with V(smb) (or V(open) at O(level=tcp)); an endpoint expected
    V(closed) is ok with V(refused), V(timeout) or V(unreachable).
  - All endpoints are probed concurrently on one event loop, at most O(concurrency) at a time, and each step
    (connect, NEGOTIATE, session) is bounded by O(timeout).
  - The module only reads, so it runs the same in check mode.
  - Delegated to the controller (a local connection, the controller's Python as C(ansible_python_interpreter), no
    C(become), C(async) or C(environment)), the action plugin runs the probes in its own process instead of starting
    the module, with the same options, rows, reports and messages at a fraction of the cost per host. From any other
    vantage point, the module runs there.
extends_documentation_fragment:
  - smb.alternative_ports.attributes
  - smb.alternative_ports.attributes.READ_ONLY
requirements:
  - Python 3.8 or later on the machine the task runs on.
  - smbprotocol (only for O(level=session)).
  - qh3 >= 2.1 (only for QUIC endpoints).
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the work run on the controller.
    support: full
    details: From the controller, the probes run in the action plugin; from any other vantage point, in the module.
  async:
    description: Supports being used with the C(async) keyword.
    support: full
    details: An C(async) task always runs the module.
  bypass_host_loop:
    description: Forces a 'global' task that does not execute per host.
    support: none
  check_mode:
    details: The module never changes the probed host; in check mode it probes and writes its reports as usual.
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  host:
    description:
      - The name or address of the SMB server to probe, resolved on the machine the task runs on.
      - >-
        Defaults to V(127.0.0.1), the machine the task runs on. When you probe another host, for example with
        C(delegate_to: localhost), set it to that host's address, such as
        C({{ ansible_host | default(inventory_hostname\) }}).
    type: str
    default: 127.0.0.1
  endpoints:
    description:
      - The endpoints to probe. Mutually exclusive with O(model).
    type: list
    elements: dict
    suboptions:
      transport:
        description: The SMB transport. V(tcp) and V(quic) are probed; V(rdma) is reported V(unsupported_transport).
        type: str
        choices: [tcp, quic, rdma]
        default: tcp
      port:
        description: The port number, 1 to 65535.
        type: int
        required: true
      expect:
        description: Whether SMB must answer there (V(open)) or nothing may accept connections (V(closed)).
        type: str
        choices: [open, closed]
        default: open
  model:
    description:
      - A model as M(smb.alternative_ports.validate) returns it (see C(schemas/alternative_ports.schema.json)).
        Every C(server.ports) entry is expected V(open); with C(server.standard_ports=close), TCP port 445 is
        expected V(closed). Mutually exclusive with O(endpoints).
      - Its C(verify) section supplies O(level), O(timeout), O(share), the credentials and the report paths
        that the task does not set; with C(verify.expect_removed_closed=false), O(previous) is not checked.
    type: dict
  previous:
    description:
      - The port table before a change, or the ports a change removed; each entry that is not expected V(open)
        any more (see O(current)) is expected V(closed). Entries are matched by transport and port; extra keys
        such as C(instances) are ignored. Only with O(model).
      - Give the C(before) table of M(smb.alternative_ports.server_ports) with its C(after) table as O(current).
    type: list
    elements: dict
    default: []
  current:
    description:
      - The port table the server has now, for example the C(after) table of M(smb.alternative_ports.server_ports);
        every entry is expected V(open) in place of the model's C(server.ports), so ports the server keeps
        beside the model's (without C(exclusive)) are proven too. Only with O(model).
    type: list
    elements: dict
  level:
    description:
      - How far to go on each endpoint expected V(open). V(tcp) only connects; V(negotiate) also sends an SMB2
        NEGOTIATE; V(session) also logs in with O(username) and O(password) and connects to O(share).
      - Endpoints expected V(closed) are probed at V(negotiate) at most, so the report says what answers there.
      - When not set, C(verify.level) of O(model), else V(negotiate).
    type: str
    choices: [tcp, negotiate, session]
  timeout:
    description:
      - Seconds allowed for each step of one endpoint (connect, NEGOTIATE, each session exchange).
      - When not set, C(verify.timeout) of O(model), else V(3).
    type: float
  concurrency:
    description:
      - How many endpoints are probed at the same time.
      - Samba forks a process for each connection; hundreds of simultaneous probes of one Samba host can make it
        answer later than O(timeout), and such endpoints show V(not_smb). Keep it moderate for one busy host.
    type: int
    default: 32
  username:
    description:
      - User for the NTLM login at O(level=session), optionally as C(DOMAIN\user).
      - When not set, C(verify.credentials.username) of O(model).
    type: str
  password:
    description:
      - Password of O(username). Never logged or returned.
      - When not set, C(verify.credentials.password) of O(model); that value is masked in the output too.
    type: str
  domain:
    description:
      - NTLM domain (workgroup) of O(username); empty for a local account of the server.
      - When not set, C(verify.credentials.domain) of O(model), else empty.
    type: str
  share:
    description:
      - Share to connect to at O(level=session).
      - When not set, C(verify.share) of O(model).
    type: str
  ca_path:
    description:
      - QUIC endpoints. A PEM file of the CA certificates that the server certificate must chain to. Without it,
        the CAs of the machine the task runs on are used.
      - Every certificate in the file is trusted as a root, so the server's own self-signed certificate can be given
        here; the name (O(tls_server_name) or O(host)) and the dates are still checked.
    type: path
  fingerprint_sha256:
    description:
      - QUIC endpoints. The SHA-256 fingerprint the server certificate must have, as C(openssl x509 -fingerprint
        -sha256) prints it (colons and case do not matter). Alone, it replaces the CA check, which suits
        self-signed certificates; with O(ca_path), both must pass.
    type: str
  validate_certs:
    description:
      - QUIC endpoints. With V(false), any certificate is accepted; every QUIC row then reports
        C(tls_validation=off), so the report shows that the server was not authenticated.
    type: bool
    default: true
  tls_server_name:
    description:
      - QUIC endpoints. The name sent in TLS SNI and checked against the certificate. Defaults to O(host).
    type: str
  report_json:
    description:
      - Path of a JSON report (host, level, summary and results) to write on the machine the task runs on.
        The directory must exist; the file is replaced atomically.
      - When not set, C(verify.report.json) of O(model).
    type: path
  report_junit:
    description:
      - Path of a JUnit XML report to write on the machine the task runs on, with one testcase per endpoint
        and a failure element for each endpoint that does not match its expectation.
      - When not set, C(verify.report.junit) of O(model).
    type: path
  fail_on_mismatch:
    description:
      - Fail the task when an endpoint does not match its expectation. With V(false) the task succeeds and the
        caller reads RV(summary) and RV(results).
    type: bool
    default: true
notes:
  - SMB Direct (RDMA) endpoints are reported as V(unsupported_transport) and count as failed, so that a run never
    claims a port works when it was not checked.
  - A closed QUIC (UDP) port shows V(refused) only where the ICMP port-unreachable comes back; behind a firewall
    that drops it, it shows V(timeout). Both count as closed.
  - A port expected V(closed) that drops packets shows V(timeout) after O(timeout) seconds; a firewall that
    rejects shows V(refused) or V(unreachable). All three count as closed.
seealso:
  - module: smb.alternative_ports.server_ports
  - module: smb.alternative_ports.validate
"""

EXAMPLES = r"""
- name: Prove the alternative ports from the controller
  smb.alternative_ports.verify:
    host: "{{ ansible_host | default(inventory_hostname) }}"
    endpoints:
      - {transport: tcp, port: 4445}
      - {transport: tcp, port: 14445}
      - {transport: tcp, port: 445, expect: closed}
  delegate_to: localhost

- name: Check the host's model (smb_alternative_ports)
  smb.alternative_ports.validate:
  register: validated

- name: Apply its server ports
  smb.alternative_ports.server_ports:
    backend: pysmbd
    ports: "{{ validated.model.server.ports }}"
    exclusive: "{{ validated.model.server.exclusive }}"
  register: ports

- name: Derive the endpoints from the model, with the ports the change removed, and write reports
  smb.alternative_ports.verify:
    host: "{{ ansible_host | default(inventory_hostname) }}"
    model: "{{ validated.model }}"
    previous: "{{ ports.before | difference(ports.after) }}"
    report_json: /var/tmp/verify-{{ inventory_hostname }}.json
    report_junit: /var/tmp/verify-{{ inventory_hostname }}.xml
  delegate_to: localhost

- name: Log in and connect to a share on every configured port, without failing the play
  smb.alternative_ports.verify:
    host: fileserver.example.com
    endpoints:
      - {port: 4445}
    level: session
    username: svc_verify
    password: "{{ vault_svc_verify_password }}"
    share: data
    fail_on_mismatch: false
  register: proof

- name: Show the table
  ansible.builtin.debug:
    var: proof.table
"""

RETURN = r"""
results:
  description: One row per endpoint, in the order the endpoints were given (or derived from the model).
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The name that was probed.
      type: str
      sample: fileserver.example.com
    address:
      description: The address it resolved to, or null when it did not resolve.
      type: str
      sample: 192.0.2.10
    transport:
      description: V(tcp), V(quic) or V(rdma).
      type: str
      sample: tcp
    port:
      description: The port.
      type: int
      sample: 4445
    expect:
      description: V(open) or V(closed).
      type: str
      sample: open
    status:
      description: >-
        V(smb), V(open), V(not_smb), V(refused), V(timeout), V(unreachable), V(auth_failed), V(share_denied),
        V(tls_failed), V(alpn_mismatch) or V(unsupported_transport).
      type: str
      sample: smb
    ok:
      description: Whether the status matches the expectation.
      type: bool
      sample: true
    latency_ms:
      description: Wall time of the probe of this endpoint, in milliseconds; null when it was not probed.
      type: float
      sample: 1.83
    dialect:
      description: The SMB2 dialect the server chose, when it answered the NEGOTIATE.
      type: str
      sample: 3.1.1
    signing_required:
      description: Whether the server requires signing.
      type: bool
      sample: false
    server_guid:
      description: The server's GUID.
      type: str
      sample: 1c5ac4a2-3b44-4a0c-9a7e-4e5fd3c1f0a2
    capabilities:
      description: The server's global capabilities.
      type: list
      elements: str
      sample: [dfs, leasing, large_mtu, multi_channel]
    max_read_size:
      description: Largest READ the server accepts, in bytes.
      type: int
      sample: 8388608
    max_write_size:
      description: Largest WRITE the server accepts, in bytes.
      type: int
      sample: 8388608
    max_transact_size:
      description: Largest transaction the server accepts, in bytes.
      type: int
      sample: 8388608
    cipher:
      description: The cipher the server chose in its 3.1.1 encryption context, if any.
      type: str
      sample: AES-128-GCM
    tls_validation:
      description: QUIC rows only, V(on) when the server certificate was checked, V(off) with O(validate_certs=false); null for TCP.
      type: str
      sample: "on"
    certificate_sha256:
      description: QUIC rows only, the SHA-256 fingerprint of the certificate the server presented.
      type: str
      sample: "a9:1d:50:34:4c:b4:fd:ce:db:5c:08:e9:7a:0d:d1:db:19:5e:7f:c2:a9:8c:7d:9f:cc:c6:a7:1d:1b:20:55:8e"
    error:
      description: What went wrong or what answered instead, or null.
      type: str
      sample: "fs1 port 445/tcp refused the connection (nothing listens there)"
summary:
  description: Counts of the endpoints.
  returned: always
  type: dict
  contains:
    total:
      description: Number of endpoints.
      type: int
    ok:
      description: Endpoints that matched their expectation.
      type: int
    failed:
      description: Endpoints that did not.
      type: int
  sample: {total: 3, ok: 3, failed: 0}
table:
  description: The report as fixed-width lines, one per endpoint after a header line, then a summary line.
  returned: always
  type: list
  elements: str
msg:
  description: The same table as one text.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smb.alternative_ports.plugins.module_utils._verify_task import (
    ARGUMENT_SPEC,
    MUTUALLY_EXCLUSIVE,
    REQUIRED_ONE_OF,
    VerifyFailed,
    run_verify,
    secret_values,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
        required_one_of=REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    module.no_log_values.update(secret_values(module.params))
    try:
        outcome = run_verify(module.params)
    except VerifyFailed as exc:
        module.fail_json(msg=exc.msg, **exc.fields)
    if outcome.result.get("failed"):
        module.fail_json(**outcome.result)
    for warning in outcome.warnings:
        module.warn(warning)
    module.exit_json(**outcome.result)


if __name__ == "__main__":
    main()
