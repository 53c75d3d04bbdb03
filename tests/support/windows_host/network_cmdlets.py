"""Who holds a port, and which ports Windows keeps from every program: Get-NetUDPEndpoint, Get-NetTCPConnection,
Get-Process and ``netsh.exe interface ipv4|ipv6 show excludedportrange``.

Facts modelled (``SOURCES.md`` gives the source of each, or says assumed):

- ``Get-NetUDPEndpoint`` / ``Get-NetTCPConnection`` return ``LocalAddress``, ``LocalPort``, ``OwningProcess``
  (and, for TCP, the remote end); ``-LocalPort`` filters, and like every CDXML query a value that matches
  nothing is an error (``CmdletizationQuery_NotFound_LocalPort``).
- The SMB server's own QUIC listeners are kernel sockets owned by System (pid 4): one per alternative QUIC port,
  and UDP 443 while SMB over QUIC can serve (``EnableSMBQUIC`` on and a certificate mapping). Assumed, like the
  owner of http.sys's listeners (:func:`plant_http_sys`), which is System too.
- ``Get-Process`` returns ``Id`` and ``ProcessName``; ``-Id`` of no process fails (``NoProcessFoundForGivenId``).
- ``netsh.exe`` is a native program: the executor passes it an argument list and gets its text lines back. Only
  ``interface ipv4|ipv6 show excludedportrange [protocol=]tcp|udp`` is modelled, printed as an en-US Windows Server
  prints it (other languages translate the header lines only); anything else answers as netsh does for an unknown
  command, with exit code 1.

Tests plant what another program holds with :func:`plant_listener`, :func:`plant_excluded_range` and
:func:`plant_http_sys`.
"""

from __future__ import annotations

from typing import Any

from .binding import ENUMS, OBJECT, STRINGS, UINT16S, Param
from .catalog import CmdletSpec, register
from .cmdlet_errors import CmdletError, cim_not_found
from .state import WindowsState
from .wildcard import has_wildcard, wildcard_match

SYSTEM_PID = 4
HTTP_PARAMETERS_KEY = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\HTTP\\Parameters"
TCP_STATES = (
    "Closed",
    "Listen",
    "SynSent",
    "SynReceived",
    "Established",
    "FinWait1",
    "FinWait2",
    "CloseWait",
    "Closing",
    "LastAck",
    "TimeWait",
    "DeleteTCB",
    "Bound",
)


# -- what tests plant --------------------------------------------------------------------------------------------
def plant_listener(
    state: WindowsState, protocol: str, port: int, pid: int, name: str, address: str = "0.0.0.0"
) -> WindowsState:
    """Another program listens on ``protocol`` (``udp`` or ``tcp``) ``port`` as process ``name`` (``pid``)."""
    table = "udp_endpoints" if protocol == "udp" else "tcp_listeners"
    state.network[table].append({"LocalAddress": address, "LocalPort": port, "OwningProcess": pid})
    if not any(process["Id"] == pid for process in state.network["processes"]):
        state.network["processes"].append({"Id": pid, "ProcessName": name})
    return state


def plant_excluded_range(state: WindowsState, protocol: str, start: int, end: int, administered: bool) -> WindowsState:
    """An excluded port range: ``administered`` for one an administrator added (``netsh ... add excludedportrange``),
    not for one a component such as Hyper-V reserved at run time."""
    state.network["excluded_port_ranges"].append(
        {"protocol": protocol, "start": start, "end": end, "administered": administered}
    )
    return state


def plant_http_sys(state: WindowsState, http3: bool = True) -> WindowsState:
    """http.sys serving HTTPS on TCP 443 and, with ``http3``, HTTP/3 on UDP 443 (``EnableHttp3`` = 1)."""
    plant_listener(state, "tcp", 443, SYSTEM_PID, "System", "::")
    key = state.ensure_key(HTTP_PARAMETERS_KEY)
    key.values["enablehttp3"] = {"name": "EnableHttp3", "type": "DWord", "data": 1 if http3 else 0}
    if http3:
        plant_listener(state, "udp", 443, SYSTEM_PID, "System", "::")
    return state


# -- the cmdlets -------------------------------------------------------------------------------------------------
def _smb_quic_endpoints(state: WindowsState) -> list[dict[str, Any]]:
    serves = state.server_configuration.get("EnableSMBQUIC") and state.certificate_mappings
    ports = {entry["Port"] for entry in state.alternative_ports if str(entry["TransportType"]).lower() == "quic"}
    if serves:
        ports.add(443)
    return [{"LocalAddress": "::", "LocalPort": port, "OwningProcess": SYSTEM_PID} for port in sorted(ports)]


def _filter_ports(rows: list[dict[str, Any]], args: dict[str, Any], command: str, cim_class: str) -> list[Any]:
    """-LocalAddress and -LocalPort as a CDXML query applies them: a value that matches nothing is an error."""
    for prop in ("LocalAddress", "LocalPort"):
        wanted = args.get(prop)
        if wanted is None:
            continue
        for value in wanted:
            if not any(row[prop] == value for row in rows):
                raise cim_not_found(command, cim_class, prop, value)
        rows = [row for row in rows if row[prop] in wanted]
    return rows


