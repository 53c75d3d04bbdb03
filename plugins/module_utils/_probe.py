# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The endpoint prober behind ``smb.alternative_ports.verify``.

This is a private module_utils file: its API may change without notice.

``run_probes`` checks every endpoint of one host concurrently on one asyncio event loop: at most
``concurrency`` endpoints are in flight, and every network step (connect, NEGOTIATE, session) has its own
``timeout``. Each endpoint gets exactly one status:

- ``smb``: it answered an SMB2 NEGOTIATE (and, at level ``session``, the login and tree connect worked);
- ``open``: level ``tcp`` only: the TCP connection was accepted (SMB was not checked);
- ``not_smb``: something accepted the connection but did not answer SMB2 (HTTP, TLS, garbage, SMB1 only,
  silence, or a close without an answer);
- ``refused``, ``timeout``, ``unreachable``: nothing accepted the connection;
- ``auth_failed``, ``share_denied``: level ``session`` only;
- ``tls_failed``, ``alpn_mismatch``: QUIC only: the server certificate was not trusted (CA file, system CAs or
  pinned fingerprint) or the TLS handshake failed; the server speaks QUIC but does not offer ALPN ``smb``;
- ``unsupported_transport``: RDMA endpoints, which this prober cannot check; never ``ok``.

QUIC endpoints (``_probe_quic``) get a QUIC + TLS 1.3 handshake with ALPN ``smb``, then the same NEGOTIATE on one
stream; their rows say ``tls_validation: on|off``. At level ``session`` smbprotocol logs in over the same kind of
QUIC connection (``connect_smb_over_quic``).

``ok`` says whether the status matches what the endpoint was expected to be: ``open`` needs ``smb`` (``open``
at level ``tcp``), ``closed`` needs ``refused``, ``timeout`` or ``unreachable``.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Optional

