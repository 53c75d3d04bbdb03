# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SELinux port labels for the Linux backends: each port the server listens on carries ``smbd_port_t``.

This is a private module_utils file: its API may change without notice.

With SELinux enforcing, smbd (domain ``smbd_t``) may bind a TCP port only when its label is ``smbd_port_t`` (the
policy labels 445 and 137-139 so); a new ``smb ports`` value is denied otherwise. We label through the ``semanage``
command (policycoreutils-python-utils), whenever SELinux is enabled, enforcing or permissive, as
community.general.seport does: a permissive host that is switched to enforcing later keeps working.

What we touch, and what never:

- a port without a label of its own gets a local record (``semanage port -a``); a port the policy itself labels
  with another type (8443/tcp is ``http_port_t``) gets a local record that overrides it (``-m``);
- a port already ``smbd_port_t`` (445, or inside a range such as 137-139) is left alone;
- a port another local record labels with another type was labelled by the administrator for some other service:
  never relabelled (the Samba backend refuses to move smbd there, since smbd could not bind it);
- when a port is removed from the server, only a local ``smbd_port_t`` record for exactly that port is deleted
  (``semanage port -d``); policy records (445 stays ``smbd_port_t``) cannot be and are not removed.

semanage records carry no comment, so as with firewalld ports, "ours" means "a local smbd_port_t record of a
port this change removed". All changes of one kind go through one ``semanage import`` transaction: libsemanage
rebuilds and reloads the whole policy on every commit, which takes seconds.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

RunCommand = Callable[..., Tuple[int, str, str]]
SMBD_PORT_TYPE = "smbd_port_t"
SELINUX_MODES = ("auto", "always", "never")
# libselinux's is_selinux_enabled(): selinuxfs is mounted (the kernel runs SELinux, enforcing or permissive).
SELINUXFS_ENFORCE = "/sys/fs/selinux/enforce"
NO_LABEL = "none"
"""How a port without any record shows in reports (the kernel gives it the default port type)."""


class SelinuxPortsError(Exception):
    """semanage failed or is missing; the message names the command, what it said and the fix."""


@dataclass(frozen=True)
class PortRecord:
    """One ``semanage port`` record: a type for a protocol and a port range."""

    port_type: str
    protocol: str
    low: int
    high: int

    def covers(self, protocol: str, port: int) -> bool:
        return self.protocol == protocol and self.low <= port <= self.high

    @property
    def exact(self) -> bool:
        return self.low == self.high


@dataclass
class LabelChange:
    """What a sync of port labels does (or, in check mode, would do)."""

    port_type: str = SMBD_PORT_TYPE
    labelled: List[str] = field(default_factory=list)
    """Ports (``4445/tcp``) that get ``port_type``."""
    unlabelled: List[str] = field(default_factory=list)
    """Ports whose local ``port_type`` record goes."""
    before: Dict[str, str] = field(default_factory=dict)
    """Each changed port's effective type before the change (``none`` when no record covers it)."""
    after: Dict[str, str] = field(default_factory=dict)
    """Each changed port's effective type after it."""
    conflicts: Dict[str, str] = field(default_factory=dict)
    """Ports another service's local record labels with another type (left as they are) -> why, and the fix."""
    label_commands: List[str] = field(default_factory=list)
    unlabel_commands: List[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.labelled or self.unlabelled)

    def as_dict(self) -> dict:
        return {
            "type": self.port_type,
            "labelled": self.labelled,
            "unlabelled": self.unlabelled,
            "before": self.before,
            "after": self.after,
        }

    def diff_lines(self, side: str) -> str:
        """``selinux 4445/tcp <type>`` lines of the changed ports, for diff mode's ``before`` or ``after``."""
        labels = self.before if side == "before" else self.after
        return "".join(f"selinux {spec} {labels[spec]}\n" for spec in sorted(labels, key=_spec_order))


def parse_port_listing(text: str) -> List[PortRecord]:
    """``semanage port -l -n`` lines (``smbd_port_t  tcp  445, 137-139``) -> records."""
    records = []
    for line in text.splitlines():
        fields = line.split(None, 2)
        if len(fields) != 3 or fields[1] not in ("tcp", "udp", "dccp", "sctp"):
            continue
        port_type, protocol, ports = fields
        for item in ports.split(","):
            low, _sep, high = item.strip().partition("-")
            if low.isdigit() and (not high or high.isdigit()):
                records.append(PortRecord(port_type, protocol, int(low), int(high or low)))
    return records


def effective_type(records: Iterable[PortRecord], protocol: str, port: int) -> Optional[str]:
    """The type of the narrowest record covering the port (libsemanage orders port contexts narrowest first)."""
    covering = [r for r in records if r.covers(protocol, port)]
    return min(covering, key=lambda r: r.high - r.low).port_type if covering else None


