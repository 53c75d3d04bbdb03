# Copyright: contributors to smb.alternative_ports
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who holds a port on this Linux host, and may a server bind a low port.

Private to smb.alternative_ports: no compatibility promise.

Reads /proc only (no ss, no lsof): /proc/net/tcp{,6} for listening TCP sockets, /proc/net/udp{,6} for bound
UDP sockets (QUIC), and /proc/<pid>/fd symlinks (``socket:[inode]``) to name the process that owns each one.
Without root, other users' fds are unreadable: the holder is then reported without a name, never guessed.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Dict, Iterable, List, Optional, Tuple

TCP_LISTEN = "0A"
UDP_UNCONNECTED = "07"
CAP_NET_BIND_SERVICE = 10
PRIVILEGED_PORT_LIMIT = 1024

# rdma (SMB Direct, iWARP) shares the TCP port space; quic runs over UDP.
_PROC_FILES = {
    "tcp": (("tcp", TCP_LISTEN), ("tcp6", TCP_LISTEN)),
    "rdma": (("tcp", TCP_LISTEN), ("tcp6", TCP_LISTEN)),
    "quic": (("udp", UDP_UNCONNECTED), ("udp6", UDP_UNCONNECTED)),
}


class BoundSocket:
    """One socket from /proc/net/*: where it is bound and its inode (to find its process)."""

    def __init__(self, address: str, port: int, state: str, inode: int) -> None:
        self.address = address
        self.port = port
        self.state = state
        self.inode = inode


class PortHolder:
    """A process that holds a port; ``pid``/``name`` are None when /proc does not tell us."""

    def __init__(self, transport: str, port: int, address: str, pid: Optional[int], name: Optional[str]) -> None:
        self.transport = transport
        self.port = port
        self.address = address
        self.pid = pid
        self.name = name

    def describe(self) -> str:
        where = f"{self.transport}/{self.port}"
        if self.pid is None:
            return f"{where} is in use by another process (bound on {self.address}; run as root to see which one)"
        return f"{where} is in use by {self.name or 'an unnamed process'} (pid {self.pid})"


def _decode_address(hex_address: str) -> str:
    """/proc/net hex address (host byte order per 32-bit word) to text."""
    if len(hex_address) == 8:
        raw = bytes.fromhex(hex_address)[::-1]
        return ".".join(str(b) for b in raw)
    words = [bytes.fromhex(hex_address[i : i + 8])[::-1] for i in range(0, 32, 8)]
    raw = b"".join(words)
    groups = [f"{int.from_bytes(raw[i : i + 2], 'big'):x}" for i in range(0, 16, 2)]
    text = ":".join(groups)
    if text == "0:0:0:0:0:0:0:0":
        return "::"
    if text.startswith("0:0:0:0:0:ffff:"):
        return "::ffff:" + ".".join(str(b) for b in raw[12:])
    return text