from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_quic import probe_quic
from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_session import (
    SessionCredentials,
    SessionHandle,
    check_session,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._smb2_negotiate import (
    SMB1_MAGIC,
    NotSmb2Error,
    build_negotiate_request,
    build_smb1_negotiate_request,
    describe_foreign_answer,
    parse_frame_length,
    parse_negotiate_response,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._smb_over_quic import connect_smb_over_quic

LEVELS = ("tcp", "negotiate", "session")
CLOSED_STATUSES = ("refused", "timeout", "unreachable")
STATUSES = ("smb", "open", "not_smb", "auth_failed", "share_denied", "unsupported_transport", *CLOSED_STATUSES)
PROBED_TRANSPORTS = ("tcp", "quic")
QUIC_STATUSES = ("tls_failed", "alpn_mismatch")
_QUIC_TRY_NEXT_ADDRESS = (
    "refused",
    "unreachable",
)  # QUIC joins when _probe_quic (issue 7) is wired into probe_endpoint
_MAX_NEGOTIATE_FRAME = 1 << 20  # a NEGOTIATE response is a few hundred bytes; anything huge is not one
_UNREACHABLE_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.EADDRNOTAVAIL}


@dataclass(frozen=True)
class Endpoint:
    transport: str
    port: int
    expect: str = "open"
    """``open`` or ``closed``."""


@dataclass
class ProbeSettings:
    level: str = "negotiate"
    timeout: float = 3.0
    """Seconds allowed for each step (connect, NEGOTIATE, session) of one endpoint."""
    concurrency: int = 32
    credentials: Optional[SessionCredentials] = None
    share: str = ""
    cafile: Optional[str] = None
    """QUIC: PEM file of the CAs a server certificate must chain to; None means the system's CAs."""
    fingerprint_sha256: Optional[str] = None
    """QUIC: the SHA-256 fingerprint the server certificate must have (alone, it replaces the CA check)."""
    validate_certs: bool = True
    """QUIC: False accepts any certificate; each QUIC row then says ``tls_validation: off``."""
    server_name: Optional[str] = None
    """QUIC: name sent in SNI and checked against the certificate; None uses the probed host name."""


@dataclass
class ProbeResult:
    """One row of the report."""

    host: str
    address: Optional[str]
    transport: str
    port: int
    expect: str
    status: str
    ok: bool = False
    latency_ms: Optional[float] = None
    dialect: Optional[str] = None
    signing_required: Optional[bool] = None
    server_guid: Optional[str] = None
    capabilities: list = field(default_factory=list)
    max_read_size: Optional[int] = None
    max_write_size: Optional[int] = None
    max_transact_size: Optional[int] = None
    cipher: Optional[str] = None
    tls_validation: Optional[str] = None
    """QUIC rows: ``on`` when the certificate was checked, ``off`` when validate_certs was false; None for TCP."""
    certificate_sha256: Optional[str] = None
    """QUIC rows: SHA-256 fingerprint of the certificate the server presented."""
    error: Optional[str] = None

    def as_dict(self) -> dict:
        return asdict(self)


def is_expected(expect: str, status: str, level: str) -> bool:
    """Whether ``status`` is what an endpoint expected ``open`` or ``closed`` should show."""
    if expect == "closed":
        return status in CLOSED_STATUSES
    if level == "tcp":
        return status in ("open", "smb")
    return status == "smb"


class _Outcome(Exception):
    """Ends one probe early with a status; raised and caught inside ``_probe_tcp`` only."""

    def __init__(self, status: str, error: str, closed_silently: bool = False) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.closed_silently = closed_silently
        """The peer closed the connection on our SMB2 NEGOTIATE without a byte: maybe an SMB1-only server."""


def _connect_failure(exc: OSError, where: str, timeout: float) -> _Outcome:
    if isinstance(exc, ConnectionRefusedError):
        return _Outcome("refused", "%s refused the connection (nothing listens there)" % where)
    if exc.errno in _UNREACHABLE_ERRNOS:
        return _Outcome("unreachable", "%s is unreachable: %s" % (where, exc.strerror or exc))
    if exc.errno == errno.ETIMEDOUT:
        return _Outcome("timeout", "%s: no answer to the TCP connect within %gs" % (where, timeout))
    return _Outcome("unreachable", "%s: cannot connect: %s" % (where, exc))


async def _read_negotiate_answer(reader: asyncio.StreamReader, where: str) -> bytes:
    """Read one Direct TCP frame; raise _Outcome(not_smb) when the peer sends anything else."""
    try:
        first = await reader.read(4096)
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise _Outcome(
            "not_smb", "%s accepted the connection, then reset it without answering: %s" % (where, exc)
        ) from None
    if not first:
        raise _Outcome(
            "not_smb", "%s accepted the connection, then closed it without answering SMB2" % where, closed_silently=True
        )
    data = bytearray(first)
    try:
        while len(data) < 4:
            more = await reader.read(4096)
            if not more:
                raise NotSmb2Error(describe_foreign_answer(bytes(data)))
            data += more
        if data[0] != 0:  # not a Direct TCP header: describe everything we got, not just 4 bytes
            raise NotSmb2Error(describe_foreign_answer(bytes(data)))
        length = parse_frame_length(bytes(data[:4]))
        if length > _MAX_NEGOTIATE_FRAME or length < 4:
            raise NotSmb2Error(describe_foreign_answer(bytes(data)))
        while len(data) < 4 + length:
            more = await reader.read(4 + length - len(data))
            if not more:
                raise NotSmb2Error("closed the connection in the middle of its answer (%d bytes)" % len(data))
            data += more
    except NotSmb2Error as exc:
        raise _Outcome("not_smb", "%s %s" % (where, exc)) from None
    return bytes(data[4 : 4 + length])


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except (OSError, asyncio.TimeoutError):
        pass


async def _connect(addresses: list, port: int, timeout: float, where: str):
    """Try each address of the host in turn (IPv6 then IPv4, as the resolver orders them) within one timeout."""
    deadline = time.monotonic() + timeout
    failure = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), remaining)
        except asyncio.TimeoutError:
            failure = _Outcome("timeout", "%s: no answer to the TCP connect within %gs" % (where, timeout))
            break
        except OSError as exc:
            failure = _connect_failure(exc, where, timeout)
            continue
        return reader, writer, address
    raise failure or _Outcome("timeout", "%s: no answer to the TCP connect within %gs" % (where, timeout))