class SelinuxPorts:
    """The port labels of this host's SELinux policy store, read and changed through ``semanage``."""

    def __init__(self, run: RunCommand, semanage: str, port_type: str = SMBD_PORT_TYPE) -> None:
        self.run = run
        self.semanage = semanage
        self.port_type = port_type

    def records(self) -> Tuple[List[PortRecord], List[PortRecord]]:
        """(local customisations, policy records): ``-l`` lists both merged, ``-l -C`` only the local ones."""
        local = parse_port_listing(self._check([self.semanage, "port", "-l", "-C", "-n"]))
        everything = parse_port_listing(self._check([self.semanage, "port", "-l", "-n"]))
        remaining = list(local)
        policy = []
        for record in everything:
            if record in remaining:
                remaining.remove(record)
            else:
                policy.append(record)
        return local, policy

    def labels(self, specs: Iterable[str]) -> Dict[str, str]:
        """Each port's effective type (``none`` when no record covers it), as server_ports_info reports it."""
        local, policy = self.records()
        found = {}
        for spec in sorted(specs, key=_spec_order):
            port, protocol = _split(spec)
            found[spec] = effective_type(local, protocol, port) or effective_type(policy, protocol, port) or NO_LABEL
        return found

    def plan(self, wanted: Set[str], removed: Set[str]) -> LabelChange:
        """Labels for the ports of ``wanted`` (``4445/tcp`` specs); local records of ``removed`` ports go."""
        local, policy = self.records()
        change = LabelChange(self.port_type)
        for spec in sorted(wanted, key=_spec_order):
            port, protocol = _split(spec)
            current = effective_type(local, protocol, port) or effective_type(policy, protocol, port)
            if current == self.port_type:
                continue
            own = [r for r in local if r.exact and r.covers(protocol, port)]
            if own:
                change.conflicts[spec] = (
                    f"{spec}: SELinux labels it {own[0].port_type} by a local record someone else made (semanage "
                    f"port -l -C), for another service; the SMB server may not bind it. Pick another port, or "
                    f"relabel it yourself (semanage port -m -t {self.port_type} -p {protocol} {port})"
                )
                continue
            action = "-m" if any(r.exact and r.covers(protocol, port) for r in policy) else "-a"
            change.label_commands.append(f"port {action} -t {self.port_type} -p {protocol} {port}")
            change.labelled.append(spec)
            change.before[spec] = current or NO_LABEL
            change.after[spec] = self.port_type
        for spec in sorted(removed - wanted, key=_spec_order):
            port, protocol = _split(spec)
            ours = PortRecord(self.port_type, protocol, port, port)
            if ours not in local:
                continue
            change.unlabel_commands.append(f"port -d -p {protocol} {port}")
            change.unlabelled.append(spec)
            change.before[spec] = self.port_type
            remaining = [r for r in local if r != ours]
            change.after[spec] = (
                effective_type(remaining, protocol, port) or effective_type(policy, protocol, port) or NO_LABEL
            )
        return change

    def label(self, change: LabelChange) -> None:
        """Add the labels of ``change``: before the server binds its new ports."""
        self._import(change.label_commands)

    def unlabel(self, change: LabelChange) -> None:
        """Remove the labels of ``change``: once the server no longer listens on those ports."""
        self._import(change.unlabel_commands)

    def undo_label(self, change: LabelChange) -> None:
        """Take back what ``label`` added (the server change failed): new records go, overridden ones too."""
        self._import([f"port -d -p {_split(spec)[1]} {_split(spec)[0]}" for spec in change.labelled])

    def _import(self, commands: List[str]) -> None:
        if commands:
            # One transaction, one policy rebuild: all of the lines apply or none.
            self._check([self.semanage, "import"], data="\n".join(commands) + "\n")

    def _check(self, args: List[str], data: Optional[str] = None) -> str:
        rc, out, err = self.run(args, data=data) if data is not None else self.run(args)
        if rc != 0:
            shown = " ".join(args) + (f" <<< {data.strip()!r}" if data else "")
            raise SelinuxPortsError(f"{shown} failed: {(err or out).strip()}")
        return out


def selinux_enabled() -> bool:
    return os.path.exists(SELINUXFS_ENFORCE)


def detect(run: RunCommand, mode: str) -> Optional[SelinuxPorts]:
    """The port labels to keep: ``auto`` when SELinux is enabled, ``always`` even when it is not (a host about to
    enable it), ``never`` not at all (None). Raises SelinuxPortsError when they are needed and semanage is missing."""
    if mode == "never" or (mode == "auto" and not selinux_enabled()):
        return None
    semanage = shutil.which("semanage", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if not semanage:
        why = "SELinux is enabled on this host" if mode == "auto" else "selinux is always"
        raise SelinuxPortsError(
            f"{why}, so the server's ports need the SELinux type {SMBD_PORT_TYPE}, but semanage is missing: install "
            "policycoreutils-python-utils (dnf or apt), or set selinux: never and label the ports yourself"
        )
    return SelinuxPorts(run, semanage)


def _split(spec: str) -> Tuple[int, str]:
    port, _sep, protocol = spec.partition("/")
    return int(port), protocol


def _spec_order(spec: str) -> Tuple[str, int]:
    port, protocol = _split(spec)
    return protocol, port
