"""Load and check the pysmbd configuration file (TOML, see docs/contracts.md of the collection).

Every problem is collected before anything is reported, so one run of ``pysmbd check-config``
lists all of them. Each problem names the key path (``listeners[1].port``), what is wrong and
how to fix it; ``str(ConfigError)`` prints one ``<file>: <path>: <problem>`` line per problem.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import tomllib

from pysmbd.core.users import user_names

DEFAULT_STATE_DIR = "/run/pysmbd"
DEFAULT_MAX_FRAME_SIZE = 8454144
MIB = 1024 * 1024
DEFAULT_MAX_MEMORY = 1024 * MIB
DEFAULT_MAX_MEMORY_PER_CONNECTION = 64 * MIB
# The Direct TCP header carries a 24-bit length; below 64 KiB a client cannot even negotiate.
MIN_FRAME_SIZE = 65536
MAX_FRAME_SIZE = 0xFFFFFF
TRANSPORTS = ("tcp", "quic")
NETBIOS_SESSION_PORT = 139

ListenerKey = Tuple[str, str, int]


@dataclass(frozen=True)
class ServerSettings:
    """The ``[server]`` table."""

    name: str = "PYSMBD"
    workgroup: str = "WORKGROUP"
    users_file: Path = Path("/etc/pysmbd/users")
    state_dir: Path = Path(DEFAULT_STATE_DIR)
    require_signing: bool = True
    max_connections: int = 1000
    idle_timeout: float = 900.0
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    max_open_files: int = 65536
    """Open files, directories and pipes of all clients together (the unit's LimitNOFILE is set above it)."""
    max_opens_per_session: int = 4096
    """Opens one session may hold: one user cannot take every descriptor from the others."""
    max_connections_per_address: int = 64
    """Connections one client address may hold (0: no cap); its oldest one without a session makes room first."""
    login_timeout: float = 30.0
    """Seconds a connection has, from its accept, to establish a session; then it is closed."""
    frame_timeout: float = 60.0
    """Seconds a client has to finish sending a frame once its first byte arrived (slow-drip clients)."""
    login_failure_limit: int = 5
    """Failed logins from one address within ``login_failure_window`` before its new logins are delayed (0: off)."""
    login_failure_window: float = 60.0
    """Seconds a failed login counts against its address."""
    login_delay_max: float = 30.0
    """The longest delay (1, 2, 4, ... seconds) a new login from a guessing address waits."""
    refused_log_interval: float = 60.0
    """Refused and evicted connections log one line per address per interval plus a summary with a count (0: all)."""
    max_memory: int = DEFAULT_MAX_MEMORY
    """Bytes held for all clients together (requests read, responses queued, read buffers); past it the biggest
    consumers wait (the unit's MemoryMax is this plus a baseline for the interpreter)."""
    max_memory_per_connection: int = DEFAULT_MAX_MEMORY_PER_CONNECTION
    """Bytes one connection may hold; a client past it is not read from until it reads its responses."""
    drain_timeout: float = 30.0
    """Seconds a client kept unread for memory may go without taking any of its responses before it is closed."""
    oplocks: bool = True
    """Grant oplocks (BATCH or EXCLUSIVE to a file's only open, LEVEL_II to readers) and break them when needed."""
    oplock_break_timeout: float = 35.0
    """Seconds a CREATE waits for an oplock holder to acknowledge a break before it goes on (Windows: 35)."""
    durable_handles: bool = True
    """Grant durable opens (SMB2 durable handles v1 and v2) with a BATCH oplock: they survive a dropped connection."""
    durable_handle_timeout: float = 60.0
    """Seconds a durable open is kept for its client after its connection dropped (v2 clients may ask up to 300)."""
    max_kept_durable_opens: int = 1024
    """Durable opens kept for disconnected clients at once; past it the oldest is closed."""
    workers: int = 1
    """Worker processes sharing the TCP listeners (``SO_REUSEPORT``); ``"auto"`` in the file means one per CPU.
    1 serves everything from one process. QUIC is served by the first worker only; server-wide limits are divided
    between the workers; share modes and byte-range locks hold across them. Changes only at restart."""


@dataclass(frozen=True)
class ListenerConfig:
    """One ``[[listeners]]`` entry: where to accept connections."""

    transport: str
    address: str
    port: int

    @property
    def key(self) -> ListenerKey:
        """What identifies a listener across reloads."""
        return (self.transport, self.address, self.port)

    def describe(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.transport}://{host}:{self.port}"


@dataclass(frozen=True)
class QuicSettings:
    """The ``[quic]`` table (needed only by quic listeners)."""

    certificate: Path
    private_key: Path
    # The largest UDP payload sent. 1200 is what every path must carry (RFC 9000 14); a LAN whose MTU is
    # known can take 1452 (Ethernet, IPv6) or more, and fewer, larger datagrams cost less CPU at both ends.
    max_datagram_size: int = 1200


@dataclass(frozen=True)
class ShareSettings:
    """One ``[[shares]]`` entry."""

    name: str
    path: Path
    read_only: bool = False
    guest_ok: bool = False
    encrypt: bool = False
    comment: str = ""
    valid_users: Tuple[str, ...] = ()
    """Lower-case names of the users who may connect; empty: every user of the users file."""
    read_only_users: Tuple[str, ...] = ()
    """Lower-case names of users who may only read."""


@dataclass(frozen=True)
class Config:
    """A whole, valid configuration file."""

    source: Path
    server: ServerSettings
    listeners: Tuple[ListenerConfig, ...]
    shares: Tuple[ShareSettings, ...]
    quic: Optional[QuicSettings] = None


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a configuration file."""

    path: str
    problem: str

    def format(self, source: Path) -> str:
        return f"{source}: {self.path}: {self.problem}"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason."""

    def __init__(self, source: Path, problems: List[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(problem.format(source) for problem in problems))


@dataclass
class _Checker:
    """Reads typed values out of the parsed TOML, recording problems instead of stopping at the first."""

    problems: List[ConfigProblem] = field(default_factory=list)

    def add(self, path: str, problem: str) -> None:
        self.problems.append(ConfigProblem(path, problem))

    def table(self, data: Dict[str, Any], key: str, path: str, allowed: Tuple[str, ...]) -> Dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.add(path, f"must be a table ([{key}]), not {_kind(value)}")
            return {}
        self.unknown_keys(value, path, allowed)
        return value

    def unknown_keys(self, data: Dict[str, Any], path: str, allowed: Tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                self.add(f"{path}.{key}" if path else key, f"unknown key; valid keys here are {', '.join(allowed)}")

    def string(self, data: Dict[str, Any], key: str, path: str, default: Optional[str]) -> str:
        if key not in data:
            if default is None:
                self.add(f"{path}.{key}", "is required; add it as a quoted string")
                return ""
            return default
        value = data[key]
        if not isinstance(value, str):
            self.add(f"{path}.{key}", f"must be a string, not {_kind(value)}; put the value in quotes")
            return default or ""
        return value

    def boolean(self, data: Dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.add(f"{path}.{key}", f"must be true or false (without quotes), not {_kind(value)}")
            return default
        return value

    def integer(self, data: Dict[str, Any], key: str, path: str, default: Optional[int], low: int, high: int) -> int:
        if key not in data and default is None:
            self.add(f"{path}.{key}", f"is required; give an integer from {low} to {high}")
            return low
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(f"{path}.{key}", f"must be an integer from {low} to {high} (without quotes), not {_kind(value)}")
            return default if default is not None else low
        if not low <= value <= high:
            self.add(f"{path}.{key}", f"{value} is out of range; give an integer from {low} to {high}")
            return default if default is not None else low
        return value

    def number(self, data: Dict[str, Any], key: str, path: str, default: float, low: float, high: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(f"{path}.{key}", f"must be a number of seconds from {low:g} to {high:g}, not {_kind(value)}")
            return default
        if not low <= value <= high:
            self.add(f"{path}.{key}", f"{value} is out of range; give a number of seconds from {low:g} to {high:g}")
            return default
        return float(value)

    def user_names(self, data: Dict[str, Any], key: str, path: str) -> Tuple[str, ...]:
        """An array of user names as the users file spells them (compared ignoring case)."""
        value = data.get(key, [])
        if not isinstance(value, list):
            self.add(f"{path}.{key}", f'must be an array of user names (["alice", "bob"]), not {_kind(value)}')
            return ()
        names: List[str] = []
        for index, item in enumerate(value):
            where = f"{path}.{key}[{index}]"
            if not isinstance(item, str) or not item or any(char in item for char in ":\\/@"):
                self.add(where, f"must be a user name of the users file (no domain, : \\ / or @), not {_kind(item)}")
            elif item.lower() in names:
                self.add(where, f"{item!r} is listed twice; remove one")
            else:
                names.append(item.lower())
        return tuple(names)

    def array_of_tables(self, data: Dict[str, Any], key: str) -> List[Dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.add(key, f"must be an array of tables ([[{key}]]), not {_kind(value)}")
            return []
        tables = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                tables.append(item)
            else:
                self.add(f"{key}[{index}]", f"must be a table ([[{key}]]), not {_kind(item)}")
                tables.append({})
        return tables


_KIND_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}


def _kind(value: Any) -> str:
    """Describe a TOML value for an error message: its type, and the value itself when it is short."""
    name = _KIND_NAMES.get(type(value), type(value).__name__)
    return name if isinstance(value, (list, dict)) else f"{name} ({value!r})"


_SERVER_KEYS = (
    "name",
    "workgroup",
    "users_file",
    "state_dir",
    "require_signing",
    "max_connections",
    "idle_timeout",
    "max_frame_size",
    "max_open_files",
    "max_opens_per_session",
    "max_connections_per_address",
    "login_timeout",
    "frame_timeout",
    "login_failure_limit",
    "login_failure_window",
    "login_delay_max",
    "refused_log_interval",
    "max_memory",
    "max_memory_per_connection",
    "drain_timeout",
    "oplocks",
    "oplock_break_timeout",
    "durable_handles",
    "durable_handle_timeout",
    "max_kept_durable_opens",
    "workers",
)
_LISTENER_KEYS = ("transport", "address", "port")
_QUIC_KEYS = ("certificate", "private_key", "max_datagram_size")
_SHARE_KEYS = ("name", "path", "read_only", "guest_ok", "encrypt", "comment", "valid_users", "read_only_users")
_TOP_KEYS = ("server", "listeners", "quic", "shares")
# Characters Windows refuses in a share name.
_BAD_SHARE_CHARS = set('\\/[]:|<>+=;,*?"') | {chr(code) for code in range(32)}


def _read_server(checker: _Checker, data: Dict[str, Any]) -> ServerSettings:
    table = checker.table(data, "server", "server", _SERVER_KEYS)
    defaults = ServerSettings()
    name = checker.string(table, "name", "server", defaults.name)
    if not name or len(name) > 15 or any(char in _BAD_SHARE_CHARS or char == " " for char in name):
        checker.add("server.name", f"{name!r} is not a valid NetBIOS name; use 1 to 15 letters, digits or hyphens")
    users_file = checker.string(table, "users_file", "server", str(defaults.users_file))
    state_dir = checker.string(table, "state_dir", "server", str(defaults.state_dir))
    for key, value in (("users_file", users_file), ("state_dir", state_dir)):
        if value and not Path(value).is_absolute():
            checker.add(f"server.{key}", f"{value!r} is relative; give an absolute path")
    max_open_files = checker.integer(table, "max_open_files", "server", defaults.max_open_files, 16, 1_000_000)
    max_opens_per_session = checker.integer(
        table, "max_opens_per_session", "server", defaults.max_opens_per_session, 1, 1_000_000
    )
    if max_opens_per_session > max_open_files:
        checker.add(
            "server.max_opens_per_session",
            f"{max_opens_per_session} exceeds max_open_files ({max_open_files}); lower it or raise max_open_files",
        )
    max_frame_size = checker.integer(
        table, "max_frame_size", "server", defaults.max_frame_size, MIN_FRAME_SIZE, MAX_FRAME_SIZE
    )
    max_memory, per_connection = _read_memory_limits(checker, table, max_frame_size)
    return ServerSettings(
        name=name,
        max_open_files=max_open_files,
        max_opens_per_session=max_opens_per_session,
        max_memory=max_memory,
        max_memory_per_connection=per_connection,
        drain_timeout=checker.number(table, "drain_timeout", "server", defaults.drain_timeout, 1, 3600),
        oplocks=checker.boolean(table, "oplocks", "server", defaults.oplocks),
        oplock_break_timeout=checker.number(
            table, "oplock_break_timeout", "server", defaults.oplock_break_timeout, 1, 3600
        ),
        durable_handles=checker.boolean(table, "durable_handles", "server", defaults.durable_handles),
        durable_handle_timeout=checker.number(
            table, "durable_handle_timeout", "server", defaults.durable_handle_timeout, 1, 3600
        ),
        max_kept_durable_opens=checker.integer(
            table, "max_kept_durable_opens", "server", defaults.max_kept_durable_opens, 0, 1_000_000
        ),
        workgroup=checker.string(table, "workgroup", "server", defaults.workgroup),
        users_file=Path(users_file),
        state_dir=Path(state_dir),
        require_signing=checker.boolean(table, "require_signing", "server", defaults.require_signing),
        max_connections=checker.integer(table, "max_connections", "server", defaults.max_connections, 1, 1_000_000),
        idle_timeout=checker.number(table, "idle_timeout", "server", defaults.idle_timeout, 1, 7 * 24 * 3600),
        max_frame_size=max_frame_size,
        workers=_read_workers(checker, table, defaults.workers),
        **_read_admission(checker, table, defaults),
    )


MAX_WORKERS = 64


def _read_workers(checker: _Checker, table: Dict[str, Any], default: int) -> int:
    """``workers``: a count, or "auto" for one per CPU."""
    if table.get("workers") == "auto":
        return max(1, min(os.cpu_count() or 1, MAX_WORKERS))
    if isinstance(table.get("workers"), str):
        checker.add("server.workers", f'{table["workers"]!r} is not a count; give 1 to {MAX_WORKERS} or "auto"')
        return default
    return checker.integer(table, "workers", "server", default, 1, MAX_WORKERS)


def _read_admission(checker: _Checker, table: Dict[str, Any], defaults: ServerSettings) -> Dict[str, Any]:
    """The settings that keep one client address from taking the server from the others."""
    values: Dict[str, Any] = {
        "max_connections_per_address": checker.integer(
            table, "max_connections_per_address", "server", defaults.max_connections_per_address, 0, 1_000_000
        ),
        "login_failure_limit": checker.integer(
            table, "login_failure_limit", "server", defaults.login_failure_limit, 0, 10_000
        ),
    }
    for key, low, high in (
        ("login_timeout", 1, 3600),
        ("frame_timeout", 1, 3600),
        ("login_failure_window", 1, 86400),
        ("login_delay_max", 1, 3600),
        ("refused_log_interval", 0, 86400),
    ):
        values[key] = checker.number(table, key, "server", getattr(defaults, key), low, high)
    return values


def _read_memory_limits(checker: _Checker, table: Dict[str, Any], max_frame_size: int) -> Tuple[int, int]:
    """``max_memory`` and ``max_memory_per_connection``: a connection must fit two frames' answers (one being
    sent while the next is read, or large READs stall), and the server at least one connection."""
    defaults = ServerSettings()
    max_memory = checker.integer(table, "max_memory", "server", defaults.max_memory, 16 * MIB, 1 << 40)
    per_connection = checker.integer(
        table, "max_memory_per_connection", "server", defaults.max_memory_per_connection, 1 * MIB, 1 << 40
    )
    if per_connection < 2 * max_frame_size:
        checker.add(
            "server.max_memory_per_connection",
            f"{per_connection} is below twice max_frame_size ({2 * max_frame_size}): large READs would stall; "
            "raise it or lower max_frame_size",
        )
    if per_connection > max_memory:
        checker.add(
            "server.max_memory_per_connection",
            f"{per_connection} exceeds max_memory ({max_memory}); lower it or raise max_memory",
        )
    return max_memory, per_connection


def _read_listeners(checker: _Checker, data: Dict[str, Any]) -> List[ListenerConfig]:
    listeners: List[ListenerConfig] = []
    first_seen: Dict[ListenerKey, int] = {}
    for index, table in enumerate(checker.array_of_tables(data, "listeners")):
        path = f"listeners[{index}]"
        checker.unknown_keys(table, path, _LISTENER_KEYS)
        transport = checker.string(table, "transport", path, "tcp")
        if transport not in TRANSPORTS:
            checker.add(f"{path}.transport", f"{transport!r} is not a transport; use one of {', '.join(TRANSPORTS)}")
        address = checker.string(table, "address", path, None)
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            if address:
                checker.add(
                    f"{path}.address",
                    f"{address!r} is not an IP address; use an address such as 0.0.0.0, :: or 127.0.0.1",
                )
        port = checker.integer(table, "port", path, None, 1, 65535)
        if port == NETBIOS_SESSION_PORT and transport == "tcp":
            checker.add(
                f"{path}.port",
                "139 is the NetBIOS session service port and pysmbd speaks only Direct TCP; choose another port",
            )
        listener = ListenerConfig(transport, address, port)
        if listener.key in first_seen:
            checker.add(
                path, f"{listener.describe()} is already defined by listeners[{first_seen[listener.key]}]; remove one"
            )
            continue
        first_seen[listener.key] = index
        listeners.append(listener)
    _check_wildcard_overlap(checker, listeners, first_seen)
    return listeners


def _check_wildcard_overlap(
    checker: _Checker, listeners: List[ListenerConfig], index_of: Dict[ListenerKey, int]
) -> None:
    """0.0.0.0:N and 127.0.0.1:N cannot both be bound (same for :: and an IPv6 address)."""
    for listener in listeners:
        try:
            family = ipaddress.ip_address(listener.address).version
        except ValueError:
            continue  # already reported
        wildcard = "0.0.0.0" if family == 4 else "::"
        wildcard_key = (listener.transport, wildcard, listener.port)
        if listener.address != wildcard and wildcard_key in index_of:
            checker.add(
                f"listeners[{index_of[listener.key]}]",
                f"{listener.describe()} overlaps listeners[{index_of[wildcard_key]}] ({wildcard} port "
                f"{listener.port} already covers every address); remove one of them",
            )


def _read_quic(checker: _Checker, data: Dict[str, Any], listeners: List[ListenerConfig]) -> Optional[QuicSettings]:
    needed = any(listener.transport == "quic" for listener in listeners)
    if "quic" not in data:
        if needed:
            checker.add("quic", "a quic listener needs a [quic] table with certificate and private_key")
        return None
    table = checker.table(data, "quic", "quic", _QUIC_KEYS)
    certificate = checker.string(table, "certificate", "quic", None)
    private_key = checker.string(table, "private_key", "quic", None)
    datagram = checker.integer(table, "max_datagram_size", "quic", 1200, 1200, 65527)
    return QuicSettings(Path(certificate), Path(private_key), datagram)


def _read_shares(checker: _Checker, data: Dict[str, Any]) -> List[ShareSettings]:
    shares: List[ShareSettings] = []
    seen: Dict[str, int] = {}
    for index, table in enumerate(checker.array_of_tables(data, "shares")):
        path = f"shares[{index}]"
        checker.unknown_keys(table, path, _SHARE_KEYS)
        name = checker.string(table, "name", path, None)
        if name:
            if len(name) > 80 or any(char in _BAD_SHARE_CHARS for char in name):
                checker.add(
                    f"{path}.name",
                    f'{name!r} is not a valid share name; use at most 80 characters without \\/[]:|<>+=;,*?"',
                )
            elif name.lower() == "ipc$":
                checker.add(f"{path}.name", "IPC$ is built in; choose another name")
            elif name.lower() in seen:
                checker.add(
                    f"{path}.name",
                    f"share {name!r} is already defined by shares[{seen[name.lower()]}] (case is ignored); rename one",
                )
            else:
                seen[name.lower()] = index
        share_path = checker.string(table, "path", path, None)
        if share_path and not Path(share_path).is_absolute():
            checker.add(f"{path}.path", f"{share_path!r} is relative; give an absolute directory path")
        shares.append(
            ShareSettings(
                name=name,
                path=Path(share_path),
                read_only=checker.boolean(table, "read_only", path, False),
                guest_ok=checker.boolean(table, "guest_ok", path, False),
                encrypt=checker.boolean(table, "encrypt", path, False),
                comment=checker.string(table, "comment", path, ""),
                valid_users=checker.user_names(table, "valid_users", path),
                read_only_users=checker.user_names(table, "read_only_users", path),
            )
        )
        share = shares[-1]
        for name in share.read_only_users:
            if share.valid_users and name not in share.valid_users:
                checker.add(
                    f"{path}.read_only_users",
                    f"{name!r} is not in valid_users, so it cannot connect at all; add it to valid_users or remove it",
                )
    return shares


def _check_filesystem(checker: _Checker, config: Config) -> None:
    """What only the host can tell: do the files and directories named exist."""
    for index, share in enumerate(config.shares):
        if share.path.is_absolute() and not share.path.is_dir():
            what = "is not a directory" if share.path.exists() else "does not exist"
            checker.add(f"shares[{index}].path", f"{share.path} {what}; create the directory or fix the path")
    users_file = config.server.users_file
    if users_file.is_absolute() and not users_file.is_file():
        checker.add("server.users_file", f"{users_file} does not exist; create it (see pysmbd hash-password)")
    elif users_file.is_absolute():
        _check_share_users(checker, config, users_file)
    if config.quic is not None:
        for key in ("certificate", "private_key"):
            value: Path = getattr(config.quic, key)
            if value.is_absolute() and not value.is_file():
                checker.add(f"quic.{key}", f"{value} does not exist; give the path of a PEM file")
            elif not value.is_absolute():
                checker.add(f"quic.{key}", f"{str(value)!r} is relative; give an absolute path")


def _check_share_users(checker: _Checker, config: Config, users_file: Path) -> None:
    """Every user a share names must be in the users file: a typo would lock the real user out."""
    try:
        known = user_names(users_file.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        checker.add("server.users_file", f"{users_file} cannot be read: {exc.strerror}; check its owner and mode")
        return
    for index, share in enumerate(config.shares):
        for key in ("valid_users", "read_only_users"):
            for name in getattr(share, key):
                if name not in known:
                    checker.add(
                        f"shares[{index}].{key}",
                        f"{name!r} is not in the users file {users_file}; add the user or fix the name",
                    )


def parse_config(text: str, source: Path, *, check_filesystem: bool = True) -> Config:
    """Parse and validate configuration text; raise ConfigError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [ConfigProblem("(syntax)", f"{exc}; fix the TOML syntax")]) from None
    checker = _Checker()
    checker.unknown_keys(data, "", _TOP_KEYS)
    server = _read_server(checker, data)
    listeners = _read_listeners(checker, data)
    config = Config(
        source=source,
        server=server,
        listeners=tuple(listeners),
        shares=tuple(_read_shares(checker, data)),
        quic=_read_quic(checker, data, listeners),
    )
    if check_filesystem and not checker.problems:
        _check_filesystem(checker, config)
    if checker.problems:
        raise ConfigError(source, checker.problems)
    return config


def load_config(path: Path, *, check_filesystem: bool = True) -> Config:
    """Read a configuration file; raise ConfigError (which names the file) when it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [ConfigProblem("(file)", f"cannot be read: {exc.strerror}; check the path")]) from None
    except UnicodeDecodeError:
        raise ConfigError(path, [ConfigProblem("(file)", "is not UTF-8 text; save it as UTF-8")]) from None
    return parse_config(text, path, check_filesystem=check_filesystem)
