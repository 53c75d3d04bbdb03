"""The emulated host's configuration: what the modelled cmdlets read and change.

Objects are kept as dicts with Microsoft's property names, so a cmdlet's output is the stored object
and the JSON state file shows exactly what ``Get-*`` would. The registry is the one tree the collection
touches (``HKLM:\\Software\\Policies\\...``), keyed case-insensitively as Windows does.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Keys that exist on a fresh Windows Server 2025; the LanmanWorkstation policy key does not.
DEFAULT_REGISTRY_KEYS = (
    "HKEY_LOCAL_MACHINE\\SOFTWARE",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows",
)


def default_client_configuration() -> dict[str, Any]:
    """The SMB client settings the collection reads, at their Windows Server 2025 defaults."""
    return {
        "EnableSMBQUIC": True,
        "ForceSMBEncryptionOverQuic": False,
        "RequireSecuritySignature": True,
        "EnableInsecureGuestLogons": False,
    }


#: The key Windows keeps its version in, with a Windows Server 2025 Datacenter's values (build 26100).
VERSION_KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
SERVER_2025 = {
    "CurrentBuildNumber": "26100",
    "ProductName": "Windows Server 2025 Datacenter",
    "InstallationType": "Server",
}
SERVER_2022 = {
    "CurrentBuildNumber": "20348",
    "ProductName": "Windows Server 2022 Datacenter",
    "InstallationType": "Server",
}
#: The first build with SMB server alternative ports: Windows Server 2025.
ALTERNATIVE_PORTS_MIN_BUILD = 26100


def set_windows_version(state: WindowsState, values: dict[str, str]) -> WindowsState:
    """Make the host report another Windows (``SERVER_2022`` ...); returns the state."""
    key = state.ensure_key(VERSION_KEY)
    for name, data in values.items():
        key.values[name.lower()] = {"name": name, "type": "String", "data": data}
    return state


def windows_build(state: WindowsState) -> int:
    key = state.find_key(VERSION_KEY)
    value = key.values.get("currentbuildnumber") if key else None
    return int(value["data"]) if value and str(value["data"]).isdigit() else 0


def quic_ready(state: WindowsState, name: str = "fs1.contoso.com") -> WindowsState:
    """Give the host what SMB over QUIC needs to serve (EnableSMBQUIC is on by default): a certificate mapping."""
    state.certificate_mappings.append(
        {
            "Name": name,
            "Subject": f"CN={name}",
            "Thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567",
            "DisplayName": "",
            "StoreName": "My",
            "Type": "QUIC",
            "Flags": "None",
            "RequireClientAuthentication": False,
            "SkipClientCertificateAccessCheck": False,
        }
    )
    return state


def default_server_configuration() -> dict[str, Any]:
    """The SMB server settings the collection reads, at their Windows Server 2025 defaults."""
    return {"EnableSMBQUIC": True}


#: Where UAC remote restrictions are switched off for local administrators (value LocalAccountTokenFilterPolicy).
TOKEN_FILTER_KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"


def allow_local_admins(state: WindowsState) -> WindowsState:
    """Set LocalAccountTokenFilterPolicy=1, as a Vagrant box or a lab host does; returns the state."""
    key = state.ensure_key(TOKEN_FILTER_KEY)
    key.values["localaccounttokenfilterpolicy"] = {"name": "LocalAccountTokenFilterPolicy", "type": "DWord", "data": 1}
    return state


def default_network() -> dict[str, Any]:
    """Sockets, processes and excluded port ranges besides the SMB server's own (``network_cmdlets.py`` reads
    them; its ``plant_*`` helpers add to them): a fresh host has the Idle and System processes and nothing else."""
    return {
        "udp_endpoints": [],
        "tcp_listeners": [],
        "processes": [{"Id": 0, "ProcessName": "Idle"}, {"Id": 4, "ProcessName": "System"}],
        "excluded_port_ranges": [],
    }


#: How the host itself is set up, as opposed to its SMB configuration.
ENUM_FORMS = ("names", "numbers")
LANGUAGE_MODES = ("FullLanguage", "ConstrainedLanguage", "RestrictedLanguage", "NoLanguage")


def default_host_settings() -> dict[str, Any]:
    """``enum_form``: whether enum properties reach the executor as names (type data applied) or as the CIM
    class's numbers; ``language_mode``: PowerShell's language mode for the connecting user."""
    return {"enum_form": "names", "language_mode": "FullLanguage"}


@dataclass
class RegistryKey:
    """One registry key: its path as created (``HKEY_LOCAL_MACHINE\\...``) and its values by name."""

    path: str
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower name -> {name, type, data}


@dataclass
class WindowsState:
    """Everything the cmdlet model knows about the host."""

    alternative_ports: list[dict[str, Any]] = field(default_factory=list)
    smb_mappings: list[dict[str, Any]] = field(default_factory=list)
    global_mappings: list[dict[str, Any]] = field(default_factory=list)
    certificate_mappings: list[dict[str, Any]] = field(default_factory=list)
    client_access: list[dict[str, Any]] = field(default_factory=list)
    client_configuration: dict[str, Any] = field(default_factory=default_client_configuration)
    server_configuration: dict[str, Any] = field(default_factory=default_server_configuration)
    firewall_rules: list[dict[str, Any]] = field(default_factory=list)
    registry: dict[str, RegistryKey] = field(default_factory=dict)  # lower path -> key
    host: dict[str, Any] = field(default_factory=default_host_settings)
    network: dict[str, Any] = field(default_factory=default_network)

    def __post_init__(self) -> None:
        if self.host.get("enum_form", "names") not in ENUM_FORMS:
            raise ValueError(f"host.enum_form must be one of {ENUM_FORMS}, not {self.host.get('enum_form')!r}")
        if self.host.get("language_mode", "FullLanguage") not in LANGUAGE_MODES:
            raise ValueError(f"host.language_mode must be one of {LANGUAGE_MODES}")
        for path in DEFAULT_REGISTRY_KEYS:
            self.registry.setdefault(path.lower(), RegistryKey(path))
        if self.find_key(VERSION_KEY) is None:
            set_windows_version(self, SERVER_2025)

    # -- JSON round trip -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A plain-JSON snapshot (for the state file and for tests)."""
        return {
            "alternative_ports": copy.deepcopy(self.alternative_ports),
            "smb_mappings": copy.deepcopy(self.smb_mappings),
            "global_mappings": copy.deepcopy(self.global_mappings),
            "certificate_mappings": copy.deepcopy(self.certificate_mappings),
            "client_access": copy.deepcopy(self.client_access),
            "client_configuration": copy.deepcopy(self.client_configuration),
            "server_configuration": copy.deepcopy(self.server_configuration),
            "firewall_rules": copy.deepcopy(self.firewall_rules),
            "host": copy.deepcopy(self.host),
            "network": copy.deepcopy(self.network),
            "registry": {
                key.path: {
                    value["name"]: {"type": value["type"], "data": value["data"]} for value in key.values.values()
                }
                for key in self.registry.values()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WindowsState:
        """Build a state from :meth:`to_json`'s shape; missing sections keep their defaults."""
        known = {
            "alternative_ports",
            "smb_mappings",
            "global_mappings",
            "certificate_mappings",
            "client_access",
            "client_configuration",
            "server_configuration",
            "firewall_rules",
            "registry",
            "host",
            "network",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"initial state: unknown section(s) {unknown}; known sections are {sorted(known)}")
        state = cls(
            alternative_ports=copy.deepcopy(data.get("alternative_ports", [])),
            smb_mappings=copy.deepcopy(data.get("smb_mappings", [])),
            global_mappings=copy.deepcopy(data.get("global_mappings", [])),
            host={**default_host_settings(), **copy.deepcopy(data.get("host", {}))},
            certificate_mappings=copy.deepcopy(data.get("certificate_mappings", [])),
            client_access=copy.deepcopy(data.get("client_access", [])),
            firewall_rules=copy.deepcopy(data.get("firewall_rules", [])),
            network={**default_network(), **copy.deepcopy(data.get("network", {}))},
        )
        state.client_configuration.update(copy.deepcopy(data.get("client_configuration", {})))
        state.server_configuration.update(copy.deepcopy(data.get("server_configuration", {})))
        for path, values in data.get("registry", {}).items():
            key = state.ensure_key(path)
            for name, value in values.items():
                key.values[name.lower()] = {"name": name, "type": value["type"], "data": copy.deepcopy(value["data"])}
        return state

    @classmethod
    def from_file(cls, path: str | Path) -> WindowsState:
        """Load an initial state JSON file (see the README for its shape)."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(json.load(handle))

    # -- registry helpers ------------------------------------------------------------------------
    def find_key(self, path: str) -> RegistryKey | None:
        """The key at a canonical path (``HKEY_LOCAL_MACHINE\\...``), or None."""
        return self.registry.get(path.lower())

    def ensure_key(self, path: str) -> RegistryKey:
        """Create a key and its missing parents; return it."""
        parts = path.split("\\")
        key = None
        for depth in range(1, len(parts) + 1):
            sub = "\\".join(parts[:depth])
            key = self.registry.setdefault(sub.lower(), RegistryKey(sub))
        assert key is not None
        return key
