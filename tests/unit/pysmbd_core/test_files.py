"""File operations through the core with no sockets: compounds, path rules, limits, and metadata."""

from __future__ import annotations

import os
import struct

import pytest

from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.context import ShareConfig
from tests.support.accounts import CORE_PASSWORD as PASSWORD
from tests.support.accounts import CORE_USER as USER

from .wire_helpers import (
    ANY_FILE_ID,
    FLAG_RELATED,
    close_request,
    compound,
    create_request,
    file_id_of,
    framed,
    header,
    open_tree,
    read_request,
    responses,
    write_request,
)

STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_FILE_CLOSED = 0xC0000128
STATUS_END_OF_FILE = 0xC0000011
STATUS_USER_SESSION_DELETED = 0xC0000203
STATUS_DELETE_PENDING = 0xC0000056
FULL = 0x001F01FF  # FILE_ALL_ACCESS, DELETE included


@pytest.fixture
def tree(context):
    context.require_signing = False  # these tests build unsigned requests by hand
    conn = SMBServerConnection(context)
    session_id, tree_id = open_tree(conn, USER, PASSWORD)
    return conn, session_id, tree_id, context.shares["share"].path


def send(conn, message: bytes):
    conn.receive_data(framed(message), now=5.0)
    return responses(conn)


def test_related_create_write_close_compound(tree):
    conn, sid, tid, root = tree
    chain = compound(
        create_request(60, sid, tid, "new.txt", disposition=2),
        write_request(61, sid, tid, ANY_FILE_ID, b"compounded", flags=FLAG_RELATED),
        close_request(62, sid, tid, ANY_FILE_ID, flags=FLAG_RELATED),
    )
    answers = send(conn, chain)
    assert [(a.command, a.status) for a in answers] == [(5, 0), (9, 0), (6, 0)]
    assert answers[0].next_command and answers[1].next_command and not answers[2].next_command
    assert (root / "new.txt").read_bytes() == b"compounded"
    assert conn.opens == {}


def test_failed_create_fails_the_related_requests(tree):
    conn, sid, tid, _root = tree
    chain = compound(
        create_request(60, sid, tid, "missing.txt", disposition=1),
        close_request(61, sid, tid, ANY_FILE_ID, flags=FLAG_RELATED),
    )
    assert [a.status for a in send(conn, chain)] == [STATUS_OBJECT_NAME_NOT_FOUND] * 2


def test_read_back_what_was_written_at_an_offset(tree):
    conn, sid, tid, root = tree
    (created,) = send(conn, create_request(60, sid, tid, "data.bin", disposition=2))
    file_id = file_id_of(created)
    assert send(conn, write_request(61, sid, tid, file_id, b"world", offset=6))[0].status == 0
    assert send(conn, write_request(62, sid, tid, file_id, b"hello "))[0].status == 0
    (read,) = send(conn, read_request(63, sid, tid, file_id, 100))
    offset, length = struct.unpack_from("<BxI", read.body, 2)
    assert read.raw[offset : offset + length] == b"hello world"
    assert send(conn, read_request(64, sid, tid, file_id, 10, offset=11))[0].status == 0xC0000011  # END_OF_FILE
    send(conn, close_request(65, sid, tid, file_id))
    assert (root / "data.bin").read_bytes() == b"hello world"


def test_names_are_matched_ignoring_case(tree):
    conn, sid, tid, root = tree
    (root / "Report.TXT").write_text("q3")
    (root / "Dir").mkdir()
    (root / "Dir" / "Inner.txt").write_text("x")
    assert send(conn, create_request(60, sid, tid, "report.txt", disposition=1))[0].status == 0
    assert send(conn, create_request(61, sid, tid, "dir\\INNER.TXT", disposition=1))[0].status == 0
    assert sorted(p.name for p in root.iterdir()) == ["Dir", "Report.TXT"]


@pytest.mark.parametrize("name", ["..\\outside.txt", "a\\..\\..\\outside.txt", "C:\\outside.txt", "\\\\host\\x"])
def test_traversal_is_refused_before_touching_the_disk(tree, name):
    conn, sid, tid, root = tree
    (answer,) = send(conn, create_request(60, sid, tid, name, disposition=2))
    assert answer.status >= 0xC0000000
    assert not (root.parent / "outside.txt").exists()
    assert list(root.iterdir()) == []


