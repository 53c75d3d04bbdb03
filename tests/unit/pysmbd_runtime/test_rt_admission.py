"""Admission by client address: the per-address cap, login delays after failures, and log lines that cannot flood."""

from __future__ import annotations

import json
import logging

import pytest

from pysmbd.server.admission import LoginThrottle, RateLimitedLog, peer_host
from pysmbd.server.registry import ConnectionRegistry


class Connection:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def log_lines(caplog):
    """The JSON events pysmbd logged, as (event, fields) pairs."""
    caplog.set_level(logging.DEBUG, logger="pysmbd")

    def lines(event_prefix: str = "") -> list:
        return [
            (record.getMessage(), getattr(record, "fields", {}))
            for record in caplog.records
            if record.name == "pysmbd" and record.getMessage().startswith(event_prefix)
        ]

    logger = logging.getLogger("pysmbd")
    propagate, logger.propagate = logger.propagate, True  # configure_logging turns it off; caplog listens at root
    yield lines
    logger.propagate = propagate


@pytest.mark.parametrize(
    ("peer", "host"),
    [("127.0.0.1:4455", "127.0.0.1"), ("[::1]:4455", "::1"), ("[fe80::1%lo]:1", "fe80::1%lo"), ("", "")],
)
def test_peer_host_is_the_address_without_the_port(peer, host):
    assert peer_host(peer) == host


def test_one_address_at_its_cap_evicts_its_own_idle_connection_not_another_address():
    registry = ConnectionRegistry(max_connections=100, max_connections_per_address=2)
    other = Connection("other")
    assert registry.try_add(other, peer="10.0.0.9:1000")
    first, second, third = Connection("a1"), Connection("a2"), Connection("a3")
    assert registry.try_add(first, peer="10.0.0.1:1")
    assert registry.try_add(second, peer="10.0.0.1:2")
    assert registry.try_add(third, peer="10.0.0.1:3")
    assert (first.closed, second.closed, third.closed, other.closed) == (True, False, False, False)
    assert registry.connections == 3


def test_an_address_whose_connections_all_hold_sessions_is_refused_with_the_reason():
    registry = ConnectionRegistry(max_connections=100, max_connections_per_address=2)
    for number in (1, 2):
        connection = Connection(str(number))
        registry.try_add(connection, peer=f"10.0.0.1:{number}")
        registry.session_opened(connection, number)
    reason = registry.admit(Connection("3"), peer="10.0.0.1:3")
    assert reason is not None and "max_connections_per_address (2)" in reason and "10.0.0.1" in reason
    assert registry.admit(Connection("elsewhere"), peer="10.0.0.2:1") is None  # another address still gets in


def test_a_user_gets_in_after_two_thousand_idle_connections_from_many_addresses():
    """The acceptance of issue 14 with both caps: the flood spreads over 40 addresses, below the per-address cap."""
    registry = ConnectionRegistry(max_connections=1000, max_connections_per_address=64)
    flood = [Connection(str(number)) for number in range(2000)]
    for number, connection in enumerate(flood):
        assert registry.try_add(connection, peer=f"127.0.1.{number % 40}:{10000 + number}")
    user = Connection("user")
    assert registry.try_add(user, peer="127.0.0.1:5000")
    registry.session_opened(user, 1)
    assert registry.connections == 1000 and registry.sessions == 1
    assert sum(connection.closed for connection in flood) == 1001


def test_logins_wait_longer_after_each_failure_past_the_limit_up_to_the_cap():
    throttle = LoginThrottle(failure_limit=3, window=60, max_delay=5)
    delays = []
    for second in range(8):
        delays.append(throttle.delay("10.0.0.1", now=float(second)))
        throttle.failed("10.0.0.1", now=float(second))
    assert delays == [0, 0, 0, 1, 2, 4, 5, 5]
    assert throttle.delay("10.0.0.2", now=8.0) == 0  # another address is not slowed down


def test_failures_older_than_the_window_no_longer_count():
    throttle = LoginThrottle(failure_limit=2, window=60, max_delay=30)
    for second in (0.0, 1.0, 2.0):
        throttle.failed("10.0.0.1", now=second)
    assert throttle.delay("10.0.0.1", now=3.0) == 2
    assert throttle.delay("10.0.0.1", now=61.5) == 0  # two of three expired: below the limit again
    assert throttle.delay("10.0.0.1", now=200.0) == 0


def test_a_limit_of_zero_turns_the_delay_off():
    throttle = LoginThrottle(failure_limit=0)
    for second in range(100):
        throttle.failed("10.0.0.1", now=float(second))
    assert throttle.delay("10.0.0.1", now=100.0) == 0


