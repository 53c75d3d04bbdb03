"""The ``[server]`` settings of oplocks and durable handles: what the config file accepts and what reaches the core."""

from __future__ import annotations

import pytest

from pysmbd.config import ConfigError, load_config
from pysmbd.server.runtime import Runtime

SHARE = '[[shares]]\nname = "data"\npath = "@SHARE@"\n'


def test_defaults_turn_oplocks_and_durable_handles_on(write_config):
    runtime = Runtime(load_config(write_config(SHARE)))
    context = runtime.context
    assert (context.oplocks, context.durable_handles) == (True, True)
    assert (context.oplock_break_timeout, context.durable_handle_timeout) == (35.0, 60.0)
    assert context.kept_durable_opens.limit == 1024
    assert context.schedule is not None  # the timeouts run on the server's loop


def test_the_settings_reach_the_core_at_start_and_on_reload(write_config):
    path = write_config(SHARE, server="oplocks = false\ndurable_handles = false\noplock_break_timeout = 5")
    runtime = Runtime(load_config(path))
    assert (runtime.context.oplocks, runtime.context.durable_handles) == (False, False)
    assert runtime.context.oplock_break_timeout == 5.0
    reloaded = write_config(SHARE, server="durable_handle_timeout = 120\nmax_kept_durable_opens = 0", name="new.toml")
    runtime.apply(load_config(reloaded))
    assert (runtime.context.oplocks, runtime.context.durable_handles) == (True, True)
    assert runtime.context.durable_handle_timeout == 120.0
    assert runtime.context.kept_durable_opens.limit == 0


def test_a_bad_value_names_the_setting(write_config):
    path = write_config(SHARE, server='oplocks = "yes"\ndurable_handle_timeout = 0')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    paths = [problem.path for problem in caught.value.problems]
    assert paths == ["server.oplocks", "server.durable_handle_timeout"]
