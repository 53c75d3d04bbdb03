"""plan_changes: the ordered steps every backend carries out."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._plan import (
    PortEntry,
    apply_plan,
    format_table,
    plan_changes,
    table,
)


def entries(*specs):
    return [PortEntry(t, p, i) for t, p, i in (s if len(s) == 3 else (*s, "default") for s in specs)]


def test_nothing_to_do_when_tables_match():
    current = entries(("tcp", 4445), ("quic", 8443))
    assert plan_changes(current, list(reversed(current)), exclusive=True) == []


def test_add_change_remove_in_that_order():
    current = entries(("tcp", 4445), ("quic", 8443, "none"))
    desired = entries(("quic", 8443), ("tcp", 5446))
    plan = plan_changes(current, desired, exclusive=True)
    assert [(s["action"], s["transport"], s["port"]) for s in plan] == [
        ("add", "tcp", 5446),
        ("change", "quic", 8443),
        ("remove", "tcp", 4445),
    ]
    assert apply_plan(current, plan) == entries(("tcp", 5446), ("quic", 8443))


def test_non_exclusive_keeps_unlisted_ports():
    current = entries(("tcp", 4445))
    assert plan_changes(current, entries(("tcp", 5446))) == [
        {"action": "add", "transport": "tcp", "port": 5446, "instances": "default"}
    ]


def test_absent_removes_only_what_exists():
    current = entries(("tcp", 4445), ("tcp", 5446))
    plan = plan_changes(current, entries(("tcp", 4445), ("tcp", 9999)), state="absent", exclusive=True)
    assert plan == [{"action": "remove", "transport": "tcp", "port": 4445, "instances": "default"}]


def test_dicts_are_accepted_and_normalized():
    plan = plan_changes([{"transport": "TCP", "port": "4445"}], [{"transport": "tcp", "port": 4445}])
    assert plan == []


def test_unknown_state_is_refused():
    with pytest.raises(ValueError, match="state must be"):
        plan_changes([], [], state="gone")


def test_table_and_format_are_sorted_by_transport_then_port():
    rows = table(entries(("rdma", 5446), ("quic", 8443), ("tcp", 14445), ("tcp", 4445)))
    assert [(r["transport"], r["port"]) for r in rows] == [
        ("tcp", 4445),
        ("tcp", 14445),
        ("quic", 8443),
        ("rdma", 5446),
    ]
    assert format_table(rows).splitlines()[0] == "tcp/4445 instances=default"
    assert format_table([]) == ""
