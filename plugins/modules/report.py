#!/usr/bin/python
# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: report
short_description: Show the verify results of a whole fleet as a picture, nmap XML and Markdown
version_added: 1.1.0
description:
  - Gathers the results that M(smb.alternative_ports.verify) registered on every host of the play, from
    C(hostvars), and writes them on the controller as
    a self-contained HTML page (O(html)),
    nmap-compatible XML (O(nmap_xml)) and
    Markdown for a pull request or a change ticket (O(markdown)).
  - The HTML page is a matrix of hosts by (transport, port). Each cell is coloured by the endpoint's verify status
    (V(smb), V(refused), V(timeout), V(tls_failed), ...), marked when it does not match its expectation, and
    shows the dialect, signing, latency and error on hover. A summary line counts hosts, ports and failures. The
    page has no script and loads no font, style or image from anywhere.
  - The XML follows nmap's format (C(nmaprun), C(host), C(address), C(ports), C(port), C(state), C(service)), so
    C(ndiff before.xml after.xml) shows what a change did port by port, and C(xsltproc) renders it with nmap's
    own stylesheet. An endpoint that answered in any way is C(open), V(refused) is C(closed), V(timeout) and
    V(unreachable) are C(filtered) (C(open|filtered) for QUIC, which is UDP). SMB endpoints are service
    C(microsoft-ds), with the dialect as version.
  - With several O(phases), for example the phases of a port migration, the HTML page and the Markdown show one
    matrix per phase, in the order given.
  - A host that has no result (the verify task was skipped, failed before probing, or never ran there) keeps its
    row with the reason, and the summary names it.
  - Runs once per play on the controller whatever the hosts, and never contacts a host.
extends_documentation_fragment:
  - smb.alternative_ports.attributes
  - smb.alternative_ports.attributes.ACTION
  - smb.alternative_ports.attributes.CHANGES_STATE
attributes:
  bypass_host_loop:
    support: full
    details: The task runs once for the play and reads every host's results from C(hostvars).
  check_mode:
    details: In check mode nothing is written; RV(files) says which files would change.
  diff_mode:
    details: One diff per file that changes, before and after as text.
  idempotent:
    details: >-
      A file is rewritten only when its content differs. The Markdown and the XML hold no latency and no clock, so
      they stay the same while the fleet's statuses do; the HTML page shows each probe's latency on hover, so a
      new verify run usually changes it.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: all
options:
  results_var:
    description:
      - Name of the variable that the verify task registered on each host (C(register)), for a report of one set of
        results. A verify task with a loop is fine, the rows of all its items are used.
      - Exactly one of O(results_var) and O(phases) is required.
    type: str
  phase:
    description:
      - A label for O(results_var), shown as the heading of its matrix (for example V(after)).
    type: str
    default: ""
  phases:
    description:
      - Several sets of results, one matrix each, in this order. The last one is the one O(nmap_xml) describes,
        unless its path contains C({phase}).
    type: list
    elements: dict
    suboptions:
      name:
        description: The phase's label; each phase needs its own.
        type: str
        required: true
      results_var:
        description: The variable that the verify task of this phase registered on each host.
        type: str
        required: true
  hosts:
    description:
      - The hosts to report, in this order.
      - Defaults to every host of the play, including the ones that failed (C(ansible_play_hosts_all)), so a host
        whose verify failed is shown rather than dropped.
      - With C(serial), hosts of later batches have no result yet; give C({{ ansible_play_batch }}) for a report per
        batch, or run the report in a play after the batched one for the whole fleet.
    type: list
    elements: str
  title:
    description: Heading of the HTML page and of the Markdown.
    type: str
    default: SMB ports of the fleet
  html:
    description:
      - Path of the HTML page to write on the controller. Its directory must exist.
    type: path
  nmap_xml:
    description:
      - Path of the nmap XML file to write on the controller. Its directory must exist.
      - When the path contains C({phase}), one file is written per phase, C({phase}) replaced by the phase's name
        (V(results) for an unnamed one; characters other than letters, digits, C(.), C(_) and C(-) become C(_)).
        Otherwise the file describes the last phase.
    type: path
  markdown:
    description:
      - Path of the Markdown file to write on the controller. Its directory must exist. The text is also returned
        in RV(markdown).
    type: path
  timestamp:
    description:
      - When the results were taken, as ISO 8601 text (V(2026-12-02T14:00:00Z)) or a Unix time, shown in the
        reports and written as the nmap scan's start time.
      - Without it the reports hold no time, so that the same results give the same files. A value such as
        C({{ now(utc=true\).isoformat(\) }}) makes every run a change.
    type: raw
  fail_on_failures:
    description:
      - Fail the task, after writing the files, when an endpoint does not match its expectation or a host has no
        result. With the default V(false) the report only shows them.
    type: bool
    default: false
