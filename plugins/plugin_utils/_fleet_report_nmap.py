# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report as nmap XML, so ``ndiff`` compares two runs and nmap's stylesheet renders one.

This is a private controller-side file: its API may change without notice.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._fleet_report import (
    REPORT_NAME,
    Cell,
    FleetReport,
    Phase,
    failure_text,
    meaning,
    signing_text,
)

NMAP_STYLESHEET = "file:///usr/share/nmap/nmap.xsl"


def nmap_state(cell: Cell) -> Tuple[str, str]:
    """(state, reason) as nmap would write them for this endpoint; QUIC is UDP, where silence is open|filtered."""
    _meaning, state, reason = meaning(cell.status)
    if cell.transport == "quic":
        if cell.status == "timeout":
            return "open|filtered", "no-response"
        if cell.status == "refused":
            return "closed", "port-unreach"
    return state, reason


def _nmap_service(cell: Cell) -> dict:
    # The endpoint was configured as SMB; only an answer that is something else makes it "unknown".
    attributes = {"name": "unknown" if cell.status in ("not_smb", "alpn_mismatch") else "microsoft-ds"}
    if cell.status == "smb":
        attributes["product"] = "SMB2"
        if cell.dialect:
            attributes["version"] = cell.dialect
        extra = [text for text in (signing_text(cell), cell.cipher and "cipher %s" % cell.cipher) if text]
        if extra:
            attributes["extrainfo"] = ", ".join(extra)
        attributes["method"] = "probed"
        attributes["conf"] = "10"
    elif cell.status in ("tls_failed", "alpn_mismatch", "not_smb"):
        attributes["extrainfo"] = cell.status
        attributes["method"] = "probed"
        attributes["conf"] = "3"
    else:
        attributes["method"] = "table"
        attributes["conf"] = "3"
    if cell.transport == "quic":
        attributes["tunnel"] = "ssl"
    return attributes


def _address_type(address: str) -> str:
    return "ipv6" if ":" in address else "ipv4"


def _scaninfo(phase: Phase) -> List[dict]:
    by_protocol: Dict[str, List[int]] = {}
    for transport, port in phase.columns:
        protocol = "udp" if transport == "quic" else "tcp"
        by_protocol.setdefault(protocol, [])
        if port not in by_protocol[protocol]:
            by_protocol[protocol].append(port)
    return [
        {
            "type": "udp" if protocol == "udp" else "connect",
            "protocol": protocol,
            "numservices": str(len(ports)),
            "services": ",".join(str(port) for port in sorted(ports)),
        }
        for protocol, ports in sorted(by_protocol.items())
    ]


def render_nmap_xml(report: FleetReport, phase: Optional[Phase] = None) -> str:
    """The results of one phase (the last by default) in nmap's XML format, for ndiff, xsltproc and SIEM tools.

    ndiff matches hosts across files by address and name, so each host carries its address (from verify) and its
    inventory name as a ``user`` hostname. A host without a result is left out, as nmap leaves out what it did not
    scan; hosts where nothing answered are ``down``.
    """
    phase = phase if phase is not None else report.phases[-1]
    args = "smb.alternative_ports.verify%s" % (" (phase %s)" % phase.name if phase.name else "")
    run = ET.Element("nmaprun", scanner="smb.alternative_ports", args=args)
    if report.timestamp:
        run.set("start", str(int(report.timestamp.timestamp())))
        run.set("startstr", report.timestamp.strftime("%a %b %d %H:%M:%S %Y"))
    run.set("version", "1.0")
    run.set("xmloutputversion", "1.05")
    for info in _scaninfo(phase):
        ET.SubElement(run, "scaninfo", info)
    ET.SubElement(run, "verbose", level="0")
    ET.SubElement(run, "debugging", level="0")
    up = down = 0
    for host in phase.hosts:
        if host.missing:
            continue
        answered = any(nmap_state(cell)[0] not in ("filtered", "open|filtered", "unknown") for cell in host.cells)
        up, down = (up + 1, down) if answered else (up, down + 1)
        element = ET.SubElement(run, "host")
        ET.SubElement(element, "status", state="up" if answered else "down", reason="user-set", reason_ttl="0")
        address = host.address or next((cell.probed_host for cell in host.cells if cell.probed_host), None)
        if address:
            ET.SubElement(element, "address", addr=address, addrtype=_address_type(address))
        names = ET.SubElement(element, "hostnames")
        ET.SubElement(names, "hostname", name=host.name, type="user")
        ports = ET.SubElement(element, "ports")
        for cell in sorted(host.cells, key=lambda c: ("udp" if c.transport == "quic" else "tcp", c.port)):
            port = ET.SubElement(
                ports, "port", protocol="udp" if cell.transport == "quic" else "tcp", portid=str(cell.port)
            )
            state, reason = nmap_state(cell)
            ET.SubElement(port, "state", state=state, reason=reason, reason_ttl="0")
            ET.SubElement(port, "service", _nmap_service(cell))
            if not cell.ok:
                ET.SubElement(port, "script", id="smb-alternative-ports-verify", output=failure_text(host.name, cell))
    stats = ET.SubElement(run, "runstats")
    finished = {"summary": "%s; %s" % (REPORT_NAME, report.summary_line()), "exit": "success"}
    if report.timestamp:
        finished.update(time=str(int(report.timestamp.timestamp())), timestr=run.get("startstr", ""))
    ET.SubElement(stats, "finished", finished)
    ET.SubElement(stats, "hosts", up=str(up), down=str(down), total=str(up + down))
    ET.indent(run)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
        '<?xml-stylesheet href="%s" type="text/xsl"?>\n' % NMAP_STYLESHEET + ET.tostring(run, encoding="unicode") + "\n"
    )
