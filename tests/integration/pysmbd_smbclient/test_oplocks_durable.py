"""Oplocks and durable handles as a client sees them, with smbprotocol (an independent client library) on both ends.

smbtorture's smb2.lock.replay_smb3_specification_durable, smb2.durable-open and smb2.durable-v2-open
(test_smbtorture.py) cover the protocol details; these are the user's view: a second client's open breaks the first
client's batch oplock and both go on working, and a durable open outlives a dropped connection, locks included.
smbprotocol has no handler for a server's unsolicited OPLOCK_BREAK, so ``BreakListener`` waits for it in its place.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pytest
from smbprotocol.exceptions import SMBResponseException

from tests.support.accounts import THREADED_PASSWORD as PASSWORD
from tests.support.accounts import THREADED_USER as USER
from tests.support.smb_session import SmbSession

pytestmark = pytest.mark.peer

NOTIFICATION_MESSAGE_ID = 0xFFFFFFFFFFFFFFFF
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
WAIT = 30  # seconds: only a failsafe against a hung server (the break timeout is 35 s), never a measurement


class BreakListener:
    """Catches the next OPLOCK_BREAK notification smbprotocol's receiver thread gets on one connection."""

    def __init__(self, connection) -> None:
        from smbprotocol.connection import Request
        from smbprotocol.header import SMB2HeaderRequest

        placeholder = SMB2HeaderRequest()
        self._request = Request(placeholder, type(None), connection)
        connection.outstanding_requests[NOTIFICATION_MESSAGE_ID] = self._request

    def wait(self) -> tuple[int, bytes]:
        """(new oplock level, FileId) of the break."""
        assert self._request.response_event.wait(WAIT), "no OPLOCK_BREAK notification came"
        body = self._request.response["data"].get_value()
        return body[2], body[8:24]


def acknowledge(session: SmbSession, file_id: bytes, level: int = 0) -> int:
    """Send an OPLOCK_BREAK acknowledgment (MS-SMB2 2.2.24.1); returns the response's status."""
    from smbprotocol.header import Commands
    from smbprotocol.structure import BytesField, IntField, Structure

    class OplockBreakAcknowledgment(Structure):
        COMMAND = Commands.SMB2_OPLOCK_BREAK

        def __init__(self) -> None:
            self.fields = OrderedDict(
                [
                    ("structure_size", IntField(size=2, default=24)),
                    ("oplock_level", IntField(size=1, default=level)),
                    ("reserved", IntField(size=1)),
                    ("reserved2", IntField(size=4)),
                    ("file_id", BytesField(size=16, default=file_id)),
                ]
            )
            super().__init__()

    request = session.connection.send(
        OplockBreakAcknowledgment(), sid=session.session.session_id, tid=session.tree.tree_connect_id
    )
    try:
        session.connection.receive(request)
    except SMBResponseException as error:
        return error.status
    return 0


def open_with(session: SmbSession, name: str, *, oplock: int = 0, contexts=None, share: int = 0x7):
    from smbprotocol.open import CreateDisposition, FilePipePrinterAccessMask, ImpersonationLevel, Open

    handle = Open(session.tree, name)
    access = FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE
    answers = handle.create(
        ImpersonationLevel.Impersonation,
        access,
        0,
        share,
        CreateDisposition.FILE_OPEN_IF,
        0,
        create_contexts=contexts,
        oplock_level=oplock,
    )
    return handle, answers


def durable_request():
    from smbprotocol.create_contexts import (
        CreateContextName,
        SMB2CreateContextRequest,
        SMB2CreateDurableHandleRequest,
    )

    context = SMB2CreateContextRequest()
    context["buffer_name"] = CreateContextName.SMB2_CREATE_DURABLE_HANDLE_REQUEST
    context["buffer_data"] = SMB2CreateDurableHandleRequest()
    return context


def durable_reconnect(file_id: bytes):
    from smbprotocol.create_contexts import (
        CreateContextName,
        SMB2CreateContextRequest,
        SMB2CreateDurableHandleReconnect,
    )

    reconnect = SMB2CreateDurableHandleReconnect()
    reconnect["data"] = file_id
    context = SMB2CreateContextRequest()
    context["buffer_name"] = CreateContextName.SMB2_CREATE_DURABLE_HANDLE_RECONNECT
    context["buffer_data"] = reconnect
    return context


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
