"""SESSION_SETUP, signing rules and TREE_CONNECT, driven without sockets."""

from __future__ import annotations

import logging
import os
import struct

import spnego

from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.events import SessionEstablished, TreeConnected
from pysmbd.core.users import nt_hash
from tests.support.accounts import CORE_PASSWORD as PASSWORD
from tests.support.accounts import CORE_USER as USER

from .wire_helpers import events, framed, login, responses, session_setup_request, tree_connect_request

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


def test_failed_logins_are_logged_at_info_with_user_and_client(context, caplog):
    """What fail2ban or an administrator needs to act on password guessing; never the password itself."""
    conn = SMBServerConnection(context, peer="192.0.2.7:50123")
    with caplog.at_level(logging.INFO, logger="pysmbd"):
        seen, _session_id = login(conn, USER, "guessed-wrong")
    assert seen[-1].status == STATUS_LOGON_FAILURE
    (record,) = [r for r in caplog.records if r.getMessage() == "login_failed"]
    assert record.levelno == logging.INFO
    assert record.fields["client"] == "192.0.2.7:50123"
    assert record.fields["user"].endswith(USER)
    assert "guessed-wrong" not in caplog.text


def test_unsigned_reauthentication_of_a_signing_session_is_refused_and_the_session_kept(context):
    conn = SMBServerConnection(context)
    _seen, session_id = login(conn, USER, PASSWORD)
    events(conn)
    token = spnego.client(USER, "wrong", protocol="negotiate").step()
    conn.receive_data(framed(session_setup_request(20, session_id, token)), now=2.0)
    (answer,) = responses(conn)
    assert answer.status == STATUS_ACCESS_DENIED
    assert conn.sessions[session_id].valid  # not torn down by an unsigned packet
    assert events(conn) == []


def test_an_unreadable_users_file_is_an_error_not_no_users(context, caplog):
    """Out of descriptors, the users file once read as "no users": every login failed silently."""
    good = context.users_file.read_text()
    with caplog.at_level(logging.INFO, logger="pysmbd"):
        seen, _session_id = login(SMBServerConnection(context), USER, PASSWORD)  # read once, remembered
        assert seen[-1].status == 0
        context.users_file.unlink()
        context.users_file.mkdir()  # stat works, reading fails
        seen, _session_id = login(SMBServerConnection(context), USER, PASSWORD)
        assert seen[-1].status == 0  # the earlier copy keeps serving
        errors = [r for r in caplog.records if r.getMessage() == "users_file_unreadable"]
        assert errors and errors[0].levelno == logging.ERROR and errors[0].fields["kept_earlier_copy"] is True
    context.users_file.rmdir()
    context.users_file.write_text(good.replace(nt_hash(PASSWORD).hex().upper(), nt_hash("N3w-pass").hex().upper()))
    assert login(SMBServerConnection(context), USER, PASSWORD)[0][-1].status == STATUS_LOGON_FAILURE
    assert login(SMBServerConnection(context), USER, "N3w-pass")[0][-1].status == 0  # a change is read again


def test_a_users_file_never_read_fails_logins_with_an_error(context, caplog, tmp_path):
    context.users_file = tmp_path / "a-directory"
    context.users_file.mkdir()
    with caplog.at_level(logging.INFO, logger="pysmbd"):
        seen, _session_id = login(SMBServerConnection(context), USER, PASSWORD)
    assert seen[-1].status == STATUS_LOGON_FAILURE
    assert [r.levelno for r in caplog.records if r.getMessage() == "users_file_unreadable"] == [logging.ERROR]