def test_symlink_inside_the_share_is_not_followed(tree, tmp_path):
    conn, sid, tid, root = tree
    target = tmp_path / "secret.txt"
    target.write_text("secret")
    os.symlink(target, root / "link.txt")
    os.symlink(tmp_path, root / "linkdir")
    assert send(conn, create_request(60, sid, tid, "link.txt", disposition=1))[0].status == STATUS_ACCESS_DENIED
    assert send(conn, create_request(61, sid, tid, "linkdir\\secret.txt", disposition=1))[0].status >= 0xC0000000
    assert conn.opens == {}


def test_read_only_share_refuses_to_create(context):
    context.require_signing = False
    context.shares["share"] = ShareConfig("share", context.shares["share"].path, read_only=True)
    conn = SMBServerConnection(context)
    sid, tid = open_tree(conn, USER, PASSWORD)
    assert send(conn, create_request(60, sid, tid, "x.txt", disposition=2))[0].status == STATUS_ACCESS_DENIED
    assert list(context.shares["share"].path.iterdir()) == []


def test_open_limit_per_connection(tree, context):
    conn, sid, tid, _root = tree
    context.max_opens_per_connection = 2
    statuses = [send(conn, create_request(60 + i, sid, tid, f"f{i}", disposition=2))[0].status for i in range(3)]
    assert statuses == [0, 0, STATUS_INSUFFICIENT_RESOURCES]
    assert len(conn.opens) == 2


def test_creation_time_survives_writes(tree):
    """Linux keeps no birth time in stat; the core stores one so Windows' "Date created" stays put."""
    conn, sid, tid, root = tree
    (created,) = send(conn, create_request(60, sid, tid, "t.txt", disposition=2))
    creation = struct.unpack_from("<Q", created.body, 8)[0]
    file_id = file_id_of(created)
    send(conn, close_request(61, sid, tid, file_id))
    stat = os.stat(root / "t.txt")
    os.utime(root / "t.txt", ns=(stat.st_atime_ns - 10**12, stat.st_mtime_ns - 10**12))  # older than creation
    (reopened,) = send(conn, create_request(62, sid, tid, "t.txt", disposition=1))
    assert struct.unpack_from("<Q", reopened.body, 8)[0] == creation


def test_failure_after_a_create_does_not_skip_the_related_close(tree):
    """smbclient sends CREATE + QUERY_INFO + CLOSE: a failing middle request must not leak the open."""
    conn, sid, tid, root = tree
    (root / "f.txt").write_text("x")
    bad_write = write_request(61, sid, tid, ANY_FILE_ID, b"y", offset=1 << 63, flags=FLAG_RELATED)
    chain = compound(
        create_request(60, sid, tid, "f.txt", disposition=1),
        bad_write,
        close_request(62, sid, tid, ANY_FILE_ID, flags=FLAG_RELATED),
    )
    assert [a.status for a in send(conn, chain)] == [0, 0xC000000D, 0]
    assert conn.opens == {}


def test_a_compound_that_starts_related_fails_its_chain(tree):
    """MS-SMB2 3.3.5.2.7.2 (smbtorture compound.invalid1, related9): the first request must not be related; the
    related requests after it fail too, even with a real FileId, and an unrelated one runs on its own."""
    conn, sid, tid, root = tree
    (created,) = send(conn, create_request(59, sid, tid, "kept.txt", disposition=2))
    kept = file_id_of(created)
    chain = compound(
        create_request(60, sid, tid, "never.txt", disposition=2, flags=FLAG_RELATED),
        close_request(61, sid, tid, kept, flags=FLAG_RELATED),
        close_request(62, sid, tid, ANY_FILE_ID),
    )
    statuses = [a.status for a in send(conn, chain)]
    assert statuses == [STATUS_INVALID_PARAMETER, STATUS_INVALID_PARAMETER, STATUS_FILE_CLOSED]
    assert not (root / "never.txt").exists()
    assert kept in conn.opens  # the related CLOSE did not run


def test_related_request_after_an_unknown_session_is_invalid(tree):
    """compound.invalid2: a related request inherits the session of the one before, yet none from a request
    that found no session: that is STATUS_INVALID_PARAMETER (3.3.5.2.7.2), not USER_SESSION_DELETED."""
    conn, sid, tid, _root = tree
    unknown = 0xFFFFFFFFFFFFFFFF
    chain = compound(
        create_request(60, sid, tid, "s.txt", disposition=2),
        close_request(61, unknown, 0xFFFFFFFF, ANY_FILE_ID, flags=FLAG_RELATED),
        close_request(62, unknown, 0xFFFFFFFF, ANY_FILE_ID),
        close_request(63, unknown, 0xFFFFFFFF, ANY_FILE_ID, flags=FLAG_RELATED),
    )
    statuses = [a.status for a in send(conn, chain)]
    assert statuses == [0, 0, STATUS_USER_SESSION_DELETED, STATUS_INVALID_PARAMETER]
    assert conn.opens == {}


