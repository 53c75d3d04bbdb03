# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration model ``smb_alternative_ports``: schema errors, the rules a schema cannot say, defaults.

This is a private module_utils file: its API may change without notice.

``validate_model`` reports every problem at once. Each problem names its JSON path, what is wrong and how
to fix it, because the person reading it has two hundred hosts and one change window. The schema half
needs ``jsonschema`` and the schema document (both are on the controller); the rules half is plain
Python, so modules on targets can reuse it.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
from dataclasses import dataclass, field

from ansible_collections.smb.alternative_ports.plugins.module_utils._ports import (
    NETBIOS_SESSION_PORT,
    WINDOWS_SERVER_PORT_REASON,
    is_port,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._ports import (
    STANDARD_PORT_BY_TRANSPORT as STANDARD_PORTS,
)

_PORT_SPACE = {"tcp": "tcp", "rdma": "tcp", "quic": "udp"}
_MAPPING_PORT_KEYS = ("tcp_port", "quic_port", "rdma_port")


@dataclass(frozen=True)
class ModelIssue:
    """One problem (or warning) found in a model."""

    path: str
    """Where it is, as ``server.ports[2].port``; ``(model)`` for the whole model."""
    message: str
    """What is wrong."""
    fix: str = ""
    """What to do about it."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" + (f" ({self.fix})" if self.fix else "")

    def as_dict(self) -> dict:
        return {"path": self.path, "message": self.message, "fix": self.fix, "text": str(self)}


@dataclass
class ValidationResult:
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    normalized: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def json_path(parts) -> str:
    """``['server', 'ports', 2, 'port']`` -> ``server.ports[2].port``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(model)"


def _show(value) -> str:
    """A value as the user wrote it in YAML/JSON (null, true, "445"), not as Python prints it."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
}


def _type_of(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def schema_issue(error) -> ModelIssue:
    """Turn one ``jsonschema.ValidationError`` into a ModelIssue with a path, a plain message and a fix."""
    path = list(error.absolute_path)
    value = error.instance
    kind = error.validator
    expected = error.validator_value
    if kind == "type":
        wanted = _TYPE_WORDS.get(expected, str(expected))
        fix = "write a port number from 1 to 65535" if path and str(path[-1]).endswith("port") else f"write {wanted}"
        if expected == "integer" and isinstance(value, str) and value.strip().isdigit():
            fix = f"write {value.strip()} without quotes"
        if value is None:
            return ModelIssue(json_path(path), f"is null, not {wanted}", fix)
        return ModelIssue(json_path(path), f"{_show(value)} is {_type_of(value)}, not {wanted}", fix)
    if kind == "minimum":
        return ModelIssue(json_path(path), f"{_show(value)} is less than the minimum of {expected}", _range_fix(path))
    if kind == "maximum":
        return ModelIssue(
            json_path(path), f"{_show(value)} is greater than the maximum of {expected}", _range_fix(path)
        )
    if kind == "exclusiveMinimum":
        return ModelIssue(json_path(path), f"{_show(value)} must be greater than {expected}", "give a positive number")
    if kind == "enum":
        choices = ", ".join(str(c) for c in expected)
        return ModelIssue(json_path(path), f"{_show(value)} is not one of {choices}", f"use one of {choices}")
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return ModelIssue(json_path([*path, missing]), "is required but missing", _required_fix(missing))
    if kind == "additionalProperties":
        return _unknown_key_issues(error, path)[0]
    if kind == "pattern":
        return ModelIssue(json_path(path), f"{_show(value)} is not well formed", _pattern_fix(path))
    if kind == "minLength":
        return ModelIssue(json_path(path), "is empty", "give a value or remove the key")
    return ModelIssue(json_path(path), error.message, "")


def _unknown_key_issues(error, path) -> list:
    allowed = sorted(error.schema.get("properties", {}))
    unknown = sorted(set(error.instance) - set(allowed), key=str)
    issues = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), allowed, n=1)
        fix = f"did you mean '{close[0]}'?" if close else "known keys: " + ", ".join(allowed)
        issues.append(ModelIssue(json_path([*path, key]), "unknown key", fix))
    return issues


def _range_fix(path) -> str:
    if path and str(path[-1]).endswith("port"):
        return "use a port from 1 to 65535"
    if path and path[-1] == "timeout":
        return "use a timeout in seconds up to 300"
    return "use a value in range"


def _required_fix(missing: str) -> str:
    hints = {
        "transport": "add transport: tcp, quic or rdma",
        "port": "add port: a number from 1 to 65535",
        "remote_path": "add remote_path: \\\\server\\share",
        "server": "add server: the name clients use in UNC paths",
        "username": "add username",
        "password": "add password (from a vault)",
    }
    return hints.get(missing, f"add {missing}")


def _pattern_fix(path) -> str:
    key = str(path[-1]) if path else ""
    return {
        "remote_path": "write a UNC path such as \\\\server\\share",
        "local_path": "write a drive letter such as Z:",
        "server": "write a host name or address without ':' or slashes",
        "fingerprint_sha256": "write 64 hex digits, with or without colons",
    }.get(key, "see the schema")


def _schema_issues(model, schema) -> list:
    try:
        import jsonschema  # pylint: disable=import-outside-toplevel
    except ImportError:
        return [ModelIssue("(model)", "jsonschema is not installed on the controller", "pip install jsonschema")]
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(model), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    issues = []
    for error in errors:  # jsonschema reports all unknown keys of one mapping as one error: split them
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            issues.extend(_unknown_key_issues(error, list(error.absolute_path)))
        else:
            issues.append(schema_issue(error))
    return issues


def effective_backend(model: dict, host_is_windows: bool = False) -> str:
    backend = model.get("backend", "auto") if isinstance(model, dict) else "auto"
    if backend == "auto" and host_is_windows:
        return "windows"
    return backend if isinstance(backend, str) else "auto"


def check_rules(model, backend: str = "auto") -> tuple:
    """The rules JSON Schema cannot say. Returns ``(errors, warnings)``; skips parts the schema rejects."""
    errors: list = []
    warnings: list = []
    if not isinstance(model, dict):
        return errors, warnings
    server = model.get("server") if isinstance(model.get("server"), dict) else {}
    client = model.get("client") if isinstance(model.get("client"), dict) else {}
    ports = [(i, p) for i, p in enumerate(server.get("ports") or []) if _well_formed_port(p)]
    _check_server_ports(ports, backend, errors, warnings)
    _check_lockout(server, ports, errors)
    _check_mappings(client.get("mappings") or [], errors)
    _check_port_policy(client.get("port_policy") or [], errors, warnings)
    return errors, warnings


def _well_formed_port(entry) -> bool:
    return isinstance(entry, dict) and entry.get("transport") in _PORT_SPACE and is_port(entry.get("port"))


def _check_server_ports(ports, backend, errors, warnings) -> None:
    seen: dict = {}
    by_number: dict = {}
    for index, entry in ports:
        transport, port = entry["transport"], entry["port"]
        where = f"server.ports[{index}]"
        if (transport, port) in seen:
            errors.append(
                ModelIssue(
                    where, f"{transport}/{port} is listed twice (also at {seen[(transport, port)]})", "remove one"
                )
            )
            continue
        seen[(transport, port)] = where
        if backend == "windows" and transport in ("tcp", "rdma"):
            errors.append(
                ModelIssue(
                    where,
                    f"{transport}/{port} cannot be a server port on the windows backend: {WINDOWS_SERVER_PORT_REASON}",
                    "use transport: quic for the server, and reach the TCP listener on 445 or map clients to it",
                )
            )
        if port == STANDARD_PORTS[transport]:
            errors.append(
                ModelIssue(
                    f"{where}.port",
                    f"{port} is the standard {transport} port, not an alternative one",
                    "remove it and set server.standard_ports: keep or close",
                )
            )
        if port == NETBIOS_SESSION_PORT and transport in ("tcp", "rdma"):
            errors.append(
                ModelIssue(
                    f"{where}.port",
                    "139 is the NetBIOS session service port, not a Direct TCP SMB port",
                    "choose another port",
                )
            )
        by_number.setdefault(port, []).append((transport, where))
    for port, users in sorted(by_number.items()):
        transports = {transport for transport, _where in users}
        if {"tcp", "rdma"} <= transports:
            tcp_at = next(w for t, w in users if t == "tcp")
            rdma_at = next(w for t, w in users if t == "rdma")
            errors.append(
                ModelIssue(
                    rdma_at,
                    f"rdma/{port} clashes with tcp/{port} at {tcp_at}: TCP and RDMA share the TCP port space",
                    "give RDMA its own port",
                )
            )
        if "quic" in transports and len(transports) > 1:
            where = next(w for t, w in users if t == "quic")
            warnings.append(
                ModelIssue(
                    where,
                    f"port {port} is used by {' and '.join(sorted(transports))}",
                    "best practice is one distinct port per transport",
                )
            )


def _check_lockout(server, ports, errors) -> None:
    if server.get("exclusive") is True and not ports and not server.get("ports"):
        if server.get("standard_ports") == "close" and server.get("allow_no_listeners") is not True:
            errors.append(
                ModelIssue(
                    "server",
                    "exclusive: true with no ports and standard_ports: close leaves no SMB listener "
                    "and locks every client out",
                    "list at least one port, keep the standard ports, or set allow_no_listeners: true",
                )
            )


def _check_mappings(mappings, errors) -> None:
    for index, mapping in enumerate(mappings):
        if not isinstance(mapping, dict):
            continue
        where = f"client.mappings[{index}]"
        named = [key for key in _MAPPING_PORT_KEYS if key in mapping]
        if len(named) > 1:
            errors.append(
                ModelIssue(where, f"names {len(named)} ports ({', '.join(named)})", "a mapping uses exactly one port")
            )
        transport = mapping.get("transport")
        if len(named) == 1 and transport in _PORT_SPACE and named[0] != f"{transport}_port":
            errors.append(
                ModelIssue(
                    f"{where}.transport",
                    f"transport {transport} does not match {named[0]}",
                    f"use {transport}_port, or transport: {named[0].split('_')[0]}",
                )
            )
        if mapping.get("tcp_port") == NETBIOS_SESSION_PORT or mapping.get("rdma_port") == NETBIOS_SESSION_PORT:
            errors.append(
                ModelIssue(
                    where,
                    "port 139 is the NetBIOS session service port, not a Direct TCP SMB port",
                    "choose the server's alternative port",
                )
            )


def _check_port_policy(entries, errors, warnings) -> None:
    """The Alternative Port Mappings policy: Windows uses the first entry whose server name matches.

    A second entry for the same name and transport is dead (or, above a newer one, keeps clients on a stale
    port): refused. Clients match the name they were given, so a short name, an FQDN and an address of one
    server are separate entries: warned about. No Microsoft source shows rdma in this policy: accepted with a
    warning.
    """
    first_match: dict = {}
    named = [
        (index, entry)
        for index, entry in enumerate(entries)
        if isinstance(entry, dict) and isinstance(entry.get("server"), str)
    ]
    for index, entry in named:
        where = f"client.port_policy[{index}]"
        key = (entry["server"].lower(), entry.get("transport"))
        if key in first_match:
            errors.append(
                ModelIssue(
                    where,
                    f"{entry['server']} over {entry.get('transport')} is already mapped at {first_match[key]}; "
                    f"Windows uses the first entry that matches, so {where} never applies "
                    f"(and {first_match[key]} wins even if it is the stale one)",
                    f"keep one entry for {entry['server']} over {entry.get('transport')}: remove {where} "
                    f"or {first_match[key]}",
                )
            )
        else:
            first_match[key] = where
        if entry.get("transport") == "rdma":
            warnings.append(
                ModelIssue(
                    f"{where}.transport",
                    "no Microsoft source documents rdma in the Alternative Port Mappings policy; "
                    "Windows may ignore this entry",
                    "map SMB Direct clients with client_mapping rdma_port, and verify the entry on a client",
                )
            )
        if entry.get("transport") in ("tcp", "rdma") and entry.get("port") == NETBIOS_SESSION_PORT:
            errors.append(
                ModelIssue(
                    f"{where}.port",
                    "139 is the NetBIOS session service port, not a Direct TCP SMB port",
                    "choose the server's alternative port",
                )
            )
    warnings.extend(_spellings_of_one_server(named))


def _spellings_of_one_server(named) -> list:
    """Warn when one server seems to appear as a short name and an FQDN, or as a name and an address."""
    issues = []
    for position, (index, entry) in enumerate(named):
        for other_index, other in named[position + 1 :]:
            if entry.get("transport") != other.get("transport"):
                continue
            pair = _same_server_hint(entry["server"], other["server"], entry.get("port") == other.get("port"))
            if pair:
                issues.append(
                    ModelIssue(
                        f"client.port_policy[{other_index}]",
                        f"{other['server']} and {entry['server']} (client.port_policy[{index}]) {pair}; clients match "
                        "the name they were given, so each spelling needs its own entry, kept at the same port",
                        "list every name clients use for the server, with the same port",
                    )
                )
    return issues


def _same_server_hint(first: str, second: str, same_port: bool) -> str:
    a, b = first.lower(), second.lower()
    if a == b:
        return ""
    for short, fqdn in ((a, b), (b, a)):
        if "." not in short and not _is_address(fqdn) and fqdn.split(".")[0] == short:
            return "look like the short name and the FQDN of one server"
    if same_port and (_is_address(a) != _is_address(b)):
        return "map the same port, as if one were the address of the other"
    return ""


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def fill_defaults(model: dict) -> dict:
    """Return a copy of a valid model with every default filled in."""
    server = dict(model.get("server") or {})
    client = dict(model.get("client") or {})
    verify = dict(model.get("verify") or {})
    server["ports"] = [
        {"transport": p["transport"], "port": p["port"], "instances": p.get("instances", "default")}
        for p in server.get("ports") or []
    ]
    server.setdefault("exclusive", False)
    server.setdefault("standard_ports", "keep")
    server.setdefault("firewall", True)
    server.setdefault("allow_no_listeners", False)
    client["mappings"] = [_mapping_defaults(m) for m in client.get("mappings") or []]
    client["port_policy"] = [dict(e) for e in client.get("port_policy") or []]
    client.setdefault("port_policy_exclusive", False)
    client.setdefault("quic", None)
    verify.setdefault("from", "controller")
    verify.setdefault("level", "negotiate")
    verify.setdefault("timeout", 3)
    verify.setdefault("expect_removed_closed", True)
    verify.setdefault("report", {})
    return {"backend": model.get("backend", "auto"), "server": server, "client": client, "verify": verify}


def _mapping_defaults(mapping: dict) -> dict:
    result = dict(mapping)
    result.setdefault("persistent", False)
    result.setdefault("state", "present")
    if "transport" not in result:
        named = [key for key in _MAPPING_PORT_KEYS if key in result]
        result["transport"] = named[0].split("_")[0] if named else "tcp"
    return result


def validate_model(model, schema=None, host_is_windows: bool = False) -> ValidationResult:
    """Validate ``model`` against ``schema`` (when given) and the rules; fill defaults when it is valid."""
    result = ValidationResult()
    if schema is not None:
        result.errors.extend(_schema_issues(model, schema))
    elif not isinstance(model, dict):
        result.errors.append(ModelIssue("(model)", f"{_show(model)} is {_type_of(model)}, not a mapping", ""))
    rule_errors, rule_warnings = check_rules(model, effective_backend(model, host_is_windows))
    result.errors.extend(rule_errors)
    result.warnings.extend(rule_warnings)
    if not result.errors:
        result.normalized = fill_defaults(model)
    return result
