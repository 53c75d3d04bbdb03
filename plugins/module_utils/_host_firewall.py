# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening and closing SMB ports in the firewall a Linux host runs: firewalld, ufw, nftables' inet filter input, or
the configuration of a firewalld that is enabled but not running.

This is a private module_utils file: its API may change without notice.

A port is a spec ``4445/tcp`` or ``8443/udp`` (QUIC is UDP; SMB Direct shares the TCP port space). Our nftables
rules carry the comment ``smb.alternative_ports pysmbd`` (the pysmbd role has always tagged them so), which is how
we tell them from the administrator's: they are replaced as a set, in one nft transaction, so they always open
exactly the server's ports. Our ufw rules carry the comment ``smb.alternative_ports`` (``ufw show added`` lists
them) and are likewise kept to exactly the server's ports, one ``ufw allow``/``ufw delete`` per port.
firewalld has no comments on ports: we add the ports the server listens on and remove only ports a change removed,
never one we cannot tell is ours.

Which firewall, first match wins:

1. a running firewalld (``firewall-cmd``: a permanent and a runtime rule per port in its default zone). firewalld
   owns the host's ruleset while it runs; ufw beside it is a set-up neither supports, and this keeps the choice made
   before ufw was known here;
2. an active ufw (``ENABLED=yes`` in /etc/ufw/ufw.conf, the cheap check, then ``ufw status`` says active). ufw
   loads its chains through iptables (iptables-nft puts them in the ``ip``/``ip6 filter`` tables), and a host that
   runs it may also have Debian's stock ``inet filter input`` chain (policy accept): a rule there would open
   nothing while ufw drops the port, and ``ufw status`` would not show it to the administrator who manages ufw;
3. an nftables ``inet filter input`` chain, the firewall that filters now;
4. a firewalld enabled at boot but not running now (``firewall-offline-cmd`` edits its permanent configuration, so
   the ports are open when it starts: assumed to be what an administrator who stopped it for a while wants; a
   disabled firewalld is no firewall of this host and is left alone);
5. else nothing.

A ufw enabled at boot but not active now (its chains are not loaded) is an error, whatever else the host runs: ufw
itself refuses rule changes then ("ERROR: problem running"), and it takes over the host's filtering at its next
start, so a rule put anywhere else would be lost; the message says to start it or to set ``firewall: false``.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Callable, Iterable, List, Optional, Set, Tuple

RunCommand = Callable[..., Tuple[int, str, str]]
TAG = "smb.alternative_ports pysmbd"
UFW_TAG = "smb.alternative_ports"
UFW_CONF = "/etc/ufw/ufw.conf"
_PROTOCOL = {"tcp": "tcp", "rdma": "tcp", "quic": "udp"}
_NFT_RULE = re.compile(r"^\s*(tcp|udp) dport (?:\{ ([0-9, ]+) \}|([0-9]+)) accept comment \"" + re.escape(TAG) + r"\"")
_NFT_HANDLE = re.compile(r"# handle ([0-9]+)\s*$")
# A ``ufw show added`` line that opens ports to anyone: ``ufw allow [in] 445,137:139[/tcp] [comment 'text']``.
_UFW_RULE = re.compile(r"^ufw allow (?:in )?([0-9,:]+)(?:/(tcp|udp))?(?: comment '(.*)')?\s*$")


class HostFirewallError(Exception):
    """The host firewall refused a change; the message names the command and what it said."""


@dataclass
class FirewallChange:
    """What a sync did (or, in check mode, would do)."""

    kind: str
    """``firewalld``, ``ufw``, ``nftables``, ``firewalld-offline`` (enabled, not running) or ``none`` (nothing to
    open)."""
    opened: List[str] = field(default_factory=list)
    closed: List[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.opened or self.closed)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "opened": self.opened, "closed": self.closed}

    def diff_lines(self, side: str) -> str:
        """``firewall <kind> 4445/tcp open|closed`` lines of the changed ports, for diff mode's ``before``/``after``."""
        lines = [(spec, "closed" if side == "before" else "open") for spec in self.opened]
        lines += [(spec, "open" if side == "before" else "closed") for spec in self.closed]
        return "".join(f"firewall {self.kind} {spec} {state}\n" for spec, state in sorted(lines))


def port_specs(entries: Iterable[dict]) -> Set[str]:
    """``{transport, port}`` entries -> ``{"4445/tcp", "8443/udp"}``."""
    return {f"{int(entry['port'])}/{_PROTOCOL[str(entry['transport'])]}" for entry in entries}


