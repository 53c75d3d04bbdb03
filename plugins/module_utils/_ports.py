# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about SMB ports that every part of the collection shares: transports, standard ports, valid numbers.

This is a private module_utils file: its API may change without notice.
"""

from __future__ import annotations

from typing import Any, Optional

TRANSPORTS = ("tcp", "quic", "rdma")
# The well-known SMB port of each transport, and NetBIOS session service (never plain Direct TCP).
STANDARD_PORT_BY_TRANSPORT = {"tcp": 445, "quic": 443, "rdma": 5445}
STANDARD_SMB_TCP_PORT = STANDARD_PORT_BY_TRANSPORT["tcp"]
NETBIOS_SESSION_PORT = 139
# The ports the standard_ports option keeps or closes; 139 counts as standard for tcp.
STANDARD_PORTS = frozenset({*STANDARD_PORT_BY_TRANSPORT.items(), ("tcp", NETBIOS_SESSION_PORT)})

# Microsoft documents that Windows Server 2025 can move only the SMB over QUIC server listener.
WINDOWS_SERVER_PORT_REASON = (
    "Windows can move only its SMB over QUIC listener; TCP and RDMA listening ports cannot be changed on Windows"
)


def is_port(value: Any) -> bool:
    """True for an int from 1 to 65535 (a bool is not a port, although Python counts it as an int)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def port_problem(value: Any, where: str) -> Optional[str]:
    """The message for a value that is not a port, naming ``where`` it was found; None for a good port."""
    if is_port(value):
        return None
    return f"{where}: {value!r} is not a port (use a number from 1 to 65535)"
