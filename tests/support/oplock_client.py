"""Oplock and durable-handle requests with smbprotocol, which has no API for them: a catcher for the server's
OPLOCK_BREAK notification, the acknowledgment, and CREATEs with an oplock and durable create contexts."""

from __future__ import annotations

from collections import OrderedDict

from smbprotocol.exceptions import SMBResponseException

from tests.support.smb_session import SmbSession

NOTIFICATION_MESSAGE_ID = 0xFFFFFFFFFFFFFFFF
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
