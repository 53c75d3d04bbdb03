"""``[server] workers = 2``: two worker processes behind one server, as a user of it sees them.

Connections land on a worker chosen by the kernel (SO_REUSEPORT); each test opens connections until it has one on
each worker, telling them apart by the workers' own status files (``<state_dir>/workers/N.json``, which count the
connections of their process). Then: share modes and byte-range locks hold between the two, a reload opens and
closes listeners in both without dropping a client, a killed worker is started again while the other keeps
serving, and ``pysmbd status`` sums both.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Dict, List, Tuple

import pytest
from smbprotocol.exceptions import SMBResponseException

from tests.support.net import free_tcp_ports
from tests.support.peers import process_alive
from tests.support.pysmbd_server import run_pysmbd
from tests.support.smb_session import SmbSession

pytestmark = pytest.mark.peer

STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
STATUS_LOCK_NOT_GRANTED = 0xC0000055


def worker_documents(server) -> Dict[int, dict]:
    documents = {}
    for index in range(2):
        try:
            documents[index] = json.loads((server.state_dir / "workers" / f"{index}.json").read_text())
        except (FileNotFoundError, ValueError):
            continue
    return documents


def connections_per_worker(server) -> Dict[int, int]:
    return {index: document["connections"] for index, document in worker_documents(server).items()}


def wait_for(predicate, timeout: float = 10.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {timeout:g} s")


def one_session_per_worker(server, smb_sessions, port=None) -> Tuple[SmbSession, SmbSession]:
    """Connect until two sessions are on different workers: (on worker 0, on worker 1)."""
    found: Dict[int, SmbSession] = {}
    for _attempt in range(40):
        before = connections_per_worker(server)
        session = smb_sessions(port or server.tcp_port)

        def counted(before: Dict[int, int] = before) -> Dict[int, int]:
            now = connections_per_worker(server)
            return now if sum(now.values()) == sum(before.values()) + 1 else {}

        after = wait_for(counted, what="a worker counting the new connection")
        worker = next(index for index in after if after[index] > before.get(index, 0))
        found.setdefault(worker, session)
        if len(found) == 2:
            return found[0], found[1]
    pytest.fail(f"40 connections all landed on worker {list(found)}: the kernel did not spread them")


@pytest.fixture
def two_workers(pysmbd_server):
    server = pysmbd_server(server="workers = 2\nmax_connections_per_address = 0")
    wait_for(lambda: len(worker_documents(server)) == 2, what="both workers writing their status")
    return server


def test_a_file_held_through_one_worker_cannot_be_overwritten_through_the_other(two_workers, smb_sessions):
    (two_workers.share / "report.docx").write_bytes(b"draft")
    first, second = one_session_per_worker(two_workers, smb_sessions)
    handle = first.open_file("report.docx", write=False)  # reading, shared with readers only
    with pytest.raises(SMBResponseException) as refused:
        second.open_shared("report.docx")
    assert refused.value.status == STATUS_SHARING_VIOLATION
    reader = second.open_file("report.docx", write=False)  # reading is shared
    reader.close()
    handle.close()
    second.open_shared("report.docx").close()  # the holder is gone: writing works
    assert (two_workers.share / "report.docx").read_bytes() == b"draft"


def test_a_range_locked_through_one_worker_cannot_be_written_through_the_other(two_workers, smb_sessions):
    from smbprotocol.open import LockFlags, SMB2LockElement

    (two_workers.share / "ledger.db").write_bytes(bytes(4096))
    first, second = one_session_per_worker(two_workers, smb_sessions)
    mine, theirs = first.open_shared("ledger.db"), second.open_shared("ledger.db")
    element = SMB2LockElement()
    element["offset"], element["length"] = 1024, 512
    element["flags"] = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
    mine.lock([element])
    with pytest.raises(SMBResponseException) as refused:
        theirs.write(b"x" * 16, 1100)
    assert refused.value.status == STATUS_FILE_LOCK_CONFLICT
    with pytest.raises(SMBResponseException) as refused:
        theirs.read(1100, 16)
    assert refused.value.status == STATUS_FILE_LOCK_CONFLICT
    with pytest.raises(SMBResponseException) as refused:
        theirs.lock([element])
    assert refused.value.status in (STATUS_LOCK_NOT_GRANTED, STATUS_FILE_LOCK_CONFLICT)
    assert theirs.write(b"y" * 16, 2048) == 16  # outside the range
    assert mine.write(b"z" * 16, 1100) == 16  # the owner writes
    mine.close()  # closing releases the lock, in the other worker too
    assert theirs.write(b"x" * 16, 1100) == 16
    theirs.close()


def test_a_waiting_lock_is_granted_when_the_other_worker_unlocks(two_workers, smb_sessions):
    """The worker of the waiting LOCK never hears of the other worker's unlock: it looks again (every 0.2 s)."""
    from smbprotocol.header import NtStatus
    from smbprotocol.open import LockFlags

    from tests.integration.pysmbd_runtime.test_pysmbd_lock_wait import element, send_waiting_lock

    (two_workers.share / "queue.db").write_bytes(bytes(4096))
    first, second = one_session_per_worker(two_workers, smb_sessions)
    mine, theirs = first.open_shared("queue.db"), second.open_shared("queue.db")
    mine.lock([element(0, 100, LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY)])
    request = send_waiting_lock(second, theirs, 0, 100)
    assert request.response["status"].get_value() == NtStatus.STATUS_PENDING
    mine.lock([element(0, 100, LockFlags.SMB2_LOCKFLAG_UNLOCK)])
    final = second.connection.receive(request, wait=True, timeout=30)
    assert final["status"].get_value() == NtStatus.STATUS_SUCCESS
    with pytest.raises(SMBResponseException) as refused:  # the waiter holds the range now
        mine.write(b"x", 10)
    assert refused.value.status == STATUS_FILE_LOCK_CONFLICT


