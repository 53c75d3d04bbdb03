# Copyright: contributors to smb.alternative_ports
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pysmbd backend of server_ports and server_ports_info: pysmbd, the SMB server bundled with this collection.

Private to smb.alternative_ports: no compatibility promise.

The port table is the set of ``[[listeners]]`` tables of pysmbd's TOML config. We edit those tables as text,
leaving every other line (comments included) byte for byte, because people read and edit this file. A change
is written to a temporary file next to the config, checked with ``pysmbd check-config``, renamed over the
config (mode and owner kept), and applied with ``pysmbd reload``. If the reload reports a listener that failed
to bind, the old file goes back and pysmbd is reloaded again, so the old table keeps serving.
"""

from __future__ import annotations

import json
import os
import re
from typing import Callable, Dict, List, Optional, Tuple

from ansible_collections.smb.alternative_ports.plugins.module_utils._files import write_atomically
from ansible_collections.smb.alternative_ports.plugins.module_utils._pem import pem_certificate_sha256
from ansible_collections.smb.alternative_ports.plugins.module_utils._plan import planned_table
from ansible_collections.smb.alternative_ports.plugins.module_utils._ports_in_use import read_pidfile
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import (
    BackendError,
    PortRequest,
    PortState,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._local import LocalBackend

try:
    import tomllib as _toml
except ImportError:  # Python < 3.11
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ImportError:
        _toml = None  # type: ignore[assignment]

HAS_TOML = _toml is not None
DEFAULT_EXECUTABLES = ("/opt/pysmbd/venv/bin/pysmbd", "/usr/local/bin/pysmbd", "/usr/bin/pysmbd")
DEFAULT_STATE_DIR = "/run/pysmbd"
SUPPORTED_TRANSPORTS = ("tcp", "quic")
EXIT_NOT_RUNNING = 3  # pysmbd reload: no server runs for this config

# A TOML table header on its own line: [name] or [[name]], with an optional trailing comment.
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")

RunCommand = Callable[[List[str]], Tuple[int, str, str]]


class PysmbdError(BackendError):
    """A problem with pysmbd's config or server; the message says what to do."""


