# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which endpoints verify checks, and what each is expected to be.

This is a private module_utils file: its API may change without notice.

Either the user lists endpoints, or they come from a model (the normalized output of ``validate``):

- every ``server.ports`` entry is expected ``open`` (or, when given, every ``current`` entry: the table the
  server has now, server_ports' ``after``);
- every ``previous`` entry (the table before a change, or the ports it removed) that is not expected open is
  expected ``closed``, matched by (transport, port);
- ``server.standard_ports: close`` expects TCP 445 closed; ``keep`` leaves the standard ports unchecked.
"""

from __future__ import annotations

from ansible_collections.smb.alternative_ports.plugins.module_utils._ports import (
    STANDARD_SMB_TCP_PORT,
    TRANSPORTS,
    port_problem,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._probe import Endpoint

EXPECTATIONS = ("open", "closed")


class EndpointError(ValueError):
    """A port entry that cannot be probed; the message names its path and the fix."""


def _port_of(entry, path: str) -> int:
    port = entry.get("port") if isinstance(entry, dict) else None
    problem = port_problem(port, path + ".port")
    if problem:
        raise EndpointError(problem)
    return port


def _transport_of(entry, path: str) -> str:
    transport = str(entry.get("transport") or "tcp").lower()
    if transport not in TRANSPORTS:
        raise EndpointError("%s.transport: %r is not one of %s" % (path, transport, ", ".join(TRANSPORTS)))
    return transport


def endpoints_from_list(entries: list, path: str = "endpoints") -> list:
    """Check a user's endpoint list and return Endpoints, refusing duplicates."""
    seen = {}
    endpoints = []
    for index, entry in enumerate(entries or []):
        where = "%s[%d]" % (path, index)
        if not isinstance(entry, dict):
            raise EndpointError("%s: expected a mapping with transport, port and expect, got %r" % (where, entry))
        endpoint = Endpoint(_transport_of(entry, where), _port_of(entry, where), str(entry.get("expect") or "open"))
        if endpoint.expect not in EXPECTATIONS:
            raise EndpointError("%s.expect: %r is not one of open, closed" % (where, endpoint.expect))
        key = (endpoint.transport, endpoint.port)
        if key in seen:
            raise EndpointError(
                "%s: %s/%d is already listed at %s (list each endpoint once)" % (where, *key, seen[key])
            )
        seen[key] = where
        endpoints.append(endpoint)
    return endpoints


def endpoints_from_model(model: dict, previous: list | None = None, current: list | None = None) -> list:
    """Derive the endpoints from a normalized model, the table before a change and the table after it."""
    server = (model or {}).get("server") or {}
    if not isinstance(server, dict):
        raise EndpointError("model.server: expected a mapping, got %r" % (server,))
    endpoints = []
    configured = set()
    expected_open, source = (current, "current") if current is not None else (server.get("ports"), "model.server.ports")
    for index, entry in enumerate(expected_open or []):
        where = "%s[%d]" % (source, index)
        if not isinstance(entry, dict):
            raise EndpointError("%s: expected a mapping with transport and port, got %r" % (where, entry))
        key = (_transport_of(entry, where), _port_of(entry, where))
        if key not in configured:
            configured.add(key)
            endpoints.append(Endpoint(key[0], key[1], "open"))
    closed = []
    for index, entry in enumerate(previous or []):
        where = "previous[%d]" % index
        if not isinstance(entry, dict):
            raise EndpointError("%s: expected a mapping with transport and port, got %r" % (where, entry))
        closed.append((_transport_of(entry, where), _port_of(entry, where)))
    standard = str(server.get("standard_ports") or "keep").lower()
    if standard == "close":
        closed.append(("tcp", STANDARD_SMB_TCP_PORT))
    elif standard != "keep":
        raise EndpointError("model.server.standard_ports: %r is not one of keep, close" % standard)
    for key in closed:
        if key not in configured:
            configured.add(key)
            endpoints.append(Endpoint(key[0], key[1], "closed"))
    return endpoints