class HostFirewall:
    """The active firewall of this host, found by ``detect``."""

    kind = "none"

    def __init__(self, run: RunCommand, program: str = "") -> None:
        self.run = run
        self.program = program
        """The firewall's command (``firewall-cmd`` or ``nft``), as found on this host."""

    def plan(self, wanted: Set[str], removed: Set[str]) -> FirewallChange:
        return FirewallChange(self.kind)

    def apply(self, change: FirewallChange, wanted: Set[str]) -> None:
        """Carry out ``change`` (from ``plan``)."""

    def _check(self, args: List[str], data: Optional[str] = None) -> str:
        rc, out, err = self.run(args, data=data) if data is not None else self.run(args)
        if rc != 0:
            raise HostFirewallError(f"{' '.join(args)} failed: {(err or out).strip()}")
        return out


class Firewalld(HostFirewall):
    """A running firewalld: its permanent configuration (for the next reload or boot) and its runtime, kept apart.

    A port a service of the zone already opens (``samba`` opens 139/tcp and 445/tcp) counts as open: no second rule
    for it. Closing touches only the zone's own ports, never the administrator's services.
    """

    kind = "firewalld"

    def zone(self, *permanent: str) -> Tuple[Set[str], Set[str]]:
        """(the default zone's own ports, the ports its services open), permanent or runtime."""
        own = set(self._check([self.program, *permanent, "--list-ports"]).split())
        services: Set[str] = set()
        for service in self._check([self.program, *permanent, "--list-services"]).split():
            # The service's definition as stored (its runtime copy is the same unless edited without a reload).
            services.update(self._check([self.program, "--permanent", f"--service={service}", "--get-ports"]).split())
        return own, services

    def plan(self, wanted: Set[str], removed: Set[str]) -> FirewallChange:
        own_permanent, services_permanent = self.zone("--permanent")
        own_runtime, services_runtime = self.zone()
        open_in_both = (own_permanent | services_permanent) & (own_runtime | services_runtime)
        closed = (removed & (own_permanent | own_runtime)) - wanted
        return FirewallChange(self.kind, sorted(wanted - open_in_both), sorted(closed))

    def apply(self, change: FirewallChange, wanted: Set[str]) -> None:
        # firewalld answers success (with a warning) to a port that is already open or already closed.
        for spec in change.opened:
            self._check([self.program, "--permanent", f"--add-port={spec}"])
            self._check([self.program, f"--add-port={spec}"])
        for spec in change.closed:
            self._check([self.program, "--permanent", f"--remove-port={spec}"])
            self._check([self.program, f"--remove-port={spec}"])


class FirewalldOffline(HostFirewall):
    """A firewalld enabled at boot but not running: ``firewall-offline-cmd`` edits its permanent zone files.

    Services count as in ``Firewalld``."""

    kind = "firewalld-offline"

    def plan(self, wanted: Set[str], removed: Set[str]) -> FirewallChange:
        own = set(self._check([self.program, "--list-ports"]).split())
        have = set(own)
        for service in self._check([self.program, "--list-services"]).split():
            have.update(self._check([self.program, f"--service={service}", "--get-ports"]).split())
        return FirewallChange(self.kind, sorted(wanted - have), sorted((removed & own) - wanted))

    def apply(self, change: FirewallChange, wanted: Set[str]) -> None:
        for spec in change.opened:
            self._check([self.program, f"--add-port={spec}"])
        for spec in change.closed:
            self._check([self.program, f"--remove-port={spec}"])


class Nftables(HostFirewall):
    kind = "nftables"

    def our_rules(self) -> Tuple[Set[str], List[str]]:
        """The ports our tagged rules open, and those rules' handles."""
        listing = self._check([self.program, "-a", "list", "chain", "inet", "filter", "input"])
        ports: Set[str] = set()
        handles = []
        for line in listing.splitlines():
            rule = _NFT_RULE.match(line)
            handle = _NFT_HANDLE.search(line)
            if rule and handle:
                numbers = rule.group(2) or rule.group(3)
                ports.update(f"{number.strip()}/{rule.group(1)}" for number in numbers.split(","))
                handles.append(handle.group(1))
        return ports, handles

    def plan(self, wanted: Set[str], removed: Set[str]) -> FirewallChange:
        have, _handles = self.our_rules()
        return FirewallChange(self.kind, sorted(wanted - have), sorted(have - wanted))

    def apply(self, change: FirewallChange, wanted: Set[str]) -> None:
        _have, handles = self.our_rules()
        lines = [f"delete rule inet filter input handle {handle}" for handle in handles]
        for protocol in ("tcp", "udp"):
            numbers = sorted(int(spec.split("/")[0]) for spec in wanted if spec.endswith("/" + protocol))
            if numbers:
                joined = ", ".join(str(number) for number in numbers)
                lines.append(f'insert rule inet filter input {protocol} dport {{ {joined} }} accept comment "{TAG}"')
        # One transaction: the old rules go and the new ones come together, or nothing changes.
        self._check([self.program, "-f", "-"], data="\n".join(lines) + "\n")


