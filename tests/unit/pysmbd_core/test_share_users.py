"""Per-share user lists as clients see them: valid_users refuses others at tree connect, read_only_users only
read (the config side is in tests/unit/pysmbd_runtime/test_rt_share_users.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.context import ShareConfig
from pysmbd.core.users import nt_hash
from tests.support.accounts import CORE_PASSWORD as PASSWORD
from tests.support.accounts import CORE_USER as USER
from tests.support.pysmbd_context import make_context

from .wire_helpers import Client, create_request, events, framed, login, responses, tree_connect_request

STATUS_ACCESS_DENIED = 0xC0000022
STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
USERS = {"alice": "Alice-pass-1", "bob": "Bob-pass-2", "carol": "Carol-pass-3"}


def users_text() -> str:
    return "".join(
        f"{name}:1000:{'X' * 32}:{nt_hash(password).hex().upper()}:[U          ]:LCT-00000000:\n"
        for name, password in USERS.items()
    )


@pytest.fixture
def listed_share(tmp_path: Path):
    share = tmp_path / "team"
    share.mkdir()
    (tmp_path / "users").write_text(users_text())
    config = ShareConfig("team", share, valid_users=frozenset({"alice", "bob"}), read_only_users=frozenset({"bob"}))
    context = make_context(users_file=tmp_path / "users", shares={"team": config}, require_signing=False)
    return context


def test_a_user_not_in_valid_users_is_refused_at_tree_connect(listed_share):
    conn = SMBServerConnection(listed_share)
    _seen, session_id = login(conn, "carol", USERS["carol"])
    conn.receive_data(framed(tree_connect_request(50, session_id, "\\\\srv\\team")), now=1.0)
    (answer,) = responses(conn)
    assert answer.status == STATUS_ACCESS_DENIED
    assert not [event for event in events(conn) if type(event).__name__ == "TreeConnected"]


def test_read_only_users_connect_but_cannot_write(listed_share):
    alice = Client(listed_share, "alice", USERS["alice"], "team")
    bob = Client(listed_share, "bob", USERS["bob"], "team")
    assert alice.open("mine.txt", disposition=2, access=0x0012019F)[0] == 0
    assert bob.open("his.txt", disposition=2, access=0x0012019F)[0] == STATUS_ACCESS_DENIED
    assert bob.open("mine.txt", disposition=1, access=0x00120089)[0] == 0  # reading is allowed
    assert bob.send(create_request, "mine.txt", disposition=1, access=0x0012019F).status == STATUS_ACCESS_DENIED


def test_a_user_at_the_open_cap_leaves_room_for_everyone_else(context):
    """One user holding 1,011 opens once made the next user's login and every other open fail."""
    context.require_signing = False
    context.max_opens_per_session = 50
    context.max_open_files = 120
    hoarder = Client(context, USER, PASSWORD)
    opened = [hoarder.open(f"f{index}", disposition=2)[0] for index in range(60)]
    assert opened == [0] * 50 + [STATUS_INSUFFICIENT_RESOURCES] * 10
    other = Client(context, USER, PASSWORD)  # another session logs in and works
    assert other.open("mine.txt", disposition=2)[0] == 0
    assert context.open_count == 51
    hoarder.conn.close()  # the connection going away gives its opens back
    assert context.open_count == 1
