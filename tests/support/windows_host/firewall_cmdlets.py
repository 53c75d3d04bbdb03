"""Windows Firewall cmdlets (NetSecurity module): New/Get/Remove-NetFirewallRule.

Facts modelled:

- A rule's ``Name`` is unique (a second one fails with ERROR_ALREADY_EXISTS, 183); ``DisplayName`` is
  mandatory on New. ``Direction`` defaults to Inbound, ``Action`` to Allow, ``Enabled`` to True.
- ``-LocalPort`` is allowed only with ``-Protocol TCP`` or ``UDP``.
- The rule object has no LocalPort or Protocol property: those live on its port filter
  (``Get-NetFirewallPortFilter``), so ``Get-NetFirewallRule`` does not return them. The host's state
  keeps them, so tests can check what was opened.
- ``-Name`` and ``-DisplayName`` accept wildcards on Get and Remove; a value without wildcards that
  matches nothing is an error.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .binding import ENUM, ENUMS, STRING, STRINGS, Param
from .catalog import CmdletSpec, register
from .cmdlet_errors import CmdletError, cim_not_found, win32_error
from .state import WindowsState
from .wildcard import has_wildcard, wildcard_match

_RULE_CLASS = "MSFT_NetFirewallRule"
DIRECTIONS = ("Inbound", "Outbound")
ACTIONS = ("NotConfigured", "Allow", "Block")
ENABLED = ("True", "False")
#: Properties stored for tests but not part of the rule object Windows returns.
FILTER_PROPERTIES = ("Protocol", "LocalPort")
_PORT_ITEM = re.compile(r"^(\d{1,5})(-(\d{1,5}))?$")
_PORT_KEYWORDS = ("Any", "RPC", "RPCEPMap", "Teredo", "IPHTTPSIn", "IPHTTPSOut", "PlayToDiscovery", "mDNS")


def _public(rule: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in rule.items() if key not in FILTER_PROPERTIES}


def _normalise_protocol(value: str) -> str:
    upper = value.upper()
    if upper in ("TCP", "6"):
        return "TCP"
    if upper in ("UDP", "17"):
        return "UDP"
    if upper == "ANY":
        return "Any"
    return value


def _check_ports(command: str, protocol: str, ports: list[str]) -> list[str]:
    if ports and protocol not in ("TCP", "UDP"):
        raise CmdletError(
            "The port can only be specified when the protocol is TCP or UDP.",
            "InvalidArgument",
            f"HRESULT 0x80070057,{command}",
        )
    for item in ports:
        match = _PORT_ITEM.match(item)
        valid = item in _PORT_KEYWORDS or (
            match is not None
            and 1 <= int(match.group(1)) <= 65535
            and (match.group(3) is None or int(match.group(1)) <= int(match.group(3)) <= 65535)
        )
        if not valid:
            raise CmdletError(
                f"The port '{item}' is not valid. Specify a port number from 1 to 65535, a range, or a keyword.",
                "InvalidArgument",
                f"HRESULT 0x80070057,{command}",
            )
    return ports


def new_rule(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    name = args.get("Name") or "{" + str(uuid.uuid4()) + "}"
    if any(rule["Name"].lower() == name.lower() for rule in state.firewall_rules):
        raise win32_error(command, 183, "Cannot create a file when that file already exists.", "ResourceExists")
    protocol = _normalise_protocol(args.get("Protocol", "Any"))
    ports = _check_ports(command, protocol, args.get("LocalPort", []))
    rule = {
        "Name": name,
        "DisplayName": args["DisplayName"],
        "Description": args.get("Description", ""),
        "Group": args.get("Group", ""),
        "Enabled": args.get("Enabled", "True"),
        "Profile": ", ".join(args.get("Profile", ["Any"])),
        "Direction": args.get("Direction", "Inbound"),
        "Action": args.get("Action", "Allow"),
        "PrimaryStatus": "OK",
        "Protocol": protocol,
        "LocalPort": ports,
    }
    state.firewall_rules.append(rule)
    return [_public(rule)]


def _query_rules(state: WindowsState, args: dict[str, Any], command: str) -> list[dict[str, Any]]:
    found = list(state.firewall_rules)
    for prop in ("Name", "DisplayName"):
        patterns = args.get(prop)
        if patterns is None:
            continue
        kept = [rule for rule in found if any(wildcard_match(p, rule[prop]) for p in patterns)]
        for pattern in patterns:
            if not has_wildcard(pattern) and not any(wildcard_match(pattern, rule[prop]) for rule in kept):
                raise cim_not_found(command, _RULE_CLASS, prop, pattern)
        found = kept
    for prop in ("Direction", "Action"):
        if args.get(prop) is not None:
            found = [rule for rule in found if rule[prop] in args[prop]]
    return found


def get_rule(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    return [_public(rule) for rule in _query_rules(state, args, command)]


def remove_rule(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    for rule in _query_rules(state, args, command):
        state.firewall_rules.remove(rule)
    return []


_DIRECTION = Param("Direction", ENUM, enum=DIRECTIONS, enum_type="Direction")
_ACTION = Param("Action", ENUM, enum=ACTIONS, enum_type="Action")

register(
    CmdletSpec(
        "New-NetFirewallRule",
        (
            Param("Name", STRING),
            Param("DisplayName", STRING, mandatory=True),
            Param("Description", STRING),
            Param("Group", STRING),
            Param("Enabled", ENUM, enum=ENABLED, enum_type="Enabled"),
            Param("Profile", STRINGS),
            _DIRECTION,
            _ACTION,
            Param("Protocol", STRING),
            Param("LocalPort", STRINGS),
        ),
        new_rule,
        changes_state=True,
    )
)
register(
    CmdletSpec(
        "Get-NetFirewallRule",
        (
            Param("Name", STRINGS, aliases=("ID",)),
            Param("DisplayName", STRINGS),
            Param("Direction", ENUMS, enum=DIRECTIONS, enum_type="Direction"),
            Param("Action", ENUMS, enum=ACTIONS, enum_type="Action"),
        ),
        get_rule,
    )
)
register(
    CmdletSpec(
        "Remove-NetFirewallRule",
        (Param("Name", STRINGS, aliases=("ID",)), Param("DisplayName", STRINGS)),
        remove_rule,
        changes_state=True,
    )
)
