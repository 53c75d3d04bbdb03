"""SESSION_SETUP, signing rules and TREE_CONNECT, driven without sockets."""

from __future__ import annotations

import os
import struct

from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.events import SessionEstablished, TreeConnected
from tests.support.accounts import CORE_PASSWORD as PASSWORD
from tests.support.accounts import CORE_USER as USER

from .wire_helpers import events, framed, login, responses, tree_connect_request

STATUS_LOGON_FAILURE = 0xC000006D
STATUS_ACCESS_DENIED = 0xC0000022
FLAG_SIGNED = 0x8


def test_login_signs_the_final_response_and_reports_the_user(context):
    conn = SMBServerConnection(context)
    seen, session_id = login(conn, USER, PASSWORD)
    assert [r.status for r in seen] == [0xC0000016, 0]
    assert seen[-1].flags & FLAG_SIGNED and seen[-1].signature != bytes(16)
    assert not seen[0].flags & FLAG_SIGNED
    assert events(conn) == [SessionEstablished(session_id, USER)]


def test_wrong_password_is_logon_failure(context):
    conn = SMBServerConnection(context)
    seen, _session_id = login(conn, USER, "not-it")
    assert seen[-1].status == STATUS_LOGON_FAILURE
    assert events(conn) == []
    assert conn.sessions == {}


def test_unsigned_request_is_refused_when_signing_is_required(context):
    conn = SMBServerConnection(context)
    _seen, session_id = login(conn, USER, PASSWORD)
    events(conn)
    conn.receive_data(framed(tree_connect_request(10, session_id, "\\\\srv\\share")), now=2.0)
    (answer,) = responses(conn)
    assert answer.status == STATUS_ACCESS_DENIED
    assert events(conn) == []


def test_tree_connect_without_required_signing(context):
    context.require_signing = False
    conn = SMBServerConnection(context)
    _seen, session_id = login(conn, USER, PASSWORD)
    events(conn)
    conn.receive_data(framed(tree_connect_request(10, session_id, "\\\\srv\\SHARE")), now=2.0)
    (answer,) = responses(conn)
    assert answer.status == 0
    assert struct.unpack_from("<B", answer.body, 2)[0] == 1  # disk share
    assert events(conn) == [TreeConnected(session_id, answer.tree_id, "share")]
    conn.receive_data(framed(tree_connect_request(11, session_id, "\\\\srv\\missing")), now=2.0)
    assert responses(conn)[0].status == 0xC00000CC  # STATUS_BAD_NETWORK_NAME


def test_close_reports_sessions_closed(context):
    conn = SMBServerConnection(context)
    _seen, _session_id = login(conn, USER, PASSWORD)
    events(conn)
    conn.close()
    assert [type(e).__name__ for e in events(conn)] == ["SessionClosed"]


def test_garbage_security_blob_is_a_logon_failure_not_a_crash(context):
    from .wire_helpers import negotiate_request, session_setup_request

    conn = SMBServerConnection(context)
    conn.receive_data(framed(negotiate_request()), now=1.0)
    responses(conn)
    for message_id, blob in enumerate((b"\x60\x03\x06\x01\x00", b"NTLMSSP\x00\x03" + bytes(40), os.urandom(300)), 1):
        conn.receive_data(framed(session_setup_request(message_id, 0, blob)), now=1.0)
        (answer,) = responses(conn)
        assert answer.status == STATUS_LOGON_FAILURE
    assert conn.sessions == {}
    assert events(conn) == []
