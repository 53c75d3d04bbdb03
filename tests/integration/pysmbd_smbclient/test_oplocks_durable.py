"""Oplocks and durable handles as a client sees them, with smbprotocol (an independent client library) on both ends.

smbtorture's smb2.lock.replay_smb3_specification_durable, smb2.durable-open and smb2.durable-v2-open
(test_smbtorture.py) cover the protocol details; these are the user's view: a second client's open breaks the first
client's batch oplock and both go on working, and a durable open outlives a dropped connection, locks included.
smbprotocol has no handler for a server's unsolicited OPLOCK_BREAK: ``tests/support/oplock_client.py`` stands in.
"""

from __future__ import annotations

import threading

import pytest
from smbprotocol.exceptions import SMBResponseException

from tests.support.accounts import THREADED_PASSWORD as PASSWORD
from tests.support.accounts import THREADED_USER as USER
from tests.support.oplock_client import WAIT, BreakListener, acknowledge, durable_reconnect, durable_request, open_with
from tests.support.smb_session import SmbSession

pytestmark = pytest.mark.peer


def test_a_second_client_breaks_the_first_clients_batch_oplock_and_both_keep_working(pysmbd_server):
    from smbprotocol.open import RequestedOplockLevel

    (pysmbd_server.share / "notes.txt").write_bytes(b"0123456789")
    holder = SmbSession(pysmbd_server.port, USER, PASSWORD, share="share")
    other = SmbSession(pysmbd_server.port, USER, PASSWORD, share="share")
    try:
        listener = BreakListener(holder.connection)
        mine, _answers = open_with(holder, "notes.txt", oplock=RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH)
        assert mine.oplock_level == RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH
        mine.write(b"cached", 0)  # what a caching client flushes before it acknowledges

        opened: dict = {}
        second_open = threading.Thread(target=lambda: opened.update(handle=open_with(other, "notes.txt")[0]))
        second_open.start()
        level, file_id = listener.wait()
        assert (level, file_id) == (RequestedOplockLevel.SMB2_OPLOCK_LEVEL_II, mine.file_id)
        assert "handle" not in opened  # the second open waits for the holder
        assert acknowledge(holder, mine.file_id) == 0
        second_open.join(WAIT)
        theirs = opened["handle"]
        assert theirs.oplock_level == 0
        assert theirs.read(0, 10) == b"cached6789"
        theirs.write(b"X", 9)
        assert mine.read(0, 10) == b"cached678X"  # both handles work on the same file
        theirs.close()
        mine.close()
    finally:
        other.close()
        holder.close()


def test_a_durable_open_survives_a_dropped_connection_and_is_reclaimed_with_its_lock(pysmbd_server):
    from smbprotocol.open import LockFlags, RequestedOplockLevel, SMB2LockElement

    (pysmbd_server.share / "ledger.db").write_bytes(bytes(4096))
    first = SmbSession(pysmbd_server.port, USER, PASSWORD, share="share")
    mine, answers = open_with(
        first, "ledger.db", oplock=RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH, contexts=[durable_request()], share=0
    )
    from smbprotocol.create_contexts import SMB2CreateDurableHandleResponse

    assert any(isinstance(answer, SMB2CreateDurableHandleResponse) for answer in answers or []), "not durable"
    element = SMB2LockElement()
    element["offset"], element["length"] = 1024, 512
    element["flags"] = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
    mine.lock([element])
    mine.write(b"committed", 1024)
    file_id = mine.file_id
    first.connection.disconnect(close=False)  # the network drops: no CLOSE, no LOGOFF

    again = SmbSession(pysmbd_server.port, USER, PASSWORD, share="share")
    try:
        back, _answers = open_with(again, "ignored", contexts=[durable_reconnect(file_id)])
        assert back.file_id == file_id
        assert back.oplock_level == RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH
        assert back.read(1024, 9) == b"committed"
        element["flags"] = LockFlags.SMB2_LOCKFLAG_UNLOCK
        back.lock([element])  # the lock came back with the open: unlocking it succeeds
        with pytest.raises(SMBResponseException):
            back.lock([element])  # and it is gone now
        back.close()
    finally:
        again.close()