def get_udp_endpoint(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    rows = [*_smb_quic_endpoints(state), *state.network["udp_endpoints"]]
    return [dict(row) for row in _filter_ports(rows, args, command, "MSFT_NetUDPEndpoint")]


def get_tcp_connection(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    listeners = [
        {**row, "RemoteAddress": "0.0.0.0", "RemotePort": 0, "State": "Listen"}
        for row in state.network["tcp_listeners"]
    ]
    states = args.get("State")
    if states is not None:
        listeners = [row for row in listeners if row["State"] in states]
    return [dict(row) for row in _filter_ports(listeners, args, command, "MSFT_NetTCPConnection")]


def get_process(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    processes = [dict(process) for process in state.network["processes"]]
    for pattern in args.get("Name") or []:
        if not has_wildcard(pattern) and not any(wildcard_match(pattern, p["ProcessName"]) for p in processes):
            raise CmdletError(
                f'Cannot find a process with the name "{pattern}". Verify the process name and call the cmdlet again.',
                "ObjectNotFound",
                "NoProcessFoundForGivenName,Microsoft.PowerShell.Commands.GetProcessCommand",
            )
    if args.get("Name") is not None:
        processes = [p for p in processes if any(wildcard_match(n, p["ProcessName"]) for n in args["Name"])]
    if args.get("Id") is None:
        return processes
    wanted = [_to_pid(command, value) for value in (args["Id"] if isinstance(args["Id"], list) else [args["Id"]])]
    found = []
    for pid in wanted:
        match = [process for process in processes if process["Id"] == pid]
        if not match:
            raise CmdletError(
                f"Cannot find a process with the process identifier {pid}.",
                "ObjectNotFound",
                "NoProcessFoundForGivenId,Microsoft.PowerShell.Commands.GetProcessCommand",
            )
        found.extend(match)
    return found


def _to_pid(command: str, value: Any) -> int:
    """-Id is Int32[]: a number or a string of digits binds; anything else fails as the parameter binder says."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**31 - 1:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value.strip()) <= 2**31 - 1:
        return int(value.strip())
    raise CmdletError(
        f'Cannot bind parameter \'Id\'. Cannot convert value "{value}" to type "System.Int32". Error: "Input '
        'string was not in a correct format."',
        "InvalidArgument",
        f"CannotConvertArgumentNoMessage,{command}",
    )


register(
    CmdletSpec(
        "Get-NetUDPEndpoint",
        (Param("LocalAddress", STRINGS), Param("LocalPort", UINT16S)),
        get_udp_endpoint,
        output_class="MSFT_NetUDPEndpoint",
    )
)
register(
    CmdletSpec(
        "Get-NetTCPConnection",
        (
            Param("LocalAddress", STRINGS),
            Param("LocalPort", UINT16S),
            Param("State", ENUMS, enum=TCP_STATES, enum_type="State"),
        ),
        get_tcp_connection,
        output_class="MSFT_NetTCPConnection",
    )
)
register(CmdletSpec("Get-Process", (Param("Id", OBJECT), Param("Name", STRINGS)), get_process))


# -- netsh.exe ---------------------------------------------------------------------------------------------------
class NativeExit(Exception):
    """A native program ended with a non-zero exit code; the executor turns that into a failed call."""

    def __init__(self, program: str, code: int, lines: list[str]) -> None:
        message = f"{program} exited with code {code}: {' '.join(lines)}"
        super().__init__(message)
        self.error = CmdletError(message, "OperationStopped", message)


def _excluded_port_ranges(state: WindowsState, protocol: str) -> list[str]:
    rows = sorted(
        (entry for entry in state.network["excluded_port_ranges"] if entry["protocol"] == protocol),
        key=lambda entry: entry["start"],
    )
    lines = ["", f"Protocol {protocol} Port Exclusion Ranges", "", "Start Port    End Port", "----------    --------"]
    lines += [f"{e['start']:>10}  {e['end']:>10}     {'*' if e['administered'] else ''}".rstrip() for e in rows]
    return [*lines, "", "* - Administered port exclusions.", ""]


def netsh(state: WindowsState, arguments: list[str]) -> list[str]:
    words = [word.lower() for word in arguments]
    if (
        len(words) in (4, 5)
        and words[0] in ("interface", "int")
        and words[1] in ("ipv4", "ipv6", "ip")
        and words[2] == "show"
        and words[3] == "excludedportrange"
    ):
        protocol = words[4].split("=", 1)[-1] if len(words) == 5 else ""
        if protocol in ("tcp", "udp"):
            return _excluded_port_ranges(state, protocol)
    raise NativeExit("netsh.exe", 1, [f"The following command was not found: {' '.join(arguments)}."])


NATIVE_PROGRAMS = {"netsh.exe": netsh, "netsh": netsh}


def run_native(state: WindowsState, command: str, arguments: list[str]) -> list[str]:
    """Run a modelled native program; an unknown one fails as PowerShell's CommandNotFoundException does."""
    program = NATIVE_PROGRAMS.get(command.lower())
    if program is None:
        raise CmdletError(
            f"The term '{command}' is not recognized as the name of a cmdlet, function, script file, or operable "
            "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
            "and try again.",
            "ObjectNotFound",
            "CommandNotFoundException",
        )
    try:
        return program(state, arguments)
    except NativeExit as exited:
        raise exited.error from None
