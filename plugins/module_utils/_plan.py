# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning the change from one alternative-port table to another.

This is a private module_utils file: its API may change without notice.

Every backend (Windows, pysmbd, Samba) reads its current table, calls ``plan_changes`` and then carries out
the steps in order. Adds come first and removes last, so a client that follows the change is never left
with no listener in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.smb.alternative_ports.plugins.module_utils._ports import TRANSPORTS

_ACTION_ORDER = {"add": 0, "change": 1, "remove": 2}


@dataclass(frozen=True)
class PortEntry:
    """One alternative listening port of a server."""

    transport: str
    """``tcp``, ``quic`` or ``rdma``."""
    port: int
    """1-65535."""
    instances: str = "default"
    """Windows' EnableInstances: ``default`` or ``none``; other backends keep ``default``."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.transport, self.port)

    def as_dict(self) -> dict:
        return {"transport": self.transport, "port": self.port, "instances": self.instances}

    @classmethod
    def from_dict(cls, data: dict) -> PortEntry:
        return cls(
            transport=str(data["transport"]).lower(),
            port=int(data["port"]),
            instances=str(data.get("instances") or "default").lower(),
        )


def _sort_key(entry: PortEntry) -> tuple[int, int]:
    return (TRANSPORTS.index(entry.transport) if entry.transport in TRANSPORTS else len(TRANSPORTS), entry.port)


def plan_changes(current, desired, state: str = "present", exclusive: bool = False) -> list[dict]:
    """Return the ordered steps that turn ``current`` into what ``desired`` asks for.

    ``current`` and ``desired`` are iterables of PortEntry or dicts. With ``state: present`` every desired
    entry is added or changed; with ``exclusive`` every current entry that is not desired is removed.
    With ``state: absent`` the desired entries that exist are removed (``exclusive`` does not apply).
    """
    current_by_key = {entry.key: entry for entry in map(_as_entry, current)}
    desired_entries = [_as_entry(entry) for entry in desired]
    desired_keys = {entry.key for entry in desired_entries}
    steps: list[tuple[str, PortEntry]] = []

    if state == "absent":
        steps = [("remove", current_by_key[e.key]) for e in desired_entries if e.key in current_by_key]
    elif state == "present":
        for entry in desired_entries:
            existing = current_by_key.get(entry.key)
            if existing is None:
                steps.append(("add", entry))
            elif existing.instances != entry.instances:
                steps.append(("change", entry))
        if exclusive:
            steps.extend(("remove", entry) for key, entry in current_by_key.items() if key not in desired_keys)
    else:
        raise ValueError(f"state must be 'present' or 'absent', got {state!r}")

    steps.sort(key=lambda step: (_ACTION_ORDER[step[0]], _sort_key(step[1])))
    return [dict(action=action, **entry.as_dict()) for action, entry in steps]


def apply_plan(current, plan) -> list[PortEntry]:
    """Return the table ``current`` becomes once ``plan`` is carried out (for check mode and diffs)."""
    table_by_key = {entry.key: entry for entry in map(_as_entry, current)}
    for step in plan:
        entry = _as_entry(step)
        if step["action"] == "remove":
            table_by_key.pop(entry.key, None)
        else:
            table_by_key[entry.key] = entry
    return sorted(table_by_key.values(), key=_sort_key)


def table(entries) -> list[dict]:
    """Sorted list of ``{transport, port, instances}`` dicts, the shape every module returns."""
    return [entry.as_dict() for entry in sorted(map(_as_entry, entries), key=_sort_key)]


def format_table(entries) -> str:
    """A short human-readable table for diff mode, one ``transport/port`` line per entry."""
    lines = [f"{e['transport']}/{e['port']} instances={e['instances']}" for e in table(entries)]
    return "\n".join(lines) + ("\n" if lines else "")


def _as_entry(value) -> PortEntry:
    return value if isinstance(value, PortEntry) else PortEntry.from_dict(value)


def planned_table(current, plan) -> list[dict]:
    """The sorted table ``current`` becomes once ``plan`` is carried out, in the shape every module returns."""
    return table(apply_plan(current, plan))