notes:
  - The task runs once, for the first host of the play; a C(register) of it is set on that host only.
  - Relative paths are relative to the directory C(ansible-playbook) runs in.
  - Files are replaced atomically (a temporary file, then a rename), so a browser or a pipeline never reads half
    a report.
seealso:
  - module: smb.alternative_ports.verify
  - name: Ndiff, nmap's tool that compares two scans
    description: Reads two XML files of this module and prints the ports whose state changed.
    link: https://nmap.org/ndiff/
"""

EXAMPLES = r"""
- name: Prove every server's ports from the controller
  smb.alternative_ports.verify:
    host: "{{ ansible_host | default(inventory_hostname) }}"
    endpoints:
      - {transport: tcp, port: 4445}
      - {transport: quic, port: 8443}
      - {transport: tcp, port: 445, expect: closed}
    fail_on_mismatch: false
  delegate_to: localhost
  register: proof

- name: One picture of the fleet, nmap XML for ndiff and Markdown for the change ticket
  smb.alternative_ports.report:
    results_var: proof
    title: File servers after change CHG-1234
    html: /var/tmp/smb-fleet.html
    nmap_xml: /var/tmp/smb-fleet-after.xml
    markdown: /var/tmp/smb-fleet.md

- name: A migration's phases side by side, one nmap XML per phase
  smb.alternative_ports.report:
    phases:
      - {name: before, results_var: verify_before}
      - {name: add, results_var: verify_add}
      - {name: remove, results_var: verify_remove}
    html: "{{ playbook_dir }}/migration.html"
    nmap_xml: "{{ playbook_dir }}/migration-{phase}.xml"
    fail_on_failures: true
"""

RETURN = r"""
summary:
  description: Counts over all phases.
  returned: always
  type: dict
  contains:
    hosts:
      description: Hosts in the report.
      type: int
      sample: 3
    ports:
      description: Distinct (transport, port) columns.
      type: int
      sample: 4
    endpoints:
      description: Verify rows shown.
      type: int
      sample: 11
    failures:
      description: Endpoints that did not match their expectation.
      type: int
      sample: 1
    hosts_without_result:
      description: Hosts that had no verify result in at least one phase.
      type: list
      elements: str
      sample: [fs4]
files:
  description: Each file the task wrote, or would write in check mode, and whether its content changed.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path on the controller.
      type: str
      sample: /var/tmp/smb-fleet.html
    changed:
      description: Whether the file was (or in check mode would be) written.
      type: bool
      sample: true
markdown:
  description: The Markdown report, also when O(markdown) is not set.
  returned: always
  type: str
  sample: "## SMB ports of the fleet\n\n**3 hosts, 4 ports, 0 failures**\n"
msg:
  description: The summary line, for example C(3 hosts, 4 ports, 1 failure).
  returned: always
  type: str
  sample: 3 hosts, 4 ports, 1 failure
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smb.alternative_ports.plugins.module_utils._report_args import (
    REPORT_ARGUMENT_SPEC,
    REPORT_MUTUALLY_EXCLUSIVE,
    REPORT_REQUIRED_ONE_OF,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=REPORT_ARGUMENT_SPEC,
        mutually_exclusive=REPORT_MUTUALLY_EXCLUSIVE,
        required_one_of=REPORT_REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    module.fail_json(msg="smb.alternative_ports.report runs on the controller through its action plugin")


if __name__ == "__main__":
    main()
