"""The memory budget's rules (pysmbd.server.budget), alone and as the core's ``memory_gate``.

The rules decide who waits: a connection past its own limit, and past the server-wide limit the connections above
their fair share, while a light client's small request still goes through.
"""

from __future__ import annotations

from pysmbd.server.budget import MemoryBudget

MIB = 1024 * 1024


def test_a_connection_waits_past_its_own_limit_and_goes_on_once_it_drained():
    woken = []
    budget = MemoryBudget(per_connection=32 * MIB, total=1024 * MIB)
    account = budget.open_account(lambda: woken.append("hostile"))
    account.update(30 * MIB)
    assert not account.may_grow(8 * MIB)
    assert budget.status()["paused_connections"] == 1
    account.update(20 * MIB)  # the client read some of its responses
    assert woken == ["hostile"]
    assert account.may_grow(8 * MIB)
    assert budget.status()["paused_connections"] == 0


def test_a_connection_that_holds_nothing_is_always_served():
    budget = MemoryBudget(per_connection=16 * MIB, total=32 * MIB)
    account = budget.open_account(lambda: None)
    assert account.may_grow(24 * MIB)  # even an answer larger than its limit: otherwise it could never progress


def test_past_the_total_the_biggest_wait_and_a_light_client_is_served():
    budget = MemoryBudget(per_connection=64 * MIB, total=100 * MIB)
    big = [budget.open_account(lambda: None) for _client in range(2)]
    for account in big:
        account.update(50 * MIB)
    light = budget.open_account(lambda: None)
    light.update(64 * 1024)
    assert budget.status()["in_use"] == 100 * MIB + 64 * 1024
    assert not big[0].may_grow(8 * MIB)
    assert light.may_grow(4096 + 320)  # a 4 KiB READ: well under its share of 100 MiB / 3
    assert not light.may_grow(40 * MIB)  # but not a share's worth more
    assert budget.status()["paused_connections"] == 2  # the big one and the light one's large request wait


def test_the_status_reports_bytes_and_a_closed_connection_gives_its_memory_back():
    budget = MemoryBudget(per_connection=32 * MIB, total=64 * MIB)
    first = budget.open_account(lambda: None)
    second = budget.open_account(lambda: None)
    first.update(3 * MIB)
    second.update(5 * MIB)
    assert budget.status() == {
        "in_use": 8 * MIB,
        "limit": 64 * MIB,
        "per_connection_limit": 32 * MIB,
        "largest_connection": 5 * MIB,
        "paused_connections": 0,
    }
    second.close()
    first.close()
    assert budget.status()["in_use"] == 0 and budget.status()["largest_connection"] == 0


def test_waking_is_scheduled_never_run_inside_an_update():
    scheduled = []
    woken = []
    budget = MemoryBudget(per_connection=16 * MIB, total=64 * MIB, schedule=scheduled.append)
    waiting = budget.open_account(lambda: woken.append(1))
    waiting.update(15 * MIB)
    assert not waiting.may_grow(8 * MIB)
    waiting.update(1 * MIB)
    assert woken == [] and len(scheduled) == 1
    scheduled[0]()
    assert woken == [1]


def test_a_raised_limit_lets_waiting_connections_go_on():
    woken = []
    budget = MemoryBudget(per_connection=16 * MIB, total=64 * MIB)
    account = budget.open_account(lambda: woken.append(1))
    account.update(15 * MIB)
    assert not account.may_grow(8 * MIB)
    budget.configure(per_connection=32 * MIB, total=64 * MIB)
    assert woken == [1] and account.may_grow(8 * MIB)
