# Copyright: contributors to smb.alternative_ports
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Samba backend of server_ports and server_ports_info: Samba's smbd.

Private to smb.alternative_ports: no compatibility promise.

Samba before 4.23 lists its TCP ports in ``smb ports = 445 139``; 4.23 and later use
``server smb transports = tcp:4445, quic:8443`` (a bare ``tcp`` means 445, ``nbt`` 139, ``quic`` 443). We edit
that one line of ``[global]`` and nothing else, check a temporary copy with ``testparm`` (it must load and read
the value back as written), and only then rename it over smb.conf, so smb.conf is never left in a state testparm
rejects. smbd opens its listening sockets only at start-up (``reload-config`` does not rebind them: checked on
4.17), so a running smbd is restarted; if the new ports do not come up, the old smb.conf goes back.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import time
from typing import Callable, List, Optional, Tuple

from ansible_collections.smb.alternative_ports.plugins.module_utils._files import write_atomically
from ansible_collections.smb.alternative_ports.plugins.module_utils._plan import planned_table
from ansible_collections.smb.alternative_ports.plugins.module_utils._ports_in_use import (
    children_of,
    port_holders,
    process_alive,
    read_pidfile,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._samba_interfaces import (
    read_interfaces,
    smbd_bind_addresses,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import (
    BackendError,
    PortRequest,
    PortState,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._local import LocalBackend

RunCommand = Callable[[List[str]], Tuple[int, str, str]]

TRANSPORTS_PARAMETER_SINCE = (4, 23)
NAMED_TRANSPORT_PORTS = {"tcp": 445, "nbt": 139, "quic": 443}
DEFAULT_SMB_PORTS = "445 139"
DEFAULT_TRANSPORTS = "tcp, nbt"

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_PARAMETER = re.compile(r"^\s*([^=;#][^=]*?)\s*=\s*(.*?)\s*$")


class SambaError(BackendError):
    """A problem with smb.conf or smbd; the message says what to do."""


def parse_version(text: str) -> Tuple[int, int]:
    """``Version 4.17.12-Debian`` -> (4, 17)."""
    match = re.search(r"(\d+)\.(\d+)", text)
    if not match:
        raise SambaError(f"cannot read the Samba version from {text!r} (is smbd installed? apt-get install samba)")
    return int(match.group(1)), int(match.group(2))


def parameter_for(version: Tuple[int, int]) -> str:
    return "server smb transports" if version >= TRANSPORTS_PARAMETER_SINCE else "smb ports"


def _canonical(name: str) -> str:
    """smb.conf parameter names ignore case, spaces and underscores."""
    return re.sub(r"[\s_]", "", name).lower()


def _logical_lines(text: str) -> List[Tuple[int, int, str]]:
    """(first physical line, last physical line, joined text) for each line, following ``\\`` continuations."""
    physical = text.splitlines()
    result = []
    index = 0
    while index < len(physical):
        start = index
        joined = physical[index]
        while joined.endswith("\\") and index + 1 < len(physical):
            index += 1
            joined = joined[:-1] + " " + physical[index].lstrip()
        result.append((start, index, joined))
        index += 1
    return result


def find_global_parameter(text: str, name: str) -> Optional[Tuple[int, int, str]]:
    """Where ``name`` is set in [global] (last setting wins, as in Samba): (first line, last line, value)."""
    section = "global"  # parameters before any section header are global
    found = None
    for start, end, line in _logical_lines(text):
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip().lower()
            continue
        if section != "global":
            continue
        match = _PARAMETER.match(line)
        if match and _canonical(match.group(1)) == _canonical(name):
            found = (start, end, match.group(2))
    return found


def set_global_parameter(text: str, name: str, value: str) -> str:
    """Return ``text`` with ``name = value`` in [global]: that line replaced, or added after ``[global]``."""
    lines = text.splitlines()
    new_line = f"\t{name} = {value}"
    found = find_global_parameter(text, name)
    if found is not None:
        start, end, _old = found
        indent = re.match(r"^\s*", lines[start]).group(0)  # type: ignore[union-attr]
        lines[start : end + 1] = [indent + new_line.lstrip()]
    else:
        for index, line in enumerate(lines):
            header = _SECTION.match(line)
            if header and header.group(1).strip().lower() == "global":
                lines.insert(index + 1, new_line)
                break
        else:
            lines[0:0] = ["[global]", new_line, ""]
    return "\n".join(lines) + "\n"


def parse_smb_ports(value: str) -> List[dict]:
    ports = []
    for token in re.split(r"[\s,]+", value.strip()):
        if not token:
            continue
        if not token.isdigit():
            raise SambaError(f"smb ports: {token!r} is not a port number")
        ports.append({"transport": "tcp", "port": int(token), "instances": "default"})
    return _unique(ports)


def parse_transports(value: str) -> List[dict]:
    """``tcp:4445, quic:8443, nbt`` -> table entries; nbt is NetBIOS session service over TCP."""
    entries = []
    for token in re.split(r"[\s,]+", value.strip()):
        if not token:
            continue
        kind, _sep, port = token.lower().partition(":")
        if kind not in NAMED_TRANSPORT_PORTS:
            raise SambaError(f"server smb transports: unknown transport {token!r} (tcp, nbt or quic)")
        number = int(port) if port.isdigit() else NAMED_TRANSPORT_PORTS[kind]
        entries.append({"transport": "quic" if kind == "quic" else "tcp", "port": number, "instances": "default"})
    return _unique(entries)


def format_smb_ports(table: List[dict]) -> str:
    return " ".join(str(entry["port"]) for entry in table)


def format_transports(table: List[dict]) -> str:
    tokens = []
    for entry in table:
        kind = entry["transport"]
        if kind == "tcp" and entry["port"] == NAMED_TRANSPORT_PORTS["nbt"]:
            kind = "nbt"  # 139 is NetBIOS session service, never plain Direct TCP
        tokens.append(f"{kind}:{entry['port']}")
    return ", ".join(tokens)


def _unique(entries: List[dict]) -> List[dict]:
    seen = {}
    for entry in entries:
        seen[(entry["transport"], entry["port"])] = entry
    return [seen[key] for key in sorted(seen)]


class SambaBackend(LocalBackend):
    """Reads and changes the port table of one smb.conf and the smbd that runs from it."""

    name = "samba"
    selinux_label_required = True  # smbd_t may bind only smbd_port_t ports (refpolicy's and RHEL's samba.te)

    def __init__(
        self,
        smb_conf: str,
        run_command: RunCommand,
        smbd: str = "smbd",
        testparm: str = "testparm",
        restart_command: Optional[str] = None,
        start_timeout: float = 15.0,
    ) -> None:
        self.smb_conf = smb_conf
        self.run_command = run_command
        self.smbd = smbd
        self.testparm = testparm
        self.restart_command = restart_command
        self.start_timeout = start_timeout
        self._version = None  # type: Optional[Tuple[int, int]]
        self._bind_addresses = None  # type: Optional[Tuple[Optional[List[str]]]]

    # --- reading -------------------------------------------------------------------------------------------
    @property
    def version(self) -> Tuple[int, int]:
        if self._version is None:
            rc, out, err = self._run([self.smbd, "--version"])
            if rc != 0:
                raise SambaError(f"{self.smbd} --version failed: {(err or out).strip()} (apt-get install samba)")
            self._version = parse_version(out)
        return self._version

    @property
    def parameter(self) -> str:
        return parameter_for(self.version)

    def text(self) -> str:
        try:
            with open(self.smb_conf) as handle:
                return handle.read()
        except OSError as exc:
            raise SambaError(f"cannot read {self.smb_conf}: {exc.strerror} (set smb_conf)") from exc

    def read(self) -> PortState:
        found = find_global_parameter(self.text(), self.parameter)
        if self.parameter == "smb ports":
            return PortState(parse_smb_ports(found[2] if found else DEFAULT_SMB_PORTS))
        return PortState(parse_transports(found[2] if found else DEFAULT_TRANSPORTS))

    def check_entries(self, entries: List[dict]) -> List[str]:
        problems = []
        for entry in entries:
            where = f"{entry['transport']}/{entry['port']}"
            if entry["transport"] == "rdma":
                problems.append(f"{where}: Samba has no SMB Direct (RDMA) listener; use tcp")
            if entry["transport"] == "quic" and self.parameter == "smb ports":
                problems.append(
                    f"{where}: Samba {self.version[0]}.{self.version[1]} has no SMB over QUIC (it needs Samba 4.23 "
                    "or later); use tcp, or pysmbd"
                )
            if entry.get("instances", "default") != "default":
                problems.append(
                    f"{where}: instances={entry['instances']} is a Windows setting (EnableInstances); "
                    "Samba takes only 'default'"
                )
        return problems

    def bind_addresses(self, step: dict, request: PortRequest) -> Optional[List[str]]:
        """smbd binds every address unless ``bind interfaces only`` with ``interfaces`` (see _samba_interfaces.py):
        then a port another process holds on some other address is no conflict."""
        if self._bind_addresses is None:
            bind_only = (self._testparm_value(self.smb_conf, "bind interfaces only") or "").lower() in ("yes", "true")
            interfaces = self._testparm_value(self.smb_conf, "interfaces") or ""
            host = None
            if bind_only and interfaces.strip():
                ip = shutil.which("ip", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
                host = read_interfaces(self.run_command, ip) if ip else None
            self._bind_addresses = (smbd_bind_addresses(interfaces, bind_only, host),)
        return self._bind_addresses[0]

    def pid_directory(self) -> str:
        return self._testparm_value(self.smb_conf, "pid directory") or "/run/samba"

    def server_pids(self) -> List[int]:
        """The main smbd of this smb.conf (from its pid directory) and its children."""
        main = read_pidfile(os.path.join(self.pid_directory(), "smbd.pid"))
        if main is None:
            return []
        return [main, *children_of(main)]

    # --- changing ------------------------------------------------------------------------------------------
    def render(self, table: List[dict]) -> str:
        value = format_smb_ports(table) if self.parameter == "smb ports" else format_transports(table)
        return set_global_parameter(self.text(), self.parameter, value)

    def apply_ports(self, state: PortState, steps: List[dict], request: PortRequest) -> PortState:
        self.write_and_restart(planned_table(state.table, steps))
        return self.read()

    def info(self, state: PortState) -> dict:
        return {"running": bool(self.server_pids()), "samba_version": list(self.version), "parameter": self.parameter}

    def write_and_restart(self, table: List[dict]) -> None:
        """Write ``table`` into smb.conf (checked by testparm first) and restart a running smbd on it."""
        old_text = self.text()
        rc, out, err = self._run([self.testparm, "-s", "--suppress-prompt", self.smb_conf])
        if rc != 0:
            raise SambaError(
                f"testparm rejects {self.smb_conf} as it is now, before any change: {_testparm_problem(out + err)}; "
                "smbd was not restarted and nothing was changed (fix that file first, then run again)"
            )
        new_text = self.render(table)
        write_atomically(self.smb_conf, new_text, validate=lambda path: self._validate(path, table))
        main = self.server_pids()[:1]
        if not main:
            return
        try:
            self._restart(main[0])
            self._wait_listening(table)
        except SambaError as exc:
            write_atomically(self.smb_conf, old_text)
            restored = self.server_pids()[:1]
            try:
                self._restart(restored[0] if restored else None)
            except SambaError as again:
                raise SambaError(f"{exc}; restoring the old smb.conf also failed to start smbd: {again}") from exc
            raise SambaError(f"{exc}; {self.smb_conf} was restored and smbd restarted with the old ports") from exc

    def _validate(self, path: str, table: List[dict]) -> None:
        rc, out, err = self._run([self.testparm, "-s", "--suppress-prompt", path])
        if rc != 0:
            raise SambaError(
                f"testparm rejects the new smb.conf, so {self.smb_conf} was not changed: {_testparm_problem(out + err)}"
            )
        got = self._testparm_value(path, self.parameter)
        expected = self.render(table)
        want = find_global_parameter(expected, self.parameter)
        if want is not None and got is not None and _canonical_value(got) != _canonical_value(want[2]):
            raise SambaError(
                f"testparm reads {self.parameter} as {got!r} instead of {want[2]!r} (an include or a later line "
                f"overrides it?), so {self.smb_conf} was not changed"
            )

    def _testparm_value(self, path: str, name: str) -> Optional[str]:
        rc, out, _err = self._run([self.testparm, "-s", "--suppress-prompt", "--parameter-name", name, path])
        return out.strip() if rc == 0 else None

    def _restart(self, pid: Optional[int]) -> None:
        if self.restart_command:
            rc, out, err = self._run(shlex.split(self.restart_command))
            if rc != 0:
                raise SambaError(f"{self.restart_command} failed: {(err or out).strip()}")
            return
        unit = _systemd_unit_of(pid) if pid is not None else None
        if unit:  # smbd runs under systemd: let systemd restart it, so it stays supervised
            rc, out, err = self._run(["systemctl", "restart", unit])
            if rc != 0:
                raise SambaError(f"systemctl restart {unit} failed: {(err or out).strip()}")
            return
        # A standalone smbd started from this smb.conf: stop it, start it again with the same file.
        if pid is not None:
            _stop(pid, self.start_timeout)
        rc, out, err = self._run([self.smbd, "-D", "-s", self.smb_conf])
        if rc != 0:
            raise SambaError(f"smbd -D -s {self.smb_conf} failed to start: {(err or out).strip()}")

    def _wait_listening(self, table: List[dict]) -> None:
        deadline = time.monotonic() + self.start_timeout
        missing = table
        while time.monotonic() < deadline:
            pids = set(self.server_pids())
            missing = [
                entry
                for entry in table
                if not any(h.pid in pids for h in port_holders(entry["transport"], entry["port"]))
            ]
            if pids and not missing:
                return
            time.sleep(0.2)
        raise SambaError(
            f"smbd did not start listening on {_names(missing) or 'its ports'} within {self.start_timeout:.0f} s "
            "(see smbd's log)"
        )

    def _run(self, args: List[str]) -> Tuple[int, str, str]:
        return self.run_command(args)


def _systemd_unit_of(pid: int) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/cgroup") as handle:
            return systemd_unit_from_cgroup(handle.read())
    except OSError:
        return None


def systemd_unit_from_cgroup(text: str) -> Optional[str]:
    """The systemd service of a /proc/<pid>/cgroup text (``smbd.service``); None outside a system service."""
    match = re.search(r"/system\.slice/(?:[^/\n]+\.slice/)*([^/\n]+\.service)", text)
    return match.group(1) if match else None


def _names(entries: List[dict]) -> str:
    return ", ".join(f"{e['transport']}/{e['port']}" for e in entries)


def _canonical_value(value: str) -> str:
    return " ".join(re.split(r"[\s,]+", value.strip().lower()))


def _testparm_problem(output: str) -> str:
    lines = [
        line.strip()
        for line in output.splitlines()
        if line.strip() and not line.startswith(("Load smb config", "Weak crypto", "Server role", "#"))
    ]
    return "; ".join(lines[:4]) or "testparm failed without a message"


def _stop(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return
        time.sleep(0.1)
    raise SambaError(f"smbd (pid {pid}) did not stop within {timeout:.0f} s after SIGTERM")
