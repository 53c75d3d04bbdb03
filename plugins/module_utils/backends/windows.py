# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows backend of server_ports and server_ports_info: SMB over QUIC alternative ports.

This is a private module_utils file: its API may change without notice.

Windows Server 2025 can move only its SMB over QUIC listener (``*-SmbServerAlternativePort -TransportType
QUIC``). Each QUIC alternative port gets an inbound UDP firewall rule named ``smb-alternative-port-quic-<port>``,
created with the port and removed with it.

What Microsoft's sources say, and this backend follows: the cmdlets exist on Windows Server 2025 (build 26100)
only; the class ``MSFT_SmbServerAlternativePort`` has ``TransportType``, ``Port`` and ``Instances`` (enums that may
arrive as names or numbers); ``-EnableInstances`` allows only ``Default`` ("This setting is not used"); a QUIC port
serves nothing until ``EnableSMBQUIC`` is on and a certificate mapping exists. The read takes the build, the
server configuration and the certificate mappings in the same round trip, and a plan that would leave QUIC
ports on a host that cannot serve them is refused before anything changes, as is a new port that another
process holds, that lies in an excluded port range, or that HTTP/3 claims (``_windows_port_conflicts.py``).
The work runs on the controller: the action plugin hands this backend a ``connect`` callable that opens one
WinRM shell and yields ``run(calls, stop_on_error) -> results``; a task then runs at most three executor
commands: one read, one conflict read when the plan adds ports (check mode too), and (outside check mode) one
apply-and-read-back.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Callable, ContextManager, Dict, List, Optional