def parse_config(text: str, path: str) -> dict:
    if not HAS_TOML:
        raise PysmbdError(f"reading {path} needs tomllib (Python 3.11+) or the tomli package on the target")
    try:
        return _toml.loads(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise PysmbdError(f"{path} is not valid TOML: {exc} (fix the file, then run again)") from exc


def listeners_of(config: dict, path: str) -> List[dict]:
    listeners = config.get("listeners", [])
    if not isinstance(listeners, list):
        raise PysmbdError(f"{path}: listeners must be an array of tables ([[listeners]])")
    result = []
    for index, listener in enumerate(listeners):
        try:
            transport = str(listener.get("transport", "tcp")).lower()
            port = int(listener["port"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PysmbdError(f"{path}: listeners[{index}] needs a port number") from exc
        result.append({"transport": transport, "address": str(listener.get("address", "0.0.0.0")), "port": port})
    return result


def table_of(listeners: List[dict]) -> List[dict]:
    """The port table: one ``{transport, port, instances}`` per (transport, port), whatever the addresses."""
    keys = sorted({(item["transport"], item["port"]) for item in listeners})
    return [{"transport": t, "port": p, "instances": "default"} for t, p in keys]


def desired_listeners(
    current: List[dict], table: List[dict], address: str, pinned: Optional[Dict[Tuple[str, int], List[str]]] = None
) -> List[dict]:
    """Listeners for ``table``.

    A port with ``pinned`` addresses gets exactly those (a rollback restores them); otherwise a port that stays keeps
    its listeners and their addresses, and a new port gets ``address``.
    """
    pinned = pinned or {}
    result = []
    for entry in table:
        transport, port = entry["transport"], int(entry["port"])
        if (transport, port) in pinned:
            result.extend({"transport": transport, "address": a, "port": port} for a in pinned[(transport, port)])
            continue
        kept = [item for item in current if (item["transport"], item["port"]) == (transport, port)]
        result.extend(kept or [{"transport": transport, "address": address, "port": port}])
    return result


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_listeners(listeners: List[dict]) -> str:
    blocks = []
    for item in listeners:
        blocks.append(
            f"[[listeners]]\ntransport = {_toml_string(item['transport'])}\n"
            f"address = {_toml_string(item['address'])}\nport = {int(item['port'])}\n"
        )
    return "\n".join(blocks)


def _split_blocks(text: str) -> List[Tuple[Optional[str], List[str]]]:
    """Split TOML text into (header name or None for the preamble, lines) blocks."""
    blocks = [(None, [])]  # type: List[Tuple[Optional[str], List[str]]]
    in_multiline = False
    for line in text.splitlines(True):
        if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
            in_multiline = not in_multiline
        match = None if in_multiline else _HEADER.match(line)
        if match:
            name = match.group(2).strip().strip("\"'")
            blocks.append((("[[%s]]" if match.group(1) == "[[" else "[%s]") % name, [line]))
        else:
            blocks[-1][1].append(line)
    return blocks


def replace_listeners(text: str, listeners: List[dict]) -> str:
    """Return ``text`` with its ``[[listeners]]`` tables replaced by ``listeners``; all else untouched.

    The new tables go where the first old one was, else before the first table that follows ``[server]``,
    else at the end.
    """
    blocks = _split_blocks(text)
    rendered = render_listeners(listeners)
    out = []  # type: List[str]
    placed = False
    for name, lines in blocks:
        is_listener = name is not None and (name == "[[listeners]]" or name.startswith("[listeners."))
        if is_listener:
            if not placed:
                out.append(_ensure_blank_line_before(out) + rendered + ("\n" if rendered else ""))
                placed = True
            continue
        out.append("".join(lines))
    result = "".join(out)
    if not placed:
        if result and not result.endswith("\n"):
            result += "\n"
        result += _ensure_blank_line_before([result]) + rendered
    return result.rstrip("\n") + "\n"


def _ensure_blank_line_before(parts: List[str]) -> str:
    joined = "".join(parts)
    if not joined or joined.endswith("\n\n"):
        return ""
    return "\n" if joined.endswith("\n") else "\n\n"


class PysmbdBackend(LocalBackend):
    """Reads and changes the port table of one pysmbd config file."""

    name = "pysmbd"

    def __init__(self, config_path: str, run_command: RunCommand, executable: Optional[str] = None) -> None:
        self.config_path = config_path
        self.run_command = run_command
        self.executable = executable or find_executable()
        self._text = None  # type: Optional[str]
        self._config = None  # type: Optional[dict]

    # --- reading -------------------------------------------------------------------------------------------
    def load(self) -> None:
        try:
            with open(self.config_path) as handle:
                self._text = handle.read()
        except OSError as exc:
            raise PysmbdError(
                f"cannot read pysmbd config {self.config_path}: {exc.strerror} (install pysmbd with the "
                "smb.alternative_ports.pysmbd role, or set config_path)"
            ) from exc
        self._config = parse_config(self._text, self.config_path)

    @property
    def text(self) -> str:
        if self._text is None:
            self.load()
        return self._text or ""

    @property
    def listeners(self) -> List[dict]:
        if self._config is None:
            self.load()
        return listeners_of(self._config or {}, self.config_path)

    def read(self) -> PortState:
        listeners = self.listeners
        return PortState(table_of(listeners), {"listeners": listeners})

    def state_dir(self) -> str:
        if self._config is None:
            self.load()
        server = (self._config or {}).get("server", {})
        return str(server.get("state_dir", DEFAULT_STATE_DIR))

    def server_pids(self) -> List[int]:
        """The running pysmbd's pid (from its pidfile), if it is alive."""
        pid = read_pidfile(os.path.join(self.state_dir(), "pysmbd.pid"))
        return [pid] if pid is not None else []

    def check_entries(self, entries: List[dict]) -> List[str]:
        problems = []
        for entry in entries:
            if entry["transport"] not in SUPPORTED_TRANSPORTS:
                problems.append(
                    f"{entry['transport']}/{entry['port']}: pysmbd has no {entry['transport']} transport "
                    "(use tcp or quic)"
                )
            if entry.get("instances", "default") != "default":
                problems.append(
                    f"{entry['transport']}/{entry['port']}: instances={entry['instances']} is a Windows setting "
                    "(EnableInstances); pysmbd listeners take only 'default'"
                )
        quic_ports = [str(entry["port"]) for entry in entries if entry["transport"] == "quic"]
        if quic_ports:
            problems.extend(self._quic_problems(", ".join("quic/" + port for port in quic_ports)))
        return problems

    def _quic_problems(self, where: str) -> List[str]:
        """QUIC runs TLS 1.3: the config's [quic] certificate and private_key must name existing files."""
        if self._config is None:
            self.load()
        quic = (self._config or {}).get("quic")
        how = (
            "run the smb.alternative_ports.pysmbd role with pysmbd_quic: true (it generates a self-signed pair), "
            "or set pysmbd_quic_certificate and pysmbd_quic_private_key"
        )
        if not isinstance(quic, dict):
            return [f"{where}: {self.config_path} has no [quic] table with certificate and private_key ({how})"]
        problems = []
        for key in ("certificate", "private_key"):
            value = quic.get(key)
            if not isinstance(value, str) or not value:
                problems.append(f"{where}: {self.config_path} [quic] has no {key} ({how})")
            elif not os.path.isfile(value):
                problems.append(f"{where}: {self.config_path} [quic] {key} {value} does not exist ({how})")
        return problems

    def quic_certificate_sha256(self) -> str:
        """The SHA-256 fingerprint (``AA:BB:..``) of the config's QUIC certificate, read on this host; '' without one.

        verify pins it when the model gives no CA or pin: it comes over the Ansible connection, so it can be trusted.
        """
        if self._config is None:
            self.load()
        quic = (self._config or {}).get("quic")
        path = quic.get("certificate") if isinstance(quic, dict) else None
        if not isinstance(path, str) or not path:
            return ""
        try:
            with open(path) as handle:
                return pem_certificate_sha256(handle.read())
        except (OSError, ValueError):
            return ""  # check_entries names a missing certificate when a QUIC port needs it

    def bind_addresses(self, step: dict, request: PortRequest) -> Optional[List[str]]:
        # pysmbd binds the given address: a port held on another address is no conflict.
        return request.pinned.get((step["transport"], step["port"]), [request.address])

    # --- changing ------------------------------------------------------------------------------------------
    def predict(self, state: PortState, steps: List[dict], request: PortRequest) -> PortState:
        if not steps:
            return state
        after = planned_table(state.table, steps)
        return PortState(
            after, {"listeners": desired_listeners(self.listeners, after, request.address, request.pinned)}
        )

    def apply_ports(self, state: PortState, steps: List[dict], request: PortRequest) -> PortState:
        """Make the config's listeners match the planned table; reload a running server."""
        self._refuse_if_crashed()
        after = planned_table(state.table, steps)
        old_text = self.text
        new_text = replace_listeners(
            old_text, desired_listeners(self.listeners, after, request.address, request.pinned)
        )
        write_atomically(self.config_path, new_text, validate=self._check_config)
        old_config = self._config
        self._text, self._config = new_text, parse_config(new_text, self.config_path)
        if not self.server_pids():
            return self.read()
        rc, out, err = self._pysmbd("reload", "--config", self.config_path)
        if rc != 0:
            write_atomically(self.config_path, old_text)
            self._text, self._config = old_text, old_config
            if rc == EXIT_NOT_RUNNING or not self.server_pids():
                raise PysmbdError(
                    f"pysmbd stopped while it reloaded (killed or crashed) and is not running now, so no listener "
                    f"serves; {self.config_path} was restored to the old listeners: start pysmbd again (run the "
                    "smb.alternative_ports.pysmbd role) and run this task again"
                )
            self._pysmbd("reload", "--config", self.config_path)
            raise PysmbdError(
                f"pysmbd could not apply the new listeners, so {self.config_path} was restored and the old "
                f"listeners keep serving: {_failed_listeners(out) or (err or out).strip()}"
            )
        return self.read()

    def restore_request(self, previous) -> PortRequest:
        # pysmbd reports its listeners with their addresses: put back those exactly.
        request = super().restore_request(previous)
        listeners = (previous.get("listeners") or {}).get("before")
        if listeners is not None:
            request.ports = [dict(item, instances="default") for item in listeners]
        return request

    # --- reporting -----------------------------------------------------------------------------------------
    def result_fields(self, before: PortState, after: PortState, steps: List[dict], request: PortRequest) -> dict:
        listeners = {"before": before.details["listeners"], "after": after.details["listeners"]}
        fields = {**super().result_fields(before, after, steps, request), "listeners": listeners}
        return {**fields, "quic_certificate_sha256": self.quic_certificate_sha256()}

    def info(self, state: PortState) -> dict:
        running = bool(self.server_pids())
        status: Dict[str, object] = {}
        if running and self.executable:
            rc, out, _err = self.run_command([self.executable, "status", "--config", self.config_path, "--json"])
            if rc == 0:
                status = _json_or_empty(out)
        return {
            "running": running,
            "listeners": state.details["listeners"],
            "status": status,
            "quic_certificate_sha256": self.quic_certificate_sha256(),
        }

    def _refuse_if_crashed(self) -> None:
        """A pidfile whose process is gone means pysmbd died (a clean stop removes it): changing the file alone
        would look like success while nothing serves."""
        pidfile = os.path.join(self.state_dir(), "pysmbd.pid")
        if os.path.exists(pidfile) and not self.server_pids():
            raise PysmbdError(
                f"pysmbd is not running: {pidfile} is left by a server that died (killed or crashed), so nothing was "
                "changed; start pysmbd again (run the smb.alternative_ports.pysmbd role), then run this task again"
            )

    def _check_config(self, path: str) -> None:
        rc, out, err = self._pysmbd("check-config", path)
        if rc != 0:
            detail = (out + err).strip().replace(path, self.config_path)
            raise PysmbdError(f"pysmbd check-config rejected the new config, nothing was changed: {detail}")

    def _pysmbd(self, *args: str) -> Tuple[int, str, str]:
        if not self.executable:
            looked = ", ".join(DEFAULT_EXECUTABLES)
            raise PysmbdError(
                f"pysmbd is not installed here (looked in PATH and {looked}): run the smb.alternative_ports.pysmbd "
                "role first, or set executable"
            )
        return self.run_command([self.executable, *args])


def find_executable() -> Optional[str]:
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(directory, "pysmbd")
        if directory and os.access(candidate, os.X_OK):
            return candidate
    for candidate in DEFAULT_EXECUTABLES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _json_or_empty(text: str) -> Dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _failed_listeners(out: str) -> str:
    status = _json_or_empty(out)
    failed = [
        f"{x.get('transport')}/{x.get('port')} on {x.get('address')}: {x.get('error')}"
        for x in status.get("listeners", [])  # type: ignore[union-attr]
        if isinstance(x, dict) and x.get("state") == "failed"
    ]
    return "; ".join(failed)
