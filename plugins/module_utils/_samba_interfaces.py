# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The addresses Samba's smbd binds, from smb.conf's ``interfaces`` and ``bind interfaces only``.

This is a private module_utils file: its API may change without notice.

smbd binds the wildcard addresses (``::`` and ``0.0.0.0``) unless ``bind interfaces only = yes`` and ``interfaces``
is set; then it binds one socket per address of the interfaces that list names (smb.conf(5); Samba's
``open_sockets_smbd``). An entry of ``interfaces`` is, after an optional ``;key=value`` suffix is dropped:

- an interface name, with shell wildcards (``eth*``): every address of each matching interface;
- an IP address: that address, when an interface has it (smbd skips one no interface has);
- ``IP/mask`` (a prefix length or a dotted mask): that address when an interface has it, else every interface
  address inside that network.

What we cannot tell (a host name, an entry that matches nothing and may be one, a list that leaves no address) is
"unknown": then every holder of the port counts as a conflict, as before this file existed.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from typing import Callable, Dict, List, Optional, Tuple

RunCommand = Callable[..., Tuple[int, str, str]]
Interfaces = Dict[str, List[Tuple[str, int]]]
"""Interface name -> its (address, prefix length) pairs, as ``ip -j address show`` reports them."""

_ENTRY = re.compile(r'"[^"]*"|[^\s,]+')


def read_interfaces(run: RunCommand, ip: str = "ip") -> Optional[Interfaces]:
    """The host's interfaces that are up, with their addresses; None when ``ip`` cannot tell."""
    rc, out, _err = run([ip, "-j", "address", "show", "up"])
    if rc != 0:
        return None
    try:
        links = json.loads(out)
    except ValueError:
        return None
    found: Interfaces = {}
    for link in links:
        found[str(link.get("ifname"))] = [
            (str(info["local"]), int(info.get("prefixlen", 0))) for info in link.get("addr_info", []) if "local" in info
        ]
    return found


def smbd_bind_addresses(interfaces_value: str, bind_only: bool, host: Optional[Interfaces]) -> Optional[List[str]]:
    """The addresses smbd binds; None when unknown. ``interfaces_value`` and ``bind_only`` as testparm prints them."""
    entries = [entry.strip('"').split(";", 1)[0] for entry in _ENTRY.findall(interfaces_value or "")]
    entries = [entry for entry in entries if entry]
    if not bind_only or not entries:
        return ["0.0.0.0", "::"]
    if host is None:
        return None
    addresses: List[str] = []
    for entry in entries:
        found = _addresses_of(entry, host)
        if found is None:
            return None
        addresses.extend(address for address in found if address not in addresses)
    return addresses or None


def _addresses_of(entry: str, host: Interfaces) -> Optional[List[str]]:
    names = [name for name in host if fnmatch.fnmatchcase(name, entry)]
    if names:
        return [address for name in names for address, _prefix in host[name]]
    everything = [address for pairs in host.values() for address, _prefix in pairs]
    address, _sep, mask = entry.partition("/")
    try:
        wanted = ipaddress.ip_address(address)
    except ValueError:
        return None  # a host name, or a pattern that matched no interface: smbd may resolve it, we cannot
    local = [a for a in everything if _same(a, wanted)]
    if local or not mask:
        return local  # an address no interface has is skipped by smbd too
    try:
        network = ipaddress.ip_network(f"{address}/{mask}", strict=False)
    except ValueError:
        return None
    return [a for a in everything if _in(a, network)]


def _same(address: str, wanted) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]) == wanted
    except ValueError:
        return False


def _in(address: str, network) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]) in network
    except ValueError:
        return False