def parse_proc_net(text: str) -> List[BoundSocket]:
    """Parse the content of /proc/net/{tcp,tcp6,udp,udp6}."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or ":" not in fields[1]:
            continue
        address_hex, port_hex = fields[1].rsplit(":", 1)
        sockets.append(BoundSocket(_decode_address(address_hex), int(port_hex, 16), fields[3], int(fields[9])))
    return sockets


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def sockets_on_port(transport: str, port: int, proc_root: str = "/proc") -> List[BoundSocket]:
    """Listening (TCP) or bound (UDP) sockets on ``port`` for the port space of ``transport``."""
    found = []
    for filename, wanted_state in _PROC_FILES[transport]:
        for sock in parse_proc_net(_read(os.path.join(proc_root, "net", filename))):
            if sock.port == port and sock.state == wanted_state:
                found.append(sock)
    return found


def socket_owners(inodes: Iterable[int], proc_root: str = "/proc") -> Dict[int, Tuple[int, str]]:
    """Map socket inodes to (pid, process name) by walking /proc/<pid>/fd."""
    wanted = {f"socket:[{inode}]": inode for inode in inodes}
    owners = {}  # type: Dict[int, Tuple[int, str]]
    if not wanted:
        return owners
    for entry in os.listdir(proc_root):
        if not entry.isdigit():
            continue
        fd_dir = os.path.join(proc_root, entry, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # process gone, or not ours to read
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target in wanted and wanted[target] not in owners:
                owners[wanted[target]] = (int(entry), process_name(int(entry), proc_root))
        if len(owners) == len(wanted):
            break
    return owners


def process_alive(pid: int, proc_root: str = "/proc") -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    stat = _read(os.path.join(proc_root, str(pid), "stat"))
    fields = stat.rsplit(")", 1)[-1].split() if ")" in stat else []
    return bool(fields) and fields[0] != "Z"


def children_of(parent: int, proc_root: str = "/proc") -> List[int]:
    children = []
    for entry in os.listdir(proc_root):
        if entry.isdigit():
            stat = _read(os.path.join(proc_root, entry, "stat"))
            fields = stat.rsplit(")", 1)[-1].split() if ")" in stat else []
            if len(fields) > 1 and fields[1] == str(parent):
                children.append(int(entry))
    return children


def read_pidfile(path: str) -> Optional[int]:
    """The pid in ``path`` if that process is alive, else None."""
    text = _read(path).strip()
    if not text.isdigit() or int(text) <= 0:
        return None
    return int(text) if process_alive(int(text)) else None


def process_name(pid: int, proc_root: str = "/proc") -> str:
    return _read(os.path.join(proc_root, str(pid), "comm")).strip()


def port_holders(transport: str, port: int, proc_root: str = "/proc") -> List[PortHolder]:
    """Every process holding ``transport``/``port`` (one entry per socket)."""
    sockets = sockets_on_port(transport, port, proc_root)
    owners = socket_owners([s.inode for s in sockets], proc_root)
    holders = []
    for sock in sockets:
        pid, name = owners.get(sock.inode, (None, None))
        holders.append(PortHolder(transport, port, sock.address, pid, name))
    return holders


def foreign_holders(
    transport: str,
    port: int,
    server_pids: Iterable[int],
    proc_root: str = "/proc",
    addresses: Optional[Iterable[str]] = None,
) -> List[PortHolder]:
    """Holders of the port other than the server we manage (its own listeners are no conflict).

    With ``addresses`` (where the new listener will bind), only holders the kernel would refuse that bind for
    count: one on the same address, or either side on a wildcard address. None means any address.
    """
    ours = set(server_pids)
    wanted = None if addresses is None else list(addresses)
    return [
        h
        for h in port_holders(transport, port, proc_root)
        if (h.pid is None or h.pid not in ours)
        and (wanted is None or any(addresses_overlap(h.address, a) for a in wanted))
    ]


_WILDCARDS = ("0.0.0.0", "::")


def _normal_address(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address  # a name: compared as text, and never taken for a wildcard
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return str(parsed)


def addresses_overlap(bound: str, wanted: str) -> bool:
    """Would binding ``wanted`` fail because a socket is bound on ``bound`` (same port)?"""
    first, second = _normal_address(bound), _normal_address(wanted)
    return first in _WILDCARDS or second in _WILDCARDS or first == second


def _effective_capabilities(pid: Optional[int], proc_root: str) -> int:
    status = _read(os.path.join(proc_root, "self" if pid is None else str(pid), "status"))
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def unprivileged_port_start(proc_root: str = "/proc") -> int:
    text = _read(os.path.join(proc_root, "sys", "net", "ipv4", "ip_unprivileged_port_start")).strip()
    return int(text) if text.isdigit() else PRIVILEGED_PORT_LIMIT


def can_bind(port: int, pid: Optional[int] = None, proc_root: str = "/proc") -> bool:
    """May process ``pid`` (None: this process) bind ``port``? Low ports need CAP_NET_BIND_SERVICE."""
    if port >= unprivileged_port_start(proc_root):
        return True
    return bool(_effective_capabilities(pid, proc_root) & (1 << CAP_NET_BIND_SERVICE))