def test_a_reload_opens_and_closes_listeners_in_every_worker_without_dropping_clients(two_workers, smb_sessions):
    first, second = one_session_per_worker(two_workers, smb_sessions)
    old_port, new_port = two_workers.tcp_port, free_tcp_ports(1)[0]
    two_workers.write_config([old_port, new_port])
    done = two_workers.reload()
    assert done.returncode == 0, done.stdout + done.stderr
    for document in worker_documents(two_workers).values():
        assert {row["port"] for row in document["listeners"]} == {old_port, new_port}
    on_new = one_session_per_worker(two_workers, smb_sessions, port=new_port)  # both workers accept on it
    two_workers.write_config([new_port])
    done = two_workers.reload()
    assert done.returncode == 0, done.stdout + done.stderr
    assert two_workers.listening_ports() == [new_port]
    for session in (first, second, *on_new):  # the clients of the removed port and of the new one carry on
        assert session.write_and_read("after-reload.txt", b"still here") == b"still here"
    with pytest.raises(ValueError, match="Connection refused"):  # no worker listens on the removed port
        SmbSession(old_port, "nobody", "x")


def test_a_killed_worker_is_started_again_while_the_other_serves(two_workers, smb_sessions):
    from smbprotocol.open import LockFlags

    from tests.integration.pysmbd_runtime.test_pysmbd_lock_wait import element

    (two_workers.share / "held.db").write_bytes(bytes(100))
    first, second = one_session_per_worker(two_workers, smb_sessions)
    now = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
    second.open_shared("held.db").lock([element(0, 10, now)])  # held by worker 1's client
    mine = first.open_shared("held.db")
    with pytest.raises(SMBResponseException):
        mine.lock([element(0, 10, now)])
    victim = worker_documents(two_workers)[1]["pid"]
    os.kill(victim, signal.SIGKILL)
    assert first.write_and_read("survivor.txt", b"served by worker 0") == b"served by worker 0"
    wait_for(lambda: not process_alive(victim), what="worker 1 gone")
    mine.lock([element(0, 10, now)])  # its client's lock went with it
    mine.close()
    reborn = wait_for(
        lambda: (worker_documents(two_workers).get(1) or {}).get("pid") not in (None, victim),
        what="worker 1 started again",
    )
    assert reborn
    status = two_workers.status()
    assert [row["pid"] for row in status["workers"]][1] not in (None, victim)
    sessions: List[SmbSession] = [smb_sessions(two_workers.tcp_port) for _session in range(6)]
    for session in sessions:
        assert session.write_and_read("after.txt", b"ok") == b"ok"


