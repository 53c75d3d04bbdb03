# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Level ``session`` of the prober: NTLM session setup and tree connect through smbprotocol.

This is a private module_utils file: its API may change without notice.

smbprotocol is blocking, so ``check_session`` is meant to run in a worker thread. It always ends with a clean
tree disconnect, logoff and transport close, and it never puts the password in a message it returns.
``SessionHandle.abort`` lets the event loop close the socket of a check that overran its timeout, which
unblocks the worker thread.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import uuid
from dataclasses import dataclass

try:
    from smbprotocol.connection import Connection
    from smbprotocol.exceptions import SMBAuthenticationError, SMBException, SMBResponseException
    from smbprotocol.session import Session
    from smbprotocol.tree import TreeConnect

    HAS_SMBPROTOCOL = True
    SMBPROTOCOL_IMPORT_ERROR = None
except ImportError as import_error:  # the module reports it with missing_required_lib
    HAS_SMBPROTOCOL = False
    SMBPROTOCOL_IMPORT_ERROR = import_error

# smbprotocol logs a dying reader thread at ERROR; without a handler Python would print that on stderr.
logging.getLogger("smbprotocol").addHandler(logging.NullHandler())

_AUTH_STATUS_NAMES = {
    0xC000006D: "STATUS_LOGON_FAILURE",
    0xC000006A: "STATUS_WRONG_PASSWORD",
    0xC0000064: "STATUS_NO_SUCH_USER",
    0xC000006E: "STATUS_ACCOUNT_RESTRICTION",
    0xC0000071: "STATUS_PASSWORD_EXPIRED",
    0xC0000072: "STATUS_ACCOUNT_DISABLED",
    0xC0000234: "STATUS_ACCOUNT_LOCKED_OUT",
    0xC0000022: "STATUS_ACCESS_DENIED",
}
_SHARE_STATUS_NAMES = {
    0xC00000CC: "STATUS_BAD_NETWORK_NAME",
    0xC0000022: "STATUS_ACCESS_DENIED",
    0xC00000C9: "STATUS_NETWORK_NAME_DELETED",
}
_UNREACHABLE_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.EADDRNOTAVAIL}


@dataclass
class SessionCredentials:
    username: str
    password: str
    domain: str = ""

    def principal(self) -> str:
        return "%s\\%s" % (self.domain, self.username) if self.domain else self.username

    def __repr__(self) -> str:  # never show the password, even in a traceback
        return "SessionCredentials(username=%r, domain=%r)" % (self.username, self.domain)


@dataclass
class SessionOutcome:
    status: str
    """``smb`` when the session and tree connect worked, else a failure status of the prober."""
    error: str | None = None


class SessionHandle:
    """Shared between the event loop and the worker thread, so a late check can be aborted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection = None
        self.aborted = False

    def attach(self, connection) -> None:
        with self._lock:
            self._connection = connection
            if self.aborted:
                _close_quietly(connection)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            if self._connection is not None:
                _close_quietly(self._connection)


def _close_quietly(connection) -> None:
    try:
        connection.disconnect(close=False)
    except Exception:
        pass


def _status_text(exc, names: dict) -> str:
    status = getattr(exc, "status", None)
    if status is None:
        return str(exc)
    return "%s (0x%08x)" % (names.get(status, "NTSTATUS"), status)


def _connection_failure(exc: BaseException, where: str) -> SessionOutcome:
    if isinstance(exc, ConnectionRefusedError):
        return SessionOutcome("refused", "%s refused the session connection" % where)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return SessionOutcome("timeout", "%s did not answer smbprotocol's NEGOTIATE in time" % where)
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE_ERRNOS:
        return SessionOutcome("unreachable", "%s: %s" % (where, exc.strerror))
    return SessionOutcome("auth_failed", "%s: could not start an SMB session: %s" % (where, exc))


def _connect_tcp(connection, timeout: float) -> None:
    connection.connect(timeout=timeout)


def check_session(
    address: str,
    port: int,
    server_name: str,
    credentials: SessionCredentials,
    share: str,
    timeout: float,
    handle: SessionHandle,
    connect=None,
) -> SessionOutcome:
    """Authenticate with NTLM, connect to ``share``, then log off. Blocking: run it in a thread.

    ``connect(connection, timeout)`` opens the transport and negotiates: Direct TCP by default,
    ``_smb_over_quic.connect_smb_over_quic`` (with its TLS settings bound) for SMB over QUIC.
    """
    where = "%s:%d" % (server_name, port)
    connection = Connection(uuid.uuid4(), address, port, require_signing=True)
    handle.attach(connection)
    try:
        try:
            (connect or _connect_tcp)(connection, timeout)
        except Exception as exc:
            return _connection_failure(exc, where)
        session = Session(
            connection,
            username=credentials.principal(),
            password=credentials.password,
            require_encryption=False,
            auth_protocol="negotiate",  # SPNEGO; NTLM inside it, since the prober has no Kerberos ticket
        )
        try:
            session.connect()
        except SMBResponseException as exc:
            return SessionOutcome(
                "auth_failed",
                "%s rejected the login of %s: %s; check the username, password and domain"
                % (where, credentials.principal(), _status_text(exc, _AUTH_STATUS_NAMES)),
            )
        except SMBAuthenticationError as exc:
            return SessionOutcome("auth_failed", "%s: authentication failed: %s" % (where, exc))
        except (SMBException, OSError, ValueError) as exc:
            if handle.aborted:
                return SessionOutcome("timeout", "%s: session setup did not finish in time" % where)
            return SessionOutcome("auth_failed", "%s: session setup failed: %s" % (where, exc))
        unc = "\\\\%s\\%s" % (server_name, share)
        tree = TreeConnect(session, unc)
        try:
            tree.connect()
        except SMBResponseException as exc:
            return SessionOutcome(
                "share_denied",
                "%s refused the tree connect to share %r for %s: %s"
                % (where, share, credentials.principal(), _status_text(exc, _SHARE_STATUS_NAMES)),
            )
        except (SMBException, OSError, ValueError) as exc:
            if handle.aborted:
                return SessionOutcome("timeout", "%s: tree connect did not finish in time" % where)
            return SessionOutcome("share_denied", "%s: tree connect to share %r failed: %s" % (where, share, exc))
        try:
            tree.disconnect()
            session.disconnect(close=False, timeout=timeout)
        except (SMBException, OSError, ValueError) as exc:
            return SessionOutcome("smb", "session worked, but the clean logoff failed: %s" % exc)
        return SessionOutcome("smb")
    finally:
        _close_quietly(connection)
