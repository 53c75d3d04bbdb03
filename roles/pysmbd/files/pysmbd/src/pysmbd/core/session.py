"""Sessions and tree connects: SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT (MS-SMB2 3.3.5.5-3.3.5.8)."""

from __future__ import annotations

import logging
import os
import struct
from typing import Protocol

from . import crypto, events
from .context import ServerContext
from .ntlm_acceptor import AnonymousLogon, NtlmAcceptor
from .request import Request, Response
from .state import Session, Tree
from .status import (
    STATUS_ACCESS_DENIED,
    STATUS_BAD_NETWORK_NAME,
    STATUS_INVALID_PARAMETER,
    STATUS_LOGON_FAILURE,
    STATUS_MORE_PROCESSING_REQUIRED,
    STATUS_REQUEST_NOT_ACCEPTED,
    STATUS_SUCCESS,
    STATUS_USER_SESSION_DELETED,
    SMBError,
)
from .users import users_file
from .wire import DIALECT_300, DIALECT_311, from_utf16

log = logging.getLogger("pysmbd.core.session")

SESSION_FLAG_IS_GUEST = 0x0001
SESSION_FLAG_IS_NULL = 0x0002
SESSION_FLAG_ENCRYPT_DATA = 0x0004
SHARE_TYPE_DISK = 0x01
SHARE_TYPE_PIPE = 0x02
SHAREFLAG_NO_CACHING = 0x00000030
SHAREFLAG_ENCRYPT_DATA = 0x00008000
FULL_ACCESS = 0x001F01FF
READ_ONLY_ACCESS = 0x001200A9

SETUP_REQUEST = struct.Struct("<HBBIIHHQ")
SETUP_RESPONSE = struct.Struct("<HHHH")
TREE_CONNECT_REQUEST = struct.Struct("<HHHH")
TREE_CONNECT_RESPONSE = struct.Struct("<HBBIII")
SIMPLE = struct.Struct("<HH")


class SessionHost(Protocol):
    """What these handlers use of their connection; ``connection.SMBServerConnection`` is one.

    Named here, not imported, so that the connection (which dispatches to these handlers) and the
    handlers do not import each other.
    """

    context: ServerContext
    sessions: dict[int, Session]
    peer: str
    transport: str
    dialect: int
    cipher_id: int
    signing_algorithm: int
    preauth_hash: bytes

    def emit(self, event: events.Event) -> None: ...

    def forget_session(self, session_id: int) -> None: ...

    def close_session(self, session_id: int) -> None: ...

    def close_tree(self, owner: Session, tree_id: int) -> None: ...


def _new_session_id(existing: dict) -> int:
    while True:
        candidate = int.from_bytes(os.urandom(8), "little") & 0x0000FFFFFFFFFFFF
        if candidate and candidate not in existing:
            return candidate


def session_setup(conn: SessionHost, req: Request) -> Response:
    _size, flags, security_mode, _caps, _channel, blob_offset, blob_length, _previous = req.unpack(SETUP_REQUEST)
    if flags & 0x01:  # SMB2_SESSION_FLAG_BINDING: no multichannel here
        raise SMBError(STATUS_REQUEST_NOT_ACCEPTED, "session binding is not supported")
    token = bytes(req.buffer(blob_offset, blob_length))
    session_id = req.header.session_id
    if session_id == 0:
        if len(conn.sessions) >= conn.context.max_sessions_per_connection:
            raise SMBError(STATUS_REQUEST_NOT_ACCEPTED, "too many sessions on this connection")
        session = Session(_new_session_id(conn.sessions), conn.preauth_hash)
        conn.sessions[session.session_id] = session
    else:
        found = conn.sessions.get(session_id)
        if found is None:
            raise SMBError(STATUS_USER_SESSION_DELETED, "unknown session")
        session = found
        if session.valid and session.acceptor is None:
            _check_reauthentication_signed(session, req)
        if session.acceptor is None:  # re-authentication starts over from the connection's hash
            session.preauth_hash = conn.preauth_hash
    if conn.dialect == DIALECT_311:
        session.preauth_hash = crypto.preauth_update(session.preauth_hash, req.message)
    if session.acceptor is None:
        session.acceptor = NtlmAcceptor(users_file(conn.context.users_file).lookup)
    acceptor = session.acceptor
    try:
        out_token = acceptor.step(token) or b""
    except AnonymousLogon as logon:
        return _guest_or_refuse(conn, session, acceptor.anonymous_completion(logon))
    except Exception as error:  # SpnegoError, or any malformed token: a failed logon, never a server error
        _log_failed_login(conn, acceptor.user, error)
        conn.forget_session(session.session_id)
        raise SMBError(STATUS_LOGON_FAILURE, "authentication failed") from error
    body = SETUP_RESPONSE.pack(9, 0, 72, len(out_token)) + out_token
    if not acceptor.complete:

        def hash_response(packed: bytes) -> None:
            if conn.dialect == DIALECT_311:
                session.preauth_hash = crypto.preauth_update(session.preauth_hash, packed)

        return Response(STATUS_MORE_PROCESSING_REQUIRED, body, session_id=session.session_id, after_pack=hash_response)
    _activate(conn, session, acceptor.session_key, security_mode)
    session.user = acceptor.user
    session.acceptor = None
    conn.emit(events.SessionEstablished(session.session_id, session.user))
    return Response(STATUS_SUCCESS, body, session_id=session.session_id, force_sign=True)


