"""The core asks for memory before each frame (``memory_gate``) and counts what it holds (``memory_in_use``).

Many READs pipelined in one receive (what a client that never reads its socket sends) are answered only while the
connection's budget allows; the rest wait, in order, until its responses are taken, and then all are answered.
"""

from __future__ import annotations

from pysmbd.core.connection import frame_answer_cost
from pysmbd.server.budget import MemoryBudget

from .wire_helpers import compound, framed, read_request, responses

KIB = 1024
MIB = 1024 * KIB
READ_SIZE = 64 * KIB


def gated(client, per_connection):
    """Wire ``client``'s core to a budget as the TCP adapter does (its own sent queue is empty here)."""
    conn = client.conn
    budget = MemoryBudget(per_connection=per_connection, total=64 * MIB)
    account = budget.open_account(conn.resume)

    def gate(message):
        account.update(conn.memory_in_use)
        return account.may_grow(conn.answer_cost(message))

    conn.memory_gate = gate
    return account


def test_pipelined_reads_wait_for_memory_and_are_all_answered_in_order(clients):
    first, _second = clients
    (first.conn.context.shares["share"].path / "big.bin").write_bytes(bytes(1 * MIB))
    handle = first.open("big.bin", disposition=1, access=0x0012019F)[1]
    account = gated(first, per_connection=1 * MIB)
    count = 40
    reads = b"".join(
        framed(
            read_request(
                first.message_id + 1 + index,
                first.session_id,
                first.tree_id,
                handle,
                READ_SIZE,
                (index % 16) * READ_SIZE,
            )
        )
        for index in range(count)
    )
    first.message_id += count
    first.conn.receive_data(reads, now=5.0)
    assert first.conn.waiting_for_memory
    held = first.conn.memory_in_use
    assert held <= 1 * MIB + READ_SIZE + 4 * KIB  # the budget, overshot by at most the answer asked for
    answers = responses(first.conn)  # the client reads: what it took is no longer held
    assert 0 < len(answers) < count
    while len(answers) < count:
        account.update(first.conn.memory_in_use)  # the adapter's report after a send: wakes the connection
        more = responses(first.conn)
        assert more, "the held READs were never resumed"
        answers += more
    assert [answer.status for answer in answers] == [0] * count
    assert [answer.message_id for answer in answers] == sorted(answer.message_id for answer in answers)
    assert not first.conn.waiting_for_memory


def test_the_answer_cost_is_read_from_the_requests_before_any_work():
    one = read_request(100, 1, 1, b"\x00" * 16, 8 * MIB)
    assert frame_answer_cost(one, 16 * MIB) >= 8 * MIB
    many = compound(*(read_request(100 + index, 1, 1, b"\x00" * 16, 8 * MIB) for index in range(7000)))
    assert frame_answer_cost(many, 1 * MIB) <= 1 * MIB + 128  # a compound's answer never exceeds one frame
