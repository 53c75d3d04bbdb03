"""pysmbd_host's users-file diff and password hashes: no NT hash is ever shown, and the hash is pysmbd's own."""

from __future__ import annotations

import subprocess

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.smb.alternative_ports.plugins.action.pysmbd_host import _password_hashes
from ansible_collections.smb.alternative_ports.plugins.module_utils._pysmbd_host import (
    HIDDEN_CHANGED_HASH,
    HIDDEN_HASH,
    masked_users,
)
from tests.support.peers import pysmbd_command

HEADER = "# Ansible managed\n"
OLD_HASH, NEW_HASH = "A" * 32, "B" * 32


def users_line(name: str, digest: str) -> str:
    return f"{name}:1000:{'X' * 32}:{digest}:[U          ]:LCT-00000000:\n"


def test_the_users_diff_hides_every_hash_and_says_which_changed():
    before = HEADER + users_line("alice", OLD_HASH) + users_line("bob", OLD_HASH)
    after = HEADER + users_line("alice", OLD_HASH) + users_line("bob", NEW_HASH) + users_line("carol", NEW_HASH)
    shown_before, shown_after = masked_users(before, after)
    for text in (shown_before, shown_after):
        assert OLD_HASH not in text and NEW_HASH not in text
    assert shown_before.splitlines() == [
        HEADER.strip(),
        *(users_line(n, HIDDEN_HASH).strip() for n in ("alice", "bob")),
    ]
    assert shown_after.splitlines()[1:] == [
        users_line("alice", HIDDEN_HASH).strip(),
        users_line("bob", HIDDEN_CHANGED_HASH).strip(),
        users_line("carol", HIDDEN_CHANGED_HASH).strip(),
    ]


@pytest.mark.parametrize("password", ["Role-Quic-pa55", "pässwörd ünïcode", "x"])
def test_the_controller_hashes_passwords_as_pysmbd_hash_password_does(password):
    done = subprocess.run(
        [pysmbd_command(), "hash-password"], input=password, capture_output=True, text=True, timeout=30, check=True
    )
    assert _password_hashes([{"name": "u", "password": password}], "h1") == [done.stdout.strip()]


def test_a_user_without_a_password_is_refused_naming_the_host_and_the_user():
    with pytest.raises(AnsibleActionFail, match=r"h1: pysmbd_users\[1\] \(bob\) has no password"):
        _password_hashes([{"name": "alice", "password": "a"}, {"name": "bob"}], "h1")


@pytest.mark.parametrize(
    ("config", "status", "restart"),
    [
        ("[server]\nworkers = 2\n", '{"workers": [{"index": 0}, {"index": 1}]}', False),
        ("[server]\nworkers = 2\n", '{"pid": 5}', True),  # one process runs; two are configured
        ('[server]\nname = "X"\n', '{"workers": [{"index": 0}, {"index": 1}]}', True),
        ("[server]\n", '{"pid": 5}', False),
    ],
)
def test_a_server_running_another_number_of_workers_is_restarted(config, status, restart):
    """In supervisor mode the module compares the running server's workers with the rendered config's."""
    from ansible_collections.smb.alternative_ports.plugins.module_utils._pysmbd_host import (
        _configured_workers,
        _running_workers,
    )

    assert (_running_workers(status) != _configured_workers(config)) is restart