def test_related_requests_after_a_failed_read(tree):
    """compound.invalid4 and related5: a failure on a FileId is shared by the related request that names the
    same FileId, while an unknown command is answered STATUS_INVALID_PARAMETER on its own."""
    conn, sid, tid, _root = tree
    (created,) = send(conn, create_request(59, sid, tid, "empty.txt", disposition=2))
    file_id = file_id_of(created)
    bogus = header(0xFF, 61, session_id=sid, tree_id=tid, flags=FLAG_RELATED) + struct.pack("<HH", 4, 0)
    answers = send(conn, compound(read_request(60, sid, tid, file_id, 1), bogus))
    assert [a.status for a in answers] == [STATUS_END_OF_FILE, STATUS_INVALID_PARAMETER]
    answers = send(
        conn,
        compound(
            read_request(62, sid, tid, ANY_FILE_ID, 1), close_request(63, sid, tid, ANY_FILE_ID, flags=FLAG_RELATED)
        ),
    )
    assert [a.status for a in answers] == [STATUS_FILE_CLOSED, STATUS_FILE_CLOSED]


def set_disposition_request(message_id: int, sid: int, tid: int, file_id: bytes, delete: bool) -> bytes:
    """SET_INFO FileDispositionInformation (MS-SMB2 2.2.39, MS-FSCC 2.4.11)."""
    body = struct.pack("<HBBIHHI16s", 33, 1, 13, 1, 64 + 32, 0, 0, file_id) + bytes([delete])
    return header(0x11, message_id, session_id=sid, tree_id=tid) + body


def delete_pending_of(conn, message_id: int, sid: int, tid: int, file_id: bytes) -> int:
    """QUERY_INFO FileStandardInformation's DeletePending (MS-SMB2 2.2.37, MS-FSCC 2.4.41)."""
    body = struct.pack("<HBBIHHIII16s", 41, 1, 5, 24, 0, 0, 0, 0, 0, file_id) + b"\x00"
    (answer,) = send(conn, header(0x10, message_id, session_id=sid, tree_id=tid) + body)
    assert answer.status == 0, hex(answer.status)
    offset = struct.unpack_from("<H", answer.body, 2)[0]
    return answer.raw[offset + 20]


def test_delete_waits_for_the_last_open(tree):
    """smbtorture dir.modify: a delete set through one handle happens when the file's last open closes
    (MS-FSA 2.1.5.4); meanwhile the file stays listed, the other handle sees DeletePending and a new open gets
    STATUS_DELETE_PENDING."""
    conn, sid, tid, root = tree
    (first,) = send(conn, create_request(60, sid, tid, "busy.txt", disposition=2, access=FULL))
    (second,) = send(conn, create_request(61, sid, tid, "busy.txt", disposition=1, access=FULL))
    kept, deleter = file_id_of(first), file_id_of(second)
    assert send(conn, set_disposition_request(62, sid, tid, deleter, True))[0].status == 0
    assert send(conn, close_request(63, sid, tid, deleter))[0].status == 0
    assert (root / "busy.txt").exists()
    assert delete_pending_of(conn, 64, sid, tid, kept) == 1
    assert send(conn, create_request(65, sid, tid, "busy.txt", disposition=1))[0].status == STATUS_DELETE_PENDING
    assert send(conn, close_request(66, sid, tid, kept))[0].status == 0
    assert not (root / "busy.txt").exists()
    assert conn.context.open_files == {}


def test_cleared_disposition_keeps_the_file(tree):
    """FileDispositionInformation with DeleteFile FALSE clears the pending delete for every open (2.1.5.14.3)."""
    conn, sid, tid, root = tree
    (first,) = send(conn, create_request(60, sid, tid, "stay.txt", disposition=2, access=FULL))
    (second,) = send(conn, create_request(61, sid, tid, "stay.txt", disposition=1, access=FULL))
    first_id, second_id = file_id_of(first), file_id_of(second)
    assert send(conn, set_disposition_request(62, sid, tid, first_id, True))[0].status == 0
    assert send(conn, set_disposition_request(63, sid, tid, second_id, False))[0].status == 0
    send(conn, close_request(64, sid, tid, first_id))
    send(conn, close_request(65, sid, tid, second_id))
    assert (root / "stay.txt").exists()
