"""``[server] workers``: the setting, each worker's part of the server-wide limits, and the summed status."""

from __future__ import annotations

import os

import pytest

from pysmbd.config import ConfigError, load_config
from pysmbd.server.workers import summed_status, worker_config

LISTENER = '[[listeners]]\ntransport = "tcp"\naddress = "127.0.0.1"\nport = 4445\n'
SHARE = '[[shares]]\nname = "data"\npath = "@SHARE@"\n'


def test_one_worker_is_the_default_and_auto_means_one_per_cpu(write_config):
    assert load_config(write_config(LISTENER + SHARE)).server.workers == 1
    auto = load_config(write_config(LISTENER + SHARE, server='workers = "auto"'))
    assert auto.server.workers == min(os.cpu_count() or 1, 64)
    assert load_config(write_config(LISTENER + SHARE, server="workers = 3")).server.workers == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "server.workers: 0 is out of range; give an integer from 1 to 64"),
        ('"many"', "server.workers: 'many' is not a count; give 1 to 64 or \"auto\""),
    ],
)
def test_a_bad_worker_count_is_named(write_config, value, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(LISTENER + SHARE, server=f"workers = {value}"))
    assert [f"{problem.path}: {problem.problem}" for problem in caught.value.problems] == [message]


def test_each_worker_enforces_its_part_of_the_server_wide_limits(write_config):
    config = load_config(
        write_config(
            LISTENER + SHARE,
            server="max_connections = 1001\nmax_connections_per_address = 0\nlogin_failure_limit = 5\n"
            "max_open_files = 100\nmax_opens_per_session = 100",
        )
    )
    part = worker_config(config, 2).server
    assert part.login_failure_limit == 3
    assert (part.max_connections, part.max_connections_per_address) == (1001, 0)  # counted across the workers
    assert (part.max_open_files, part.max_opens_per_session) == (50, 50)
    assert part.max_memory == max(config.server.max_memory // 2, config.server.max_memory_per_connection)
    assert worker_config(config, 1) is config


def test_the_status_sums_the_workers_and_a_listener_failing_in_one_is_failed():
    row = {"transport": "tcp", "address": "127.0.0.1", "port": 4445, "state": "listening", "error": None}
    failed = {**row, "state": "failed", "error": "address in use"}
    documents = [
        {"listeners": [row], "sessions": 2, "connections": 3, "memory": {"in_use": 10, "largest_connection": 7}},
        {"listeners": [failed], "sessions": 1, "connections": 1, "memory": {"in_use": 5, "largest_connection": 9}},
    ]
    status = summed_status(documents, pid=1, started="t", config="c", generation=4, last_reload=None, workers=[])
    assert (status["sessions"], status["connections"], status["generation"]) == (3, 4, 4)
    assert status["memory"] == {"in_use": 15, "largest_connection": 9}
    assert [entry["state"] for entry in status["listeners"]] == ["failed"]


def test_max_connections_counts_the_other_workers_connections(tmp_path):
    from pysmbd.server.workers import ConnectionCounts

    ConnectionCounts.prepare(tmp_path, 3)
    first, second = ConnectionCounts(tmp_path, 0, 3), ConnectionCounts(tmp_path, 1, 3)
    first.publish(5)
    second.publish(2)
    assert (first.elsewhere(), second.elsewhere()) == (2, 5)
    for _connection in range(3):
        second.host_changed("192.0.2.7", +1)
    second.host_changed("192.0.2.7", -1)
    assert (first.elsewhere_from("192.0.2.7"), second.elsewhere_from("192.0.2.7")) == (2, 0)
    first.clear(1)  # the supervisor clears a dead worker's counts
    assert (first.elsewhere(), first.elsewhere_from("192.0.2.7")) == (0, 0)