def test_a_flood_of_refusals_writes_one_line_then_one_summary_per_address(log_lines):
    limited = RateLimitedLog(interval=60)
    for number in range(500):
        limited.log("connection_refused", "10.0.0.1", now=number / 100, peer=f"10.0.0.1:{number}", reason="full")
    limited.log("connection_refused", "10.0.0.2", now=1.0, peer="10.0.0.2:1", reason="full")
    assert [event for event, _fields in log_lines("connection_refused")] == ["connection_refused"] * 2
    limited.flush(now=30.0)  # the interval has not ended: nothing more yet
    assert len(log_lines("connection_refused")) == 2
    limited.flush(now=60.0)
    summaries = [fields for event, fields in log_lines("connection_refused_summary")]
    assert summaries == [{"peer": "10.0.0.1:499", "reason": "full", "count": 499, "interval": 60}]
    limited.log("connection_refused", "10.0.0.1", now=61.0, peer="10.0.0.1:1", reason="full")
    assert len(log_lines("connection_refused")) == 4  # a new interval starts with a line of its own


def test_the_summary_comes_by_itself_when_the_flood_stops(log_lines):
    scheduled = []
    clock = [0.0]
    limited = RateLimitedLog(
        interval=10,
        schedule=lambda delay, callback: scheduled.append((delay, callback)) or True,
        clock=lambda: clock[0],
    )
    for _line in range(3):
        limited.log("connection_evicted", "10.0.0.1", now=0.0, peer="10.0.0.1:1")
    assert [delay for delay, _callback in scheduled] == [10.0]  # one timer, however many lines were held back
    clock[0] = 10.0
    scheduled[0][1]()
    assert [fields["count"] for _event, fields in log_lines("connection_evicted_summary")] == [2]


def test_an_interval_of_zero_logs_every_line(log_lines):
    limited = RateLimitedLog(interval=0)
    for number in range(5):
        limited.log("connection_refused", "10.0.0.1", now=float(number), peer="10.0.0.1:1")
    assert len(log_lines("connection_refused")) == 5


def test_eviction_lines_go_through_the_rate_limit(log_lines):
    registry = ConnectionRegistry(
        max_connections=10, max_connections_per_address=1, connection_log=RateLimitedLog(60), clock=lambda: 1.0
    )
    for number in range(50):
        registry.try_add(Connection(str(number)), peer=f"10.0.0.1:{number}")
    evicted = log_lines("connection_evicted")
    assert [event for event, _fields in evicted] == ["connection_evicted"]
    assert json.dumps(evicted[0][1])  # fields are plain values: the JSON formatter writes them


def test_check_config_names_each_bad_admission_setting(write_config):
    from pysmbd.config import ConfigError, load_config

    path = write_config(
        server='max_connections_per_address = -1\nlogin_timeout = 0\nframe_timeout = "60"\n'
        "login_failure_limit = 1.5\nlogin_delay_max = 99999\nrefused_log_interval = -1"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert [str(problem.path) for problem in raised.value.problems] == [
        "server.max_connections_per_address",
        "server.login_failure_limit",
        "server.login_timeout",
        "server.frame_timeout",
        "server.login_delay_max",
        "server.refused_log_interval",
    ]
    assert "give an integer from 0 to 1000000" in raised.value.problems[0].problem


def test_the_admission_settings_default_to_a_cap_deadlines_and_a_delay(write_config):
    from pysmbd.config import load_config

    server = load_config(write_config()).server
    assert (server.max_connections_per_address, server.login_timeout, server.frame_timeout) == (64, 30, 60)
    assert (server.login_failure_limit, server.login_failure_window, server.login_delay_max) == (5, 60, 30)


def test_connections_dropped_for_bad_frames_are_logged_once_per_address_then_summed_up(log_lines):
    from pysmbd.core.events import ConnectionShouldClose
    from pysmbd.server.core_events import CoreEvents

    class BrokenFraming:
        """A core that has just asked to be closed."""

        def __init__(self) -> None:
            self.pending = [ConnectionShouldClose("frame is neither SMB2 nor SMB1")]

        def next_event(self):
            return self.pending.pop() if self.pending else None

    registry = ConnectionRegistry(max_connections=10, connection_log=RateLimitedLog(60))
    for number in range(20):
        events = CoreEvents(
            registry, Connection(str(number)), peer=f"10.0.0.1:{number}", listener="tcp", on_close_requested=len
        )
        events.drain(BrokenFraming())  # type: ignore[arg-type]
    dropped = log_lines("connection_dropped")
    assert [(event, fields["reason"]) for event, fields in dropped] == [
        ("connection_dropped", "frame is neither SMB2 nor SMB1")
    ]
    registry.connection_log.flush(now=1e12)
    assert [fields["count"] for _event, fields in log_lines("connection_dropped_summary")] == [19]
