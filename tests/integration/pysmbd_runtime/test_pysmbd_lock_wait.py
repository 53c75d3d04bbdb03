"""A LOCK that waits, against the installed pysmbd with smbprotocol: two users on two connections (the TCP adapter
sends the waiter's answer when the other connection frees the range), and SMB2 CANCEL."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.timeout(120)


def element(offset: int, length: int, flags: int):
    from smbprotocol.open import SMB2LockElement

    lock = SMB2LockElement()
    lock["offset"], lock["length"], lock["flags"] = offset, length, flags
    return lock


def send_waiting_lock(session, handle, offset: int, length: int):
    """Send an exclusive LOCK that may wait, and return smbprotocol's Request once the server answered it
    STATUS_PENDING (smbprotocol's receiver thread records the interim response's AsyncId on the Request)."""
    from smbprotocol.open import LockFlags

    message, _receive = handle.lock([element(offset, length, LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK)], send=False)
    request = session.connection.send(message, sid=session.session.session_id, tid=session.tree.tree_connect_id)
    for _wait in range(600):
        if request.async_id is not None:
            return request
        time.sleep(0.05)
    pytest.fail("no interim STATUS_PENDING response within 30 s")


@pytest.mark.parametrize("encrypt", [False, True], ids=["signed", "encrypted"])
def test_a_lock_waits_for_another_users_range_and_is_granted_when_it_is_unlocked(pysmbd_server, smb_sessions, encrypt):
    from smbprotocol.header import NtStatus
    from smbprotocol.open import LockFlags

    server = pysmbd_server()
    first, second = smb_sessions(server.ports[0]), smb_sessions(server.ports[0], encrypt=encrypt)
    mine = first.open_shared("db.bin", create=True)
    mine.write(b"\0" * 200, 0)
    theirs = second.open_shared("db.bin")
    exclusive_now = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
    mine.lock([element(100, 10, exclusive_now)])

    request = send_waiting_lock(second, theirs, 100, 10)
    assert request.response["status"].get_value() == NtStatus.STATUS_PENDING

    assert first.write_and_read("meanwhile.txt", b"others go on") == b"others go on"
    mine.lock([element(100, 10, LockFlags.SMB2_LOCKFLAG_UNLOCK)])
    final = second.connection.receive(request, wait=True, timeout=30)
    assert final["status"].get_value() == NtStatus.STATUS_SUCCESS
    # the waiter holds the range now: the first user is refused it
    from smbprotocol.exceptions import SMBResponseException

    with pytest.raises(SMBResponseException) as refused:
        mine.lock([element(105, 1, exclusive_now)])
    assert refused.value.status == 0xC0000055  # STATUS_LOCK_NOT_GRANTED (not in smbprotocol's NtStatus)


def test_a_waiting_lock_is_cancelled_by_smb2_cancel(pysmbd_server, smb_sessions):
    from smbprotocol.exceptions import SMBResponseException
    from smbprotocol.header import NtStatus
    from smbprotocol.open import LockFlags

    server = pysmbd_server()
    first, second = smb_sessions(server.ports[0]), smb_sessions(server.ports[0])
    mine = first.open_shared("cancel.bin", create=True)
    theirs = second.open_shared("cancel.bin")
    mine.lock([element(0, 1, LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY)])

    request = send_waiting_lock(second, theirs, 0, 1)
    request.cancel()
    with pytest.raises(SMBResponseException) as cancelled:
        second.connection.receive(request, wait=True, timeout=30)
    assert cancelled.value.status == NtStatus.STATUS_CANCELLED
    theirs.close()
    mine.close()