def _check_reauthentication_signed(session: Session, req: Request) -> None:
    """A re-authentication of a session that signs must itself be signed (MS-SMB2 3.3.5.2.4), or anyone able to
    inject a packet could make the server re-run (and, failing, end) the session."""
    if req.encrypted or session.signer is None:
        return
    if not req.header.is_signed:
        if session.signing_required:
            raise SMBError(STATUS_ACCESS_DENIED, "unsigned re-authentication of a signed session")
        return
    if not session.signer.verify(req.message, message_id=req.header.message_id):
        raise SMBError(STATUS_ACCESS_DENIED, "bad signature on a re-authentication")


def _log_failed_login(conn: SessionHost, user: str, error: BaseException) -> None:
    """At info, so that fail2ban or an administrator can act on password guessing; never the password or hash."""
    reason = getattr(error, "message", None) or str(error) or type(error).__name__
    log.info(
        "login_failed",
        extra={
            "fields": {"user": user or "(none)", "client": conn.peer, "transport": conn.transport, "reason": reason}
        },
    )


def _activate(conn: SessionHost, session: Session, session_key: bytes, client_security_mode: int) -> None:
    signing_key, server_in, server_out = crypto.derive_session_keys(
        conn.dialect, session_key, session.preauth_hash, conn.cipher_id
    )
    session.signer = crypto.Signer(conn.signing_algorithm, signing_key)
    if conn.cipher_id and server_in and server_out:
        session.decryptor = crypto.Cipher(conn.cipher_id, server_in)
        session.encryptor = crypto.Cipher(conn.cipher_id, server_out)
    session.signing_required = conn.context.require_signing or bool(client_security_mode & 0x02)
    session.valid = True


def _guest_or_refuse(conn: SessionHost, session: Session, token: bytes) -> Response:
    if not any(share.guest_ok for share in conn.context.shares.values()):
        conn.forget_session(session.session_id)
        raise SMBError(STATUS_LOGON_FAILURE, "anonymous login refused: no share allows guests")
    session.valid = True
    session.is_guest = True
    session.acceptor = None
    conn.emit(events.SessionEstablished(session.session_id, ""))
    body = SETUP_RESPONSE.pack(9, SESSION_FLAG_IS_NULL, 72, len(token)) + token
    return Response(STATUS_SUCCESS, body, session_id=session.session_id)


def logoff(conn: SessionHost, req: Request) -> Response:
    assert req.session is not None
    conn.close_session(req.session.session_id)
    return Response(STATUS_SUCCESS, SIMPLE.pack(4, 0))


def tree_connect(conn: SessionHost, req: Request) -> Response:
    session = req.session
    assert session is not None
    _size, _flags, path_offset, path_length = req.unpack(TREE_CONNECT_REQUEST)
    path = from_utf16(req.buffer(path_offset, path_length))
    if not path.startswith("\\\\") or path.count("\\") != 3:
        raise SMBError(STATUS_INVALID_PARAMETER, "tree connect path is not \\\\server\\share")
    name = path.rsplit("\\", 1)[1]
    if name.upper() == "IPC$":
        share, encrypt, share_type, share_flags, access = (
            None,
            False,
            SHARE_TYPE_PIPE,
            SHAREFLAG_NO_CACHING,
            FULL_ACCESS,
        )
    else:
        share = conn.context.share(name)
        if share is None:
            raise SMBError(STATUS_BAD_NETWORK_NAME, f"no share named {name!r}")
        if session.is_guest and not share.guest_ok:
            raise SMBError(STATUS_ACCESS_DENIED, "guests may not use this share")
        if not share.admits(session.user, guest=session.is_guest):
            raise SMBError(STATUS_ACCESS_DENIED, f"user {session.user!r} is not in the share's valid_users")
        encrypt = share.encrypt
        if encrypt and (conn.dialect < DIALECT_300 or not conn.cipher_id or session.encryptor is None):
            raise SMBError(STATUS_ACCESS_DENIED, "this share requires SMB3 encryption")
        share_type, share_flags = SHARE_TYPE_DISK, 0
        read_only = share.read_only_for(session.user)
        access = READ_ONLY_ACCESS if read_only else FULL_ACCESS
        if encrypt:
            share_flags |= SHAREFLAG_ENCRYPT_DATA
    tree = Tree(session.next_tree_id, name.lower(), share, encrypt)
    tree.user_read_only = share is not None and share.read_only_for(session.user)
    session.next_tree_id += 1
    session.trees[tree.tree_id] = tree
    conn.emit(events.TreeConnected(session.session_id, tree.tree_id, tree.name))
    body = TREE_CONNECT_RESPONSE.pack(16, share_type, 0, share_flags, 0, access)
    return Response(STATUS_SUCCESS, body, tree_id=tree.tree_id)


def tree_disconnect(conn: SessionHost, req: Request) -> Response:
    assert req.session is not None and req.tree is not None
    conn.close_tree(req.session, req.tree.tree_id)
    return Response(STATUS_SUCCESS, SIMPLE.pack(4, 0))
