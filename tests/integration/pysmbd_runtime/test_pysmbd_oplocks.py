"""Oplock breaks and durable handles through the installed pysmbd's TCP adapter (signed and encrypted sessions):
the break notification reaches the holder while the other client's CREATE waits, and a durable open is reclaimed
after its connection dropped."""

from __future__ import annotations

import threading

import pytest

from tests.support.oplock_client import WAIT, BreakListener, acknowledge, durable_reconnect, durable_request, open_with

pytestmark = pytest.mark.timeout(120)
BATCH, LEVEL_II = 0x09, 0x01


@pytest.mark.parametrize("encrypt", [False, True], ids=["signed", "encrypted"])
def test_a_batch_oplock_is_broken_for_another_users_open_and_both_go_on(pysmbd_server, smb_sessions, encrypt):
    server = pysmbd_server()
    holder = smb_sessions(server.ports[0], encrypt=encrypt)
    other = smb_sessions(server.ports[0], encrypt=encrypt)
    listener = BreakListener(holder.connection)
    mine, _answers = open_with(holder, "doc.txt", oplock=BATCH)
    assert mine.oplock_level == BATCH
    mine.write(b"flushed before the ack", 0)
    opened: dict = {}
    waiting = threading.Thread(target=lambda: opened.update(handle=open_with(other, "doc.txt")[0]))
    waiting.start()
    assert listener.wait() == (LEVEL_II, mine.file_id)
    assert acknowledge(holder, mine.file_id, LEVEL_II) == 0
    waiting.join(WAIT)
    theirs = opened["handle"]
    assert theirs.read(0, 22) == b"flushed before the ack"
    mine.close()
    theirs.close()


def test_a_durable_open_is_reclaimed_after_its_connection_dropped(pysmbd_server, smb_sessions):
    server = pysmbd_server()
    first = smb_sessions(server.ports[0])
    mine, _answers = open_with(first, "kept.txt", oplock=BATCH, contexts=[durable_request()], share=0)
    mine.write(b"still here", 0)
    file_id = mine.file_id
    first.connection.disconnect(close=False)
    again = smb_sessions(server.ports[0])
    back, _answers = open_with(again, "kept.txt", contexts=[durable_reconnect(file_id)])
    assert back.file_id == file_id and back.oplock_level == BATCH
    assert back.read(0, 10) == b"still here"
    back.close()