async def _probe_tcp(host: str, addresses: list, endpoint: Endpoint, settings: ProbeSettings, row: ProbeResult):
    """Connect, NEGOTIATE and maybe log in; fill ``row``. Raises _Outcome for a status that ends the probe."""
    where = "%s port %d/%s" % (host, endpoint.port, endpoint.transport)
    reader, writer, address = await _connect(addresses, endpoint.port, settings.timeout, where)
    row.address = address
    try:
        if settings.level == "tcp":
            row.status = "open"
            return
        writer.write(build_negotiate_request())
        try:
            await writer.drain()
            message = await asyncio.wait_for(_read_negotiate_answer(reader, where), settings.timeout)
        except asyncio.TimeoutError:
            raise _Outcome(
                "not_smb",
                "%s accepted the connection but sent no answer to NEGOTIATE within %gs" % (where, settings.timeout),
            ) from None
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise _Outcome("not_smb", "%s accepted the connection, then reset it: %s" % (where, exc)) from None
        try:
            answer = parse_negotiate_response(message)
        except NotSmb2Error as exc:
            raise _Outcome("not_smb", "%s %s" % (where, exc)) from None
    finally:
        await _close(writer)
    row.status = "smb"
    if answer.status:
        row.error = "%s answered SMB2 but refused the NEGOTIATE with NTSTATUS 0x%08x" % (where, answer.status)
        return
    for name in ("dialect", "signing_required", "server_guid", "capabilities", "cipher"):
        setattr(row, name, getattr(answer, name))
    row.max_read_size = answer.max_read_size
    row.max_write_size = answer.max_write_size
    row.max_transact_size = answer.max_transact_size
    if settings.level == "session" and endpoint.expect == "open":
        await _probe_session(host, address, endpoint, settings, row)


async def _probe_session(
    host: str, address: str, endpoint: Endpoint, settings: ProbeSettings, row: ProbeResult, connect=None
):
    if settings.credentials is None:
        raise _Outcome("auth_failed", "level session needs a username and password")
    handle = SessionHandle()
    loop = asyncio.get_running_loop()
    work = loop.run_in_executor(
        None,
        check_session,
        address,
        endpoint.port,
        host,
        settings.credentials,
        settings.share,
        settings.timeout,
        handle,
        connect,
    )
    try:
        # One timeout per step: connect+NEGOTIATE, session setup (2 legs) and tree connect.
        outcome = await asyncio.wait_for(asyncio.shield(work), settings.timeout * 4)
    except asyncio.TimeoutError:
        # Close its socket so the worker thread ends soon. smbprotocol may block a moment joining its reader
        # thread, so the abort runs in a thread of its own: not on the event loop, and not in the pool, whose
        # threads may all be stuck in checks like this one.
        threading.Thread(target=handle.abort, name="verify-abort-%d" % endpoint.port, daemon=True).start()
        raise _Outcome(
            "timeout",
            "%s port %d: the session check did not finish within %gs" % (host, endpoint.port, settings.timeout * 4),
        ) from None
    if outcome.status != "smb":
        raise _Outcome(outcome.status, outcome.error or outcome.status)
    row.error = outcome.error


async def _probe_quic(host: str, addresses: list, endpoint: Endpoint, settings: ProbeSettings, row: ProbeResult):
    """QUIC + TLS 1.3 handshake with ALPN smb, then NEGOTIATE on one stream; raises _Outcome like _probe_tcp."""
    outcome = None
    for address in addresses:  # IPv6 then IPv4: a closed UDP port on one family is no verdict on the other
        row.address = address
        outcome = await probe_quic(
            host,
            address,
            endpoint.port,
            timeout=settings.timeout,
            level="tcp" if settings.level == "tcp" else "negotiate",
            cafile=settings.cafile,
            fingerprint_sha256=settings.fingerprint_sha256,
            validate_certs=settings.validate_certs,
            server_name=settings.server_name,
            negotiate_request=build_negotiate_request(),
        )
        if outcome.status not in _QUIC_TRY_NEXT_ADDRESS:
            break
    row.tls_validation = outcome.tls_validation
    row.certificate_sha256 = outcome.certificate_sha256
    if outcome.status not in ("smb", "open"):
        raise _Outcome(outcome.status, outcome.error or outcome.status)
    row.status = outcome.status
    answer = outcome.answer
    if answer is None:
        return
    if answer.status:
        row.error = outcome.error
        return
    for name in ("dialect", "signing_required", "server_guid", "capabilities", "cipher"):
        setattr(row, name, getattr(answer, name))
    row.max_read_size = answer.max_read_size
    row.max_write_size = answer.max_write_size
    row.max_transact_size = answer.max_transact_size
    if settings.level == "session" and endpoint.expect == "open":
        quic_connect = functools.partial(
            connect_smb_over_quic,
            cafile=settings.cafile,
            fingerprint_sha256=settings.fingerprint_sha256,
            validate_certs=settings.validate_certs,
            server_name=settings.server_name or host,
        )
        await _probe_session(host, row.address, endpoint, settings, row, connect=quic_connect)