from ansible_collections.smb.alternative_ports.plugins.module_utils._cim_enums import UnknownEnumValue, enum_name
from ansible_collections.smb.alternative_ports.plugins.module_utils._cmdlets import (
    CallResult,
    CmdletCall,
    WindowsTaskError,
    describe_calls,
    output_of,
    raise_on_failed_change,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._plan import format_table, planned_table, table
from ansible_collections.smb.alternative_ports.plugins.module_utils._ports import WINDOWS_SERVER_PORT_REASON
from ansible_collections.smb.alternative_ports.plugins.module_utils._windows_port_conflicts import (
    conflict_reads,
    parse_conflict_reads,
    port_conflicts,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import (
    PortBackend,
    PortRequest,
    PortState,
)

WINDOWS_REFUSAL = WINDOWS_SERVER_PORT_REASON
FIREWALL_RULE_PREFIX = "smb-alternative-port-quic-"

_PORT_PROPERTIES = ["TransportType", "Port", "Instances"]
_RULE_PROPERTIES = ["Name", "DisplayName", "Direction", "Action", "Enabled"]
_VERSION_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
_VERSION_PROPERTIES = ["CurrentBuildNumber", "ProductName", "InstallationType"]
SERVER_2025_BUILD = 26100
INSTANCES_REFUSAL = (
    "instances none: Windows allows only the Default instance for an alternative port (New-SmbServerAlternativePort: "
    "'Currently only the Default instance is allowed. This setting is not used.'); leave instances at default"
)
# Reads, in the order parse_state expects them.
_VERSION, _SERVER_CONFIGURATION, _CERTIFICATE_MAPPINGS, _PORTS, _RULES = range(5)

Runner = Callable[[List[CmdletCall], bool], List[CallResult]]


def firewall_rule_name(port: int) -> str:
    return f"{FIREWALL_RULE_PREFIX}{port}"


class WindowsBackend(PortBackend):
    """QUIC alternative ports of one Windows host, read and changed through the PowerShell executor."""

    name = "windows"

    def __init__(self, connect: Callable[[], ContextManager[Runner]], label: str, firewall: bool = True) -> None:
        self._connect = connect
        self._runner: Optional[Runner] = None
        self._stack = ExitStack()
        self.label = label
        self.firewall = firewall

    # The shell opens at the first call, so a request refused by check_request never reaches the host.
    def __enter__(self) -> WindowsBackend:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.close()

    def _run(self, calls: List[CmdletCall], stop_on_error: bool) -> List[CallResult]:
        if self._runner is None:
            self._runner = self._stack.enter_context(self._connect())
        return self._runner(calls, stop_on_error)

    # --- before the host is touched -------------------------------------------------------------------------
    def check_request(self, request: PortRequest) -> List[str]:
        problems = [f"{self.label}: {problem}" for problem in super().check_request(request)]
        refused = [
            f"{p.get('transport')}/{p.get('port')}" for p in request.ports if str(p.get("transport")).lower() != "quic"
        ]
        if refused:
            problems.append(
                f"{self.label}: the windows backend cannot configure server port(s) {', '.join(refused)}: "
                f"{WINDOWS_REFUSAL}. Use QUIC alternative ports on Windows servers, and point clients at other TCP "
                "ports with smb.alternative_ports.client_mapping or client_port_policy"
            )
        if request.standard_ports == "close":
            problems.append(
                f"{self.label}: the windows backend cannot close the standard SMB ports (445, 443, 5445): "
                "leave standard_ports at keep and block them with the Windows firewall if you must"
            )
        for index, entry in enumerate(request.ports):
            if request.state == "present" and str(entry.get("instances") or "default").lower() != "default":
                problems.append(f"{self.label}: ports[{index}].{INSTANCES_REFUSAL}")
        return problems

    # --- reading and planning -------------------------------------------------------------------------------
    def read_calls(self) -> List[CmdletCall]:
        calls = [
            CmdletCall("Get-ItemProperty", {"Path": _VERSION_KEY}, _VERSION_PROPERTIES),
            CmdletCall("Get-SmbServerConfiguration", {}, ["EnableSMBQUIC"]),
            CmdletCall("Get-SmbServerCertificateMapping", {}, ["Name"]),
            CmdletCall("Get-SmbServerAlternativePort", {}, _PORT_PROPERTIES),
        ]
        if self.firewall:
            calls.append(CmdletCall("Get-NetFirewallRule", {"Name": FIREWALL_RULE_PREFIX + "*"}, _RULE_PROPERTIES))
        return calls

    def read(self) -> PortState:
        calls = self.read_calls()
        return self.parse_state(self._run(calls, False), calls)

    def parse_state(self, results: List[CallResult], calls: List[CmdletCall]) -> PortState:
        """The QUIC rows as the table; ``details``: the non-QUIC rows (``other``), our rules by port, and whether
        the host can serve SMB over QUIC (``quic_enabled``, ``certificate_mappings``)."""
        if len(results) < len(calls):
            raise WindowsTaskError(
                f"{self.label}: could not read the alternative ports back ({len(results)} of {len(calls)} reads ran)"
            )
        self._check_windows_version(results[_VERSION])
        ports, other = [], []
        for row in output_of(results[_PORTS], calls[_PORTS], self.label):
            try:
                transport = enum_name("SmbServerAlternativePort", "TransportType", row.get("TransportType"))
                enum_name("SmbServerAlternativePort", "Instances", row.get("Instances"), "default")
            except UnknownEnumValue as error:
                raise WindowsTaskError(f"{self.label}: {error}") from None
            # Only the Default instance exists ("This setting is not used"): whatever the host reports, it is that.
            entry = {"transport": transport, "port": int(row.get("Port") or 0), "instances": "default"}
            (ports if entry["transport"] == "quic" else other).append(entry)
        rules: Dict[int, str] = {}
        if len(calls) > _RULES:
            for row in output_of(results[_RULES], calls[_RULES], self.label):
                name = str(row.get("Name") or "")
                suffix = name[len(FIREWALL_RULE_PREFIX) :]
                if name.startswith(FIREWALL_RULE_PREFIX) and suffix.isdigit():
                    rules[int(suffix)] = name
        configuration = output_of(results[_SERVER_CONFIGURATION], calls[_SERVER_CONFIGURATION], self.label)
        quic_enabled = configuration[0].get("EnableSMBQUIC") if configuration else None
        mappings = output_of(results[_CERTIFICATE_MAPPINGS], calls[_CERTIFICATE_MAPPINGS], self.label)
        details = {
            "other": other,
            "rules": rules,
            "quic_enabled": quic_enabled,
            "certificate_mappings": sorted(str(row.get("Name") or "") for row in mappings),
        }
        return PortState(table(ports), details)

    def _check_windows_version(self, result: CallResult) -> None:
        """Fail on a Windows without alternative server ports, naming what it is (an unreadable version passes)."""
        rows = result.output if result.ok else []
        if not rows:
            return
        row = rows[0]
        build_text = str(row.get("CurrentBuildNumber") or "")
        build = int(build_text) if build_text.isdigit() else 0
        server = str(row.get("InstallationType") or "Server").lower().startswith("server")
        if build and (build < SERVER_2025_BUILD or not server):
            product = row.get("ProductName") or "Windows"
            raise WindowsTaskError(
                f"{self.label}: SMB server alternative ports exist on Windows Server 2025 (build {SERVER_2025_BUILD}) "
                f"and later; this host is {product} ({row.get('InstallationType') or 'unknown type'}, build "
                f"{build}), which has no *-SmbServerAlternativePort cmdlets. Upgrade it, or leave its standard ports "
                "and point clients at a Windows Server 2025 host"
            )

    def refusals(self, state: PortState, steps: List[dict], request: PortRequest) -> List[str]:
        """A QUIC port serves nothing without SMB over QUIC on and a certificate mapping: refuse to claim one.

        Removing every QUIC alternative port leaves the standard listeners: no lock-out to refuse.
        """
        if not planned_table(state.table, steps):
            return []
        problems = []
        if state.details.get("quic_enabled") is False:
            problems.append(
                f"{self.label}: SMB over QUIC is off on this server (EnableSMBQUIC is false), so a QUIC alternative "
                "port would serve nothing: turn it on with Set-SmbServerConfiguration -EnableSMBQUIC $true"
            )
        if not state.details.get("certificate_mappings"):
            problems.append(
                f"{self.label}: the server has no SMB over QUIC certificate mapping, so a QUIC alternative port would "
                "serve nothing: map the certificate clients trust first, with smb.alternative_ports.quic_server_access "
                "(New-SmbServerCertificateMapping)"
            )
        added = [step for step in steps if step["action"] == "add"]
        if added:
            problems.extend(self.port_conflicts(state, added))
        return problems

    def port_conflicts(self, state: PortState, added: List[dict]) -> List[str]:
        """Ports another process holds, or an excluded range or HTTP/3 claims: one read, before anything changes."""
        reads = conflict_reads(added)
        found = parse_conflict_reads(reads, self._run(reads.calls, False))
        ours = [(entry["transport"], entry["port"]) for entry in state.table]
        quic_serves = state.details.get("quic_enabled") is not False and bool(state.details.get("certificate_mappings"))
        return port_conflicts(self.label, added, found, ours, quic_serves)

    def has_work(self, state: PortState, steps: List[dict], request: PortRequest) -> bool:
        return bool(self.change_calls(state, steps))

    def change_calls(self, state: PortState, steps: List[dict]) -> List[CmdletCall]:
        """The changing calls for ``steps``, with each port's firewall rule opened before it and closed after it."""
        rules = state.details["rules"]
        calls: List[CmdletCall] = []
        wanted_rules = {entry["port"] for entry in planned_table(state.table, steps)} if self.firewall else set()
        for step in steps:
            port = step["port"]
            identity = {"TransportType": "QUIC", "Port": port}
            if step["action"] in ("add", "change") and port in wanted_rules and port not in rules:
                calls.append(_new_rule(port))
            if step["action"] == "remove":
                calls.append(CmdletCall("Remove-SmbServerAlternativePort", {**identity, "Force": True}))
                continue
            cmdlet = "New-SmbServerAlternativePort" if step["action"] == "add" else "Set-SmbServerAlternativePort"
            calls.append(CmdletCall(cmdlet, {**identity, "EnableInstances": "Default", "Force": True}))
        if self.firewall:
            planned = {step["port"] for step in steps if step["action"] != "remove"}
            # A port that stays but lost its rule gets it back; a rule of ours for a port that is gone goes.
            calls.extend(_new_rule(port) for port in sorted(wanted_rules - planned - set(rules)))
            calls.extend(
                CmdletCall("Remove-NetFirewallRule", {"Name": rules[port]})
                for port in sorted(set(rules) - wanted_rules)
            )
        return calls

    # --- changing -------------------------------------------------------------------------------------------
    def predict(self, state: PortState, steps: List[dict], request: PortRequest) -> PortState:
        after = planned_table(state.table, steps)
        rules = {entry["port"]: firewall_rule_name(entry["port"]) for entry in after} if self.firewall else {}
        return PortState(after, {**state.details, "rules": rules})

    def apply(self, state: PortState, steps: List[dict], request: PortRequest) -> PortState:
        changes = self.change_calls(state, steps)
        reads = self.read_calls()
        results = self._run(changes + reads, True)
        raise_on_failed_change(results, changes, self.label)
        after = self.parse_state(results[len(changes) :], reads)
        expected = planned_table(state.table, steps)
        if after.table != expected:
            raise WindowsTaskError(
                f"{self.label}: after the change the host reports {format_table(after.table).strip() or 'no ports'} "
                f"instead of {format_table(expected).strip() or 'no ports'}",
                result={"before": state.table, "after": after.table, "plan": steps},
            )
        return after

    def restore_request(self, previous) -> PortRequest:
        # Windows' standard listeners cannot be closed and were never touched: put back the QUIC table only.
        request = super().restore_request(previous)
        request.standard_ports = "keep"
        return request

    # --- reporting ------------------------------------------------------------------------------------------
    def result_fields(self, before: PortState, after: PortState, steps: List[dict], request: PortRequest) -> dict:
        fields: Dict[str, Any] = {"commands": describe_calls(self.change_calls(before, steps))}
        if self.firewall:
            fields["firewall_rules"] = sorted(after.details["rules"].values())
        return fields

    def info(self, state: PortState) -> dict:
        return {"firewall_rules": sorted(state.details["rules"].values())} if self.firewall else {}


def _new_rule(port: int) -> CmdletCall:
    return CmdletCall(
        "New-NetFirewallRule",
        {
            "Name": firewall_rule_name(port),
            "DisplayName": f"SMB over QUIC alternative port {port} (UDP-In)",
            "Direction": "Inbound",
            "Protocol": "UDP",
            "LocalPort": str(port),
            "Action": "Allow",
        },
    )