class Ufw(HostFirewall):
    """An active ufw: one ``allow`` rule per port, commented ``smb.alternative_ports``, for IPv4 and IPv6 as ufw's
    own IPV6 setting says.

    A port one of the administrator's rules already opens to anyone (``ufw allow 445/tcp``, ``ufw allow 4445``) gets
    no rule of ours: ``ufw allow`` of the same rule with our comment would take theirs over (ufw answers "Rule
    updated"), and removing it later would close their port. Rules that open a port only to some sources or
    interfaces, and application profiles (``ufw allow Samba``), do not count: ours is added beside them.
    ``ufw delete`` matches the comment too, so it never removes the administrator's rule for the same port.
    """

    kind = "ufw"

    def rules(self) -> Tuple[Set[str], Set[str]]:
        """(the ports our rules open, the ports the administrator's rules open to anyone)."""
        ours: Set[str] = set()
        theirs: Set[str] = set()
        for line in self._check([self.program, "show", "added"]).splitlines():
            rule = _UFW_RULE.match(line.strip())
            if not rule:
                continue
            numbers, protocol, comment = rule.groups()
            specs = {
                f"{port}/{proto}"
                for port in _ufw_ports(numbers)
                for proto in ([protocol] if protocol else ["tcp", "udp"])
            }
            # Ours are always one port and one protocol, as apply adds them.
            if comment == UFW_TAG and len(specs) == 1:
                ours |= specs
            else:
                theirs |= specs
        return ours, theirs

    def plan(self, wanted: Set[str], removed: Set[str]) -> FirewallChange:
        ours, theirs = self.rules()
        return FirewallChange(self.kind, sorted(wanted - ours - theirs), sorted(ours - wanted))

    def apply(self, change: FirewallChange, wanted: Set[str]) -> None:
        for spec in change.opened:
            self._check([self.program, "allow", spec, "comment", UFW_TAG])
        for spec in change.closed:
            self._check([self.program, "delete", "allow", spec, "comment", UFW_TAG])


def _ufw_ports(numbers: str) -> List[int]:
    """``445,137:139`` -> [445, 137, 138, 139]."""
    ports: List[int] = []
    for item in numbers.split(","):
        low, _sep, high = item.partition(":")
        if low.isdigit() and (not high or high.isdigit()):
            ports.extend(range(int(low), int(high or low) + 1))
    return ports


def ufw_enabled(conf: str = UFW_CONF) -> bool:
    """``ENABLED=yes`` in ufw.conf: ufw starts at boot (``ufw enable`` writes it, ``ufw disable`` clears it)."""
    try:
        with open(conf, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return False
    return any(line.strip().replace('"', "").replace("'", "") == "ENABLED=yes" for line in lines)


def detect(run: RunCommand, ufw_conf: str = UFW_CONF) -> HostFirewall:
    """The host's firewall in the order the module docstring gives (running firewalld, active ufw, nftables, stopped
    firewalld), else no firewall. Raises HostFirewallError for a ufw enabled at boot but not active. ``ufw_conf`` is
    where ufw.conf is (tests point it at a copy)."""
    firewall_cmd = _program("firewall-cmd")
    if firewall_cmd and run([firewall_cmd, "--state"])[0] == 0:
        return Firewalld(run, firewall_cmd)
    ufw = _program("ufw") if ufw_enabled(ufw_conf) else None
    if ufw:
        rc, out, err = run([ufw, "status"])
        if rc == 0 and out.strip().startswith("Status: active"):
            return Ufw(run, ufw)
        raise HostFirewallError(
            f"ufw is enabled at boot (ENABLED=yes in {ufw_conf}) but not active ({(out or err).strip()}), and it "
            "refuses rule changes until it runs: start it with ufw enable, or set firewall: false"
        )
    nft = _program("nft")
    if nft and run([nft, "list", "chain", "inet", "filter", "input"])[0] == 0:
        return Nftables(run, nft)
    offline = _program("firewall-offline-cmd")
    systemctl = _program("systemctl")
    if offline and systemctl and run([systemctl, "is-enabled", "--quiet", "firewalld.service"])[0] == 0:
        return FirewalldOffline(run, offline)
    return HostFirewall(run)


def _program(command: str) -> Optional[str]:
    # Ansible's run_command fails the whole module on a missing program, so look first (sbin may be off PATH).
    return shutil.which(command, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
