# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state file of a port migration, kept on the controller (private to this collection).

One JSON document per migration: what moves (``from``/``to`` per host), and for every host the phases it has
completed, each with its result (the ``server_ports`` result of ``add`` is what a rollback restores). A rerun
skips what a host has completed; ``forget`` clears a host after a rollback. Written atomically, so a run that
is killed mid-write leaves the previous document.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

PHASES = ("preflight", "add", "clients", "drain", "remove")
FORMAT = 1


class StateFileError(Exception):
    """The state file cannot be read or does not belong to this migration."""


def empty_state(name: str) -> Dict[str, Any]:
    return {"format": FORMAT, "migration": name, "hosts": {}, "events": []}


def load_state(path: Path, name: str) -> Dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return empty_state(name)
    except (OSError, ValueError) as exc:
        raise StateFileError(f"cannot read the migration state file {path}: {exc}; fix or remove it") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StateFileError(f"{path} is not a migration state file (format {FORMAT}); give another path")
    if document.get("migration") != name:
        raise StateFileError(
            f"{path} records the migration {document.get('migration')!r}, not {name!r}: finish or roll that one back "
            "first, or give this migration its own state file"
        )
    return document


def save_state(path: Path, document: Dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=1, sort_keys=True)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def record_phase(
    document: Dict[str, Any], phase: str, outcomes: Dict[str, Dict[str, Any]], now: Optional[float] = None
) -> List[str]:
    """Record ``phase`` for each host of ``outcomes`` ({host: {status, result, from, to}}); returns the hosts done.

    ``status`` is ``done`` (the phase is complete on that host), ``failed`` or ``rolled_back`` (kept for the
    record, the phase stays to do).
    """
    if phase not in PHASES:
        raise StateFileError(f"unknown phase {phase!r}; phases are {', '.join(PHASES)}")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now if now is not None else time.time()))
    done = []
    for host, outcome in sorted(outcomes.items()):
        entry = document["hosts"].setdefault(host, {"completed": [], "phases": {}})
        for key in ("from", "to"):
            if outcome.get(key) is not None:
                entry[key] = outcome[key]
        status = outcome.get("status", "done")
        entry["phases"][phase] = {"status": status, "time": stamp, "result": outcome.get("result")}
        if status == "done":
            if phase not in entry["completed"]:
                entry["completed"].append(phase)
            done.append(host)
    document["events"].append(
        {"time": stamp, "phase": phase, "hosts": {h: o.get("status", "done") for h, o in sorted(outcomes.items())}}
    )
    return done


def forget_hosts(document: Dict[str, Any], hosts: List[str]) -> None:
    """A rollback put these hosts back: their migration starts over."""
    for host in hosts:
        document["hosts"].pop(host, None)


def completed(document: Dict[str, Any]) -> Dict[str, List[str]]:
    return {host: list(entry.get("completed", [])) for host, entry in document["hosts"].items()}
