# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who holds a port on a Windows host, and which ports Windows will not let any program bind, read before a change.

This is a private module_utils file: its API may change without notice.

What is read (one executor run, only when a plan adds ports), and where each fact comes from
(``tests/support/windows_host/SOURCES.md`` lists them for the emulated host too):

- ``Get-NetUDPEndpoint -LocalPort N`` (QUIC) or ``Get-NetTCPConnection -State Listen -LocalPort N`` (TCP, RDMA):
  ``LocalAddress``, ``LocalPort``, ``OwningProcess``. One call per port: a CDXML filter that matches nothing is
  an error, and with several values one miss would hide the others' rows.
- ``Get-Process``: ``Id`` and ``ProcessName``, to name an owning process.
- Kernel listeners (http.sys, the SMB server itself) are owned by the System process, pid 4 (assumed: Microsoft's
  cmdlet pages do not say it). A pid-4 holder of a port that is not in this server's alternative-port table is
  therefore not ours: most likely http.sys.
- ``netsh interface ipv4|ipv6 show excludedportrange protocol=udp|tcp``: the only listing of excluded port ranges
  (the IP Helper API can create, delete and look up a persistent reservation, not list them). Its text is
  localised, so only rows of two numbers count, with an optional ``*`` for an administered (persistent) exclusion.