async def _smb1_followup(host: str, address: str, port: int, timeout: float) -> Optional[str]:
    """Ask a peer that hung up on SMB2 for SMB1: return a clearer message when it speaks only SMB1."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return None
    try:
        writer.write(build_smb1_negotiate_request())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), timeout)
    except (OSError, asyncio.TimeoutError):
        return None
    finally:
        await _close(writer)
    if answer[4:8] == SMB1_MAGIC:
        return "%s port %d/tcp speaks only SMB1 (it hung up on SMB2 and answered an SMB1 NEGOTIATE)" % (host, port)
    return None


async def probe_endpoint(host: str, addresses: list, endpoint: Endpoint, settings: ProbeSettings) -> ProbeResult:
    """Probe one endpoint and return its classified row. Never raises for network trouble."""
    row = ProbeResult(host=host, address=addresses[0] if addresses else None, transport=endpoint.transport, port=endpoint.port,
                      expect=endpoint.expect, status="unreachable")  # fmt: skip
    if endpoint.transport not in PROBED_TRANSPORTS:
        row.status = "unsupported_transport"
        row.error = "%s port %d/%s: verify cannot probe %s endpoints; check it by hand" % (
            host,
            endpoint.port,
            endpoint.transport,
            endpoint.transport.upper(),
        )
        return row
    if not addresses:
        row.error = "%s: the name does not resolve to an address" % host
        row.ok = is_expected(endpoint.expect, row.status, settings.level)
        return row
    started = time.perf_counter()
    try:
        if endpoint.transport == "quic":
            await _probe_quic(host, addresses, endpoint, settings, row)
        else:
            await _probe_tcp(host, addresses, endpoint, settings, row)
    except _Outcome as outcome:
        row.status = outcome.status
        row.error = outcome.error
        if outcome.closed_silently and row.address:
            row.error = await _smb1_followup(host, row.address, endpoint.port, settings.timeout) or row.error
    row.latency_ms = round((time.perf_counter() - started) * 1000.0, 2)
    row.ok = is_expected(endpoint.expect, row.status, settings.level)
    if row.ok and row.status == "smb" and row.dialect is None:
        row.ok = False  # it speaks SMB2 but refused every dialect we offered: no client can use it
    if not row.ok and row.error is None:
        row.error = "expected %s, found %s" % (endpoint.expect, row.status)
    return row


async def _resolve(host: str) -> tuple:
    """Resolve once for every endpoint: return (addresses, None) or ([], reason)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return [], "%s does not resolve: %s" % (host, exc.strerror or exc)
    addresses = []
    for info in infos:
        if info[4][0] not in addresses:
            addresses.append(info[4][0])
    return addresses, None


async def probe_all(host: str, endpoints: list, settings: ProbeSettings) -> list:
    """Probe every endpoint with at most ``settings.concurrency`` in flight; rows keep the input order."""
    addresses, resolve_error = await _resolve(host)
    semaphore = asyncio.Semaphore(max(1, settings.concurrency))

    async def bounded(endpoint: Endpoint) -> ProbeResult:
        async with semaphore:
            row = await probe_endpoint(host, addresses, endpoint, settings)
        if resolve_error and endpoint.transport in PROBED_TRANSPORTS:
            row.error = resolve_error
        return row

    return list(await asyncio.gather(*(bounded(endpoint) for endpoint in endpoints)))


async def _probe_all_with_threads(host: str, endpoints: list, settings: ProbeSettings) -> list:
    # Session checks run in threads: one per endpoint in flight, so none waits for a thread while its
    # timeout runs. asyncio.run shuts this executor down when the run ends.
    workers = max(1, min(settings.concurrency, len(endpoints) or 1))
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=workers))
    return await probe_all(host, endpoints, settings)


def run_probes(host: str, endpoints: list, settings: ProbeSettings) -> list:
    """Synchronous entry point for the module: one event loop for the whole run."""
    if settings.level not in LEVELS:
        raise ValueError("level must be one of %s, got %r" % (", ".join(LEVELS), settings.level))
    if settings.level == "session":
        return asyncio.run(_probe_all_with_threads(host, endpoints, settings))
    return asyncio.run(probe_all(host, endpoints, settings))
