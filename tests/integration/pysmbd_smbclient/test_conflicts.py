"""Two clients on one file: share modes and byte-range locks hold across sessions, as Samba enforces them.

One client holds the file through smbprotocol (an independent client library); the other is Samba's smbclient
or a second smbprotocol session. smbtorture's smb2.lock and smb2.sharemode (test_smbtorture.py) cover the
protocol details; these tests are the user's view: an open document cannot be overwritten or deleted under
its holder, and a locked record cannot be written by someone else.
"""

from __future__ import annotations

import pytest
from smbprotocol.exceptions import SMBResponseException

from tests.support.accounts import THREADED_PASSWORD as PASSWORD
from tests.support.accounts import THREADED_USER as USER
from tests.support.smb_session import SmbSession

pytestmark = pytest.mark.peer

STATUS_FILE_LOCK_CONFLICT = 0xC0000054


def test_a_held_file_cannot_be_overwritten_or_deleted_by_another_client(pysmbd_server):
    (pysmbd_server.workdir / "new.txt").write_text("replacement\n")
    holder = SmbSession(pysmbd_server.port, USER, PASSWORD, share="share")
    try:
        handle = holder.open_file("report.docx")  # read and write access; others may only read
        handle.write(b"draft", 0)
        put = pysmbd_server.smbclient("-c", "put new.txt report.docx")
        assert "NT_STATUS_SHARING_VIOLATION" in put.stdout + put.stderr
        delete = pysmbd_server.smbclient("-c", "del report.docx")
        assert "NT_STATUS_SHARING_VIOLATION" in delete.stdout + delete.stderr
        assert (pysmbd_server.share / "report.docx").read_bytes() == b"draft"
        got = pysmbd_server.smbclient("-c", "get report.docx copy.docx")  # reading is shared
        assert got.returncode == 0, got.stdout + got.stderr
        handle.close()
    finally:
        holder.close()
    put = pysmbd_server.smbclient("-c", "put new.txt report.docx")
    assert put.returncode == 0, put.stdout + put.stderr
    assert (pysmbd_server.share / "report.docx").read_text() == "replacement\n"


def test_a_locked_range_cannot_be_written_by_another_client(pysmbd_server):
    from smbprotocol.open import LockFlags, SMB2LockElement

    (pysmbd_server.share / "ledger.db").write_bytes(bytes(4096))
    first = SmbSession(pysmbd_server.port, USER, PASSWORD, share="share")
    second = SmbSession(pysmbd_server.port, USER, PASSWORD, share="share")
    try:
        mine = first.open_shared("ledger.db")
        theirs = second.open_shared("ledger.db")
        element = SMB2LockElement()
        element["offset"], element["length"] = 1024, 512
        element["flags"] = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
        mine.lock([element])
        with pytest.raises(SMBResponseException) as refused:
            theirs.write(b"x" * 16, 1100)
        assert refused.value.status == STATUS_FILE_LOCK_CONFLICT
        assert theirs.write(b"y" * 16, 2048) == 16  # outside the range
        assert mine.write(b"z" * 16, 1100) == 16  # the owner writes
        mine.close()  # closing releases the lock
        assert theirs.write(b"x" * 16, 1100) == 16
        theirs.close()
    finally:
        first.close()
        second.close()
