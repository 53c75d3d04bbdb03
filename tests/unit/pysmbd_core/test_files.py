"""File operations through the core with no sockets: compounds, path rules, limits, and metadata."""

from __future__ import annotations

import os
import struct

import pytest

from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.context import ShareConfig

from .conftest import PASSWORD, USER
from .wire_helpers import (
    ANY_FILE_ID,
    FLAG_RELATED,
    close_request,
    compound,
    create_request,
    file_id_of,
    framed,
    open_tree,
    read_request,
    responses,
    write_request,
)

STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_INSUFFICIENT_RESOURCES = 0xC000009A


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