def test_status_sums_the_workers(two_workers, smb_sessions):
    one_session_per_worker(two_workers, smb_sessions)
    per_worker = connections_per_worker(two_workers)
    assert per_worker[0] >= 1 and per_worker[1] >= 1
    opened = sum(per_worker.values())

    def summed() -> dict:
        status = two_workers.status()
        return status if status["connections"] == opened else {}

    status = wait_for(summed, what="summed status")
    assert status["sessions"] == opened
    assert status["pid"] == two_workers.pid()
    assert len(status["workers"]) == 2
    assert [row["state"] for row in status["listeners"]] == ["listening"]
    shown = run_pysmbd("status", "--config", str(two_workers.config))
    assert shown.returncode == 0 and "workers: 2 (pids " in shown.stdout, shown.stdout + shown.stderr


def test_workers_stop_with_a_killed_supervisor_and_free_the_port(two_workers):
    """No orphan worker keeps serving (or holding the port) once its supervisor is gone, even by SIGKILL."""
    pids = [document["pid"] for document in worker_documents(two_workers).values()]
    os.kill(two_workers.pid(), signal.SIGKILL)
    wait_for(lambda: not any(process_alive(pid) for pid in pids), what="the workers stopping")
    with pytest.raises(ValueError, match="Connection refused"):
        SmbSession(two_workers.tcp_port, "nobody", "x")


def test_smb_over_quic_is_served_by_the_first_worker(tmp_path):
    """QUIC with two workers: the first worker owns the UDP port (a QUIC connection's datagrams must all reach one
    process), the status shows it listening, and a client works over it beside TCP."""
    from ansible_collections.smb.alternative_ports.plugins.module_utils._smb_over_quic import connect_smb_over_quic
    from tests.support.accounts import QUIC_PASSWORD, QUIC_USER
    from tests.support.net import free_port, free_udp_port
    from tests.support.pysmbd_server import start_pysmbd, stopped_at_exit

    with stopped_at_exit() as started:
        server = start_pysmbd(
            tmp_path / "pysmbd",
            QUIC_USER,
            QUIC_PASSWORD,
            [free_port()],
            quic=True,
            quic_port=free_udp_port(),
            server_settings="workers = 2",
            mode="child",  # ``pysmbd serve``, which runs the supervisor
        )
        started.append(server)
        wait_for(lambda: len(worker_documents(server)) == 2, what="both workers writing their status")
        transports = {
            index: {row["transport"] for row in doc["listeners"]} for index, doc in worker_documents(server).items()
        }
        assert transports == {0: {"tcp", "quic"}, 1: {"tcp"}}
        assert {row["transport"]: row["state"] for row in server.status()["listeners"]} == {
            "tcp": "listening",
            "quic": "listening",
        }
        cafile = str(server.certificate.certificate)
        session = SmbSession(
            server.quic_port,
            QUIC_USER,
            QUIC_PASSWORD,
            connect=lambda connection: connect_smb_over_quic(connection, 10, cafile=cafile),
        )
        try:
            assert session.write_and_read("over-quic.txt", b"by worker 0") == b"by worker 0"
        finally:
            session.close()