- ``EnableHttp3`` under ``HKLM:\\SYSTEM\\CurrentControlSet\\Services\\HTTP\\Parameters``: 1 turns on http.sys's
  HTTP/3 (over QUIC, UDP) for its HTTPS bindings (Microsoft's networking blog, "Enabling HTTP/3 support on Windows
  Server 2022"). Whether that listener shows in Get-NetUDPEndpoint is not documented: the value alone refuses 443.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.smb.alternative_ports.plugins.module_utils._cmdlets import CallResult, CmdletCall

SYSTEM_PID = 4
HTTP_PARAMETERS_KEY = "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\HTTP\\Parameters"
HTTP3_PORT = 443
NETSH = "netsh.exe"

_ENDPOINT_PROPERTIES = ["LocalAddress", "LocalPort", "OwningProcess"]
# transport -> (protocol word of netsh and messages, endpoint cmdlet, its fixed filter)
_PORT_SPACES: Dict[str, Tuple[str, str, Dict[str, Any]]] = {
    "quic": ("udp", "Get-NetUDPEndpoint", {}),
    "tcp": ("tcp", "Get-NetTCPConnection", {"State": "Listen"}),
    "rdma": ("tcp", "Get-NetTCPConnection", {"State": "Listen"}),  # SMB Direct (iWARP) shares the TCP port space
}
# A data row of the excluded-range table: start, end, optional '*' (the headers are localised, the rows are not).
_RANGE_ROW = re.compile(r"^\s*(\d{1,5})\s+(\d{1,5})\s*(\*?)\s*$")


@dataclass(frozen=True)
class ExcludedRange:
    protocol: str
    start: int
    end: int
    administered: bool

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.start <= port <= self.end


@dataclass
class ConflictReads:
    """The calls of the conflict read and what each one is for (``tags``, in the same order)."""

    calls: List[CmdletCall] = field(default_factory=list)
    tags: List[Tuple[str, Any]] = field(default_factory=list)

    def add(self, tag: Tuple[str, Any], call: CmdletCall) -> None:
        self.tags.append(tag)
        self.calls.append(call)


def conflict_reads(added: Sequence[Mapping[str, Any]]) -> ConflictReads:
    """The read calls that tell who holds the ``added`` ports, the excluded ranges of their protocols and HTTP/3."""
    reads = ConflictReads()
    protocols = []
    for entry in added:
        protocol, cmdlet, fixed = _PORT_SPACES[entry["transport"]]
        reads.add(
            ("endpoints", (protocol, entry["port"])),
            CmdletCall(cmdlet, {**fixed, "LocalPort": entry["port"]}, _ENDPOINT_PROPERTIES),
        )
        if protocol not in protocols:
            protocols.append(protocol)
    for protocol in protocols:
        for family in ("ipv4", "ipv6"):
            arguments = ["interface", family, "show", "excludedportrange", f"protocol={protocol}"]
            reads.add(("excluded", protocol), CmdletCall(NETSH, {}, None, arguments))
    reads.add(("processes", None), CmdletCall("Get-Process", {}, ["Id", "ProcessName"]))
    if any(entry["transport"] == "quic" and entry["port"] == HTTP3_PORT for entry in added):
        reads.add(("http", None), CmdletCall("Get-ItemProperty", {"Path": HTTP_PARAMETERS_KEY}, ["EnableHttp3"]))
    return reads


def parse_excluded_ranges(protocol: str, output: Iterable[Any]) -> List[ExcludedRange]:
    """The ranges in netsh's listing, whether it arrives as one line per item or as one text with line breaks."""
    ranges = []
    for item in output:
        for line in str(item if item is not None else "").splitlines():
            match = _RANGE_ROW.match(line)
            if match and int(match.group(1)) <= int(match.group(2)):
                ranges.append(ExcludedRange(protocol, int(match.group(1)), int(match.group(2)), bool(match.group(3))))
    return ranges


@dataclass
class HostPorts:
    """What the conflict read found: holders by (protocol, port), excluded ranges, process names, HTTP/3."""

    holders: Dict[Tuple[str, int], List[dict]] = field(default_factory=dict)
    excluded: List[ExcludedRange] = field(default_factory=list)
    processes: Dict[int, str] = field(default_factory=dict)
    http3_enabled: Optional[bool] = None


def parse_conflict_reads(reads: ConflictReads, results: List[CallResult]) -> HostPorts:
    """Read what answered; a read that failed or found nothing counts as "nothing there" (never as a conflict)."""
    found = HostPorts()
    for (kind, key), result in zip(reads.tags, results):
        rows = result.output if result.ok else []
        if kind == "endpoints":
            found.holders[key] = [row for row in rows if isinstance(row, dict)]
        elif kind == "excluded":
            for excluded in parse_excluded_ranges(key, rows):
                if excluded not in found.excluded:  # ipv4 and ipv6 usually list the same ranges
                    found.excluded.append(excluded)
        elif kind == "processes":
            for row in rows:
                if isinstance(row, dict) and str(row.get("Id", "")).isdigit():
                    found.processes[int(row["Id"])] = str(row.get("ProcessName") or "")
        elif kind == "http" and rows and isinstance(rows[0], dict):
            found.http3_enabled = str(rows[0].get("EnableHttp3")) in ("1", "True", "true")
    return found


def port_conflicts(
    label: str, added: Sequence[Mapping[str, Any]], found: HostPorts, ours: Iterable[Tuple[str, int]], quic_serves: bool
) -> List[str]:
    """One sentence per reason an ``added`` port cannot be bound, naming the holder or range and the fix.

    ``ours``: (transport, port) of this server's alternative-port table; a System (pid 4) holder of one of those is
    the SMB server itself. ``quic_serves``: SMB over QUIC is on with a certificate mapping, so the server's own
    standard QUIC listener holds UDP 443 (assumed: as System, pid 4).
    """
    own = set(ours)
    problems = []
    for entry in added:
        transport, port = entry["transport"], entry["port"]
        protocol = _PORT_SPACES[transport][0]
        where = f"{label}: {transport}/{port}"
        http3 = transport == "quic" and port == HTTP3_PORT and bool(found.http3_enabled)
        for excluded in found.excluded:
            if excluded.protocol == protocol and port in excluded:
                problems.append(f"{where}: {_excluded_reason(excluded, port)}")
        seen = set()
        for row in found.holders.get((protocol, port), []):
            pid = int(row["OwningProcess"]) if str(row.get("OwningProcess", "")).isdigit() else None
            if pid in seen:
                continue
            seen.add(pid)
            if _smb_server_holds(pid, transport, port, own, quic_serves) or (pid == SYSTEM_PID and http3):
                continue  # the SMB server's own listener, or the HTTP/3 sentence below says it better
            problems.append(f"{where}: {_holder_reason(protocol, port, pid, found.processes, row.get('LocalAddress'))}")
        if http3:
            problems.append(
                f"{where}: http.sys serves HTTP/3 on this host (EnableHttp3 = 1 under {HTTP_PARAMETERS_KEY}), which "
                "listens on UDP 443 for its HTTPS bindings (the KDC proxy SMB over QUIC recommends is one), so SMB "
                "over QUIC would compete with it for UDP 443: give SMB over QUIC another port, or turn HTTP/3 off "
                "(EnableHttp3 = 0, then restart the HTTP service) if nothing needs it"
            )
    return problems


def _smb_server_holds(pid: Optional[int], transport: str, port: int, own: set, quic_serves: bool) -> bool:
    """System (pid 4) on one of the server's alternative ports, or on UDP 443 while SMB over QUIC serves."""
    if pid != SYSTEM_PID:
        return False
    return (transport, port) in own or (transport == "quic" and port == HTTP3_PORT and quic_serves)


def _holder_reason(protocol: str, port: int, pid: Optional[int], processes: Mapping[int, str], address: Any) -> str:
    on = f" on {address}" if address else ""
    space = protocol.upper()
    if pid == SYSTEM_PID:
        return (
            f"{space} port {port} is held{on} by the kernel (System, pid {SYSTEM_PID}), not by this SMB server's "
            "alternative ports: likely http.sys (HTTP/3 on UDP, HTTPS on TCP; netsh http show servicestate lists "
            "its listeners) or another kernel listener: free it or pick another port"
        )
    if pid is None:
        cmdlet = "Get-NetUDPEndpoint" if protocol == "udp" else "Get-NetTCPConnection"
        return f"{space} port {port} is held{on} by a process Windows did not name ({cmdlet} -LocalPort {port} shows it): stop it or pick another port"
    name = processes.get(pid) or "a process that has since exited"
    return f"{space} port {port} is held{on} by {name} (pid {pid}): stop it or pick another port"


def _excluded_reason(excluded: ExcludedRange, port: int) -> str:
    span = f"{excluded.start}-{excluded.end}"
    listing = f"netsh interface ipv4 show excludedportrange protocol={excluded.protocol}"
    if excluded.administered:
        return (
            f"{excluded.protocol.upper()} port {port} lies in the administered excluded port range {span} "
            f"({listing}), so no program may bind it: pick a port outside it, or delete the exclusion with netsh "
            f"interface ipv4 delete excludedportrange protocol={excluded.protocol} startport={excluded.start} "
            f"numberofports={excluded.end - excluded.start + 1}"
        )
    return (
        f"{excluded.protocol.upper()} port {port} lies in the excluded port range {span} ({listing}), which a "
        "Windows component reserved at run time (Hyper-V and WinNAT do), so no program may bind it: pick a port "
        "outside it (such a range cannot be deleted with netsh; moving the dynamic port range with netsh interface "
        "ipv4 set dynamicport and restarting that component frees it)"
    )
