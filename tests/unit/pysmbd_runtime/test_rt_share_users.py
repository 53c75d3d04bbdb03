"""Limits on who and how much in the config file: per-share valid_users and read_only_users, open limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from pysmbd.config import ConfigError, load_config
from pysmbd.core.users import nt_hash
from pysmbd.server.runtime import share_configs

USERS = {"alice": "Alice-pass-1", "bob": "Bob-pass-2", "carol": "Carol-pass-3"}


def users_text() -> str:
    return "".join(
        f"{name}:1000:{'X' * 32}:{nt_hash(password).hex().upper()}:[U          ]:LCT-00000000:\n"
        for name, password in USERS.items()
    )


def problems_of(path: Path) -> list:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [f"{problem.path}: {problem.problem}" for problem in caught.value.problems]


def test_share_user_lists_load_and_reach_the_core(write_config, tmp_path):
    (tmp_path / "users").write_text(users_text())
    path = write_config(
        '[[shares]]\nname = "data"\npath = "@SHARE@"\nvalid_users = ["Alice", "bob"]\nread_only_users = ["bob"]\n'
    )
    share = share_configs(load_config(path))["data"]
    assert (share.valid_users, share.read_only_users) == (frozenset({"alice", "bob"}), frozenset({"bob"}))


def test_unknown_and_misspelled_users_are_errors(write_config, tmp_path):
    (tmp_path / "users").write_text(users_text())
    path = write_config(
        '[[shares]]\nname = "data"\npath = "@SHARE@"\nvalid_users = ["alice", "alcie"]\nread_only_users = ["carol"]\n'
        '[[shares]]\nname = "other"\npath = "@SHARE@"\nvalid_users = "alice"\nread_only_users = ["CORP\\\\bob", "bob", "Bob"]\n'
    )
    assert problems_of(path) == [
        "shares[0].read_only_users: 'carol' is not in valid_users, so it cannot connect at all; "
        "add it to valid_users or remove it",
        'shares[1].valid_users: must be an array of user names (["alice", "bob"]), not a string (\'alice\')',
        "shares[1].read_only_users[0]: must be a user name of the users file (no domain, : \\ / or @), "
        "not a string ('CORP\\\\bob')",
        "shares[1].read_only_users[2]: 'Bob' is listed twice; remove one",
    ]
    path = write_config('[[shares]]\nname = "data"\npath = "@SHARE@"\nvalid_users = ["alice", "alcie"]\n')
    assert problems_of(path) == [
        f"shares[0].valid_users: 'alcie' is not in the users file {tmp_path / 'users'}; add the user or fix the name"
    ]


def test_open_limits_load_and_are_checked(write_config):
    path = write_config("", server="max_open_files = 5000\nmax_opens_per_session = 100")
    server = load_config(path).server
    assert (server.max_open_files, server.max_opens_per_session) == (5000, 100)
    path = write_config("", server="max_open_files = 100\nmax_opens_per_session = 5000")
    assert problems_of(path) == [
        "server.max_opens_per_session: 5000 exceeds max_open_files (100); lower it or raise max_open_files"
    ]
