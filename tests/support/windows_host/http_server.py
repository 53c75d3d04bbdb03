"""The HTTP(S) side of the WS-Management endpoint: one POST path, authentication, encryption.

Rules, as a Windows host with default WinRM settings applies them (``AllowUnencrypted=false``):

- Only ``POST /wsman``. Every reply has a Content-Length, and connections are kept alive: the NTLM
  context, and with it the message-encryption keys, belongs to one TCP connection.
- NTLM (``Negotiate`` or ``NTLM`` scheme, raw NTLMSSP tokens) on HTTP and HTTPS. Basic is off, as in
  Windows' default ``winrm/config/service/auth``; once turned on (``basic_auth``), it is offered on HTTPS
  only. Bad credentials get 401, which pywinrm reports as InvalidCredentialsError.
- A local administrator other than the built-in one gets 401 after authenticating, unless the registry
  value ``LocalAccountTokenFilterPolicy`` is 1 (UAC remote restrictions filter its network logon token).
- A SOAP envelope larger than ``MaxEnvelopeSizekb`` (500, Windows' default) gets the fault Windows sends.
- Over HTTP a SOAP body must be NTLM-encrypted; a plaintext one is refused with 400 and a sentence
  saying why. An encrypted request is always answered encrypted. An empty authenticated POST (how
  pywinrm opens an encrypted session) gets an empty 200.
"""

from __future__ import annotations

import base64
import binascii
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

from .auth import AuthenticationFailed, HostUser, NtlmAcceptor, check_basic
from .encryption import CONTENT_TYPE, EncryptionError, build_encrypted, is_encrypted, split_encrypted
from .wsman_messages import FAULT_INVALID_REQUEST, FAULT_MAX_ENVELOPE, WsmanFault, fault_response
from .wsman_service import MACHINE, DropConnection, WsmanService

LOG = logging.getLogger(__name__)
MAX_BODY = 64 * 1024 * 1024  # a 4 MiB stdin is ~5.4 MiB once base64-encoded; leave room
PLAINTEXT_REFUSED = (
    b"The emulated Windows host refuses unencrypted WinRM traffic over HTTP (AllowUnencrypted=false): "
    b"use NTLM with message encryption, or HTTPS."
)


def undecryptable_fault(error: Exception) -> bytes:
    """The SOAP fault for an encrypted message this connection's NTLM context cannot read."""
    fault = WsmanFault(
        FAULT_INVALID_REQUEST,
        "The WinRM message could not be decrypted with this connection's NTLM session (the client "
        f"re-authenticated on a new connection, or the message was altered): {error}",
    )
    return fault_response(fault, "", MACHINE)


def envelope_too_large_fault(size: int, limit: int) -> bytes:
    """The fault for a request over MaxEnvelopeSizekb (code 0x80338111; wording assumed, see SOURCES.md)."""
    fault = WsmanFault(
        FAULT_MAX_ENVELOPE,
        "The WS-Management service cannot process the request because the request size exceeded the "
        f"configured MaxEnvelopeSize quota ({size} bytes; MaxEnvelopeSizekb is {limit // 1024}).",
        subcode="w:EncodingLimit",
    )
    return fault_response(fault, "", MACHINE)


class WinRMHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its WS-Man service, its users and, for HTTPS, its TLS context."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        service: WsmanService,
        users: list[HostUser],
        ntlm_store: Path,
        ssl_context: ssl.SSLContext | None = None,
        cert_der_sha256: bytes | None = None,
        cbt_mode: str = "relaxed",
        *,
        basic_auth: bool = False,
        max_envelope_kb: int = 500,
        authorize: Callable[[str], str | None] = lambda _user: None,
    ) -> None:
        super().__init__(address, WinRMRequestHandler)
        self.basic_auth = basic_auth
        self.max_envelope_bytes = max_envelope_kb * 1024
        self.authorize = authorize  # principal -> None, or why remote administration is refused
        self.service = service
        self.users = users
        self.ntlm_store = ntlm_store
        self.ssl_context = ssl_context
        self.cbt_mode = cbt_mode
        self.channel_bindings = (
            GssChannelBindings(application_data=b"tls-server-end-point:" + cert_der_sha256) if cert_der_sha256 else None
        )
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    @property
    def uses_tls(self) -> bool:
        return self.ssl_context is not None

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(sock)
            else:
                self._connections.discard(sock)

    def finish_request(self, request: Any, client_address: Any) -> None:
        connection = request
        if self.ssl_context is not None:
            request.settimeout(10)  # a client that never finishes its handshake must not hold a thread
            try:
                connection = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as error:
                LOG.info("TLS handshake with %s failed: %s", client_address, error)
                return
        self._track(connection, True)
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            self._track(connection, False)
            if connection is not request:
                try:
                    connection.close()
                except OSError:
                    pass

    def close_connections(self) -> None:
        """Close every open client connection (the host is stopping)."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class WinRMRequestHandler(BaseHTTPRequestHandler):
    """One TCP connection: its NTLM context lives as long as the connection."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: WinRMHTTPServer

    def setup(self) -> None:
        super().setup()
        self.ntlm: NtlmAcceptor | None = None

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s %s", self.address_string(), format % args)

    # -- replies ----------------------------------------------------------------------------------
    def _reply(self, status: int, body: bytes = b"", content_type: str = "", headers: dict[str, str] | None = None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _unauthorized(self, challenge: str = "") -> None:
        basic = self.server.uses_tls and self.server.basic_auth
        schemes = [challenge] if challenge else ["Negotiate", "Kerberos"] + (['Basic realm="WSMAN"'] if basic else [])
        self.send_response(401)
        for value in schemes:
            self.send_header("WWW-Authenticate", value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # -- methods ----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._read_body()
        self._reply(405, b"WS-Management accepts POST only.", "text/plain", {"Allow": "POST"})

    do_PUT = do_DELETE = do_GET

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # WinRM clients send a Content-Length; do not parse chunked bodies
            return None
        length_text = self.headers.get("Content-Length", "0")
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            self._reply(411, b"Send the request body with a valid Content-Length of at most 64 MiB.", "text/plain")
            return
        if urlsplit(self.path).path.rstrip("/").lower() != "/wsman":
            self._reply(404, b"The WS-Management endpoint is /wsman.", "text/plain")
            return
        user = self._authenticate()
        if user is None:
            return
        refusal = self.server.authorize(user)
        if refusal is not None:
            LOG.info("remote administration refused for %s: %s", user, refusal)
            self.ntlm = None
            self._unauthorized()
            return
        try:
            self._serve(user, body)
        except DropConnection as drop:
            LOG.warning("%s", drop)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _authenticate(self) -> str | None:
        """The authenticated user, or None after answering 401 (a challenge or a refusal)."""
        scheme, _space, token = self.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() in ("negotiate", "ntlm"):
            return self._step_ntlm(scheme, token)
        if scheme.lower() == "basic":
            if not (self.server.uses_tls and self.server.basic_auth):
                # Off by default; and over HTTP it would send the password in clear: not offered.
                self._unauthorized()
                return None
            try:
                return check_basic(self.server.users, token)
            except AuthenticationFailed as failure:
                LOG.info("Basic authentication refused: %s", failure)
                self._unauthorized()
                return None
        if not scheme and self.ntlm is not None and self.ntlm.complete:
            return self.ntlm.user
        self._unauthorized()
        return None

    def _step_ntlm(self, scheme: str, token: str) -> str | None:
        try:
            raw = base64.b64decode(token, validate=True)
            if self.ntlm is None or self.ntlm.complete:
                self.ntlm = NtlmAcceptor(self.server.ntlm_store, self.server.channel_bindings, self.server.cbt_mode)
            answer = self.ntlm.step(raw)
        except (binascii.Error, AuthenticationFailed, SpnegoError) as failure:
            LOG.info("NTLM authentication refused: %s", failure)
            self.ntlm = None
            self._unauthorized()
            return None
        if not self.ntlm.complete:
            self._unauthorized(f"{scheme} {base64.b64encode(answer or b'').decode()}")
            return None
        return self.ntlm.user

    def _serve(self, user: str, body: bytes) -> None:
        encrypted = is_encrypted(self.headers.get("Content-Type", ""))
        if encrypted:
            if self.ntlm is None or not self.ntlm.complete:
                self._reply(400, b"An encrypted message needs an NTLM-authenticated connection.", "text/plain")
                return
            try:
                length, signature, sealed = split_encrypted(body)
                soap = self.ntlm.unwrap(signature, sealed)
                if len(soap) != length:
                    raise EncryptionError("the decrypted length does not match the OriginalContent Length")
            except (EncryptionError, SpnegoError) as error:
                # Still answer encrypted, with this connection's (possibly new) context: a client that
                # re-authenticated after a dropped connection can read why its old message failed.
                self._reply_encrypted(400, undecryptable_fault(error))
                return
        elif not body:
            self._reply(200)
            return
        elif not self.server.uses_tls:
            self._reply(400, PLAINTEXT_REFUSED, "text/plain")
            return
        else:
            soap = body
        if len(soap) > self.server.max_envelope_bytes:
            status, reply = 500, envelope_too_large_fault(len(soap), self.server.max_envelope_bytes)
        else:
            status, reply = self.server.service.handle(user, soap)
        if encrypted:
            self._reply_encrypted(status, reply)
        else:
            self._reply(status, reply, "application/soap+xml;charset=UTF-8")

    def _reply_encrypted(self, status: int, soap: bytes) -> None:
        assert self.ntlm is not None
        signature, sealed = self.ntlm.wrap(soap)
        self._reply(status, build_encrypted(len(soap), signature, sealed), CONTENT_TYPE)
