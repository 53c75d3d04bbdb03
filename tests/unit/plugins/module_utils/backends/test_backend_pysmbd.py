"""pysmbd backend: editing the [[listeners]] of a config people read, atomically, checked by pysmbd itself."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import tomllib

from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import PortRequest
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.pysmbd import (
    PysmbdBackend,
    PysmbdError,
    desired_listeners,
    listeners_of,
    replace_listeners,
    table_of,
)

CONFIG = """\
# pysmbd on the file server (managed by hand: keep this comment)
[server]
name = "FILES"
state_dir = "{state_dir}"
users_file = "{users_file}"

# the listeners
[[listeners]]
transport = "tcp"
address = "0.0.0.0"
port = 4445

[[listeners]]
transport = "tcp"
address = "::"
port = 4445

[[listeners]]
transport = "tcp"
address = "0.0.0.0"
port = 445

[[shares]]
name = "data"   # the main share
path = "{share}"
read_only = false
"""


def run(args):
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def config(tmp_path):
    users = tmp_path / "users"
    users.write_text("")
    share = tmp_path / "share"
    share.mkdir()
    path = tmp_path / "pysmbd.toml"
    path.write_text(CONFIG.format(state_dir=tmp_path / "state", users_file=users, share=share))
    return path


def pysmbd_executable() -> str:
    found = shutil.which("pysmbd")
    assert found, "pysmbd is not on PATH: run `make venv` (it installs roles/pysmbd/files/pysmbd into .venv)"
    return found


def test_table_merges_addresses_of_one_port(config):
    listeners = listeners_of(tomllib.loads(config.read_text()), str(config))
    assert table_of(listeners) == [
        {"transport": "tcp", "port": 445, "instances": "default"},
        {"transport": "tcp", "port": 4445, "instances": "default"},
    ]


def test_ports_that_stay_keep_their_addresses_and_new_ones_get_the_given_address(config):
    listeners = listeners_of(tomllib.loads(config.read_text()), str(config))
    table = [{"transport": "tcp", "port": 4445}, {"transport": "tcp", "port": 14445}]
    assert desired_listeners(listeners, table, "127.0.0.1") == [
        {"transport": "tcp", "address": "0.0.0.0", "port": 4445},
        {"transport": "tcp", "address": "::", "port": 4445},
        {"transport": "tcp", "address": "127.0.0.1", "port": 14445},
    ]


def test_replace_listeners_changes_only_the_listener_tables(config):
    text = config.read_text()
    new = replace_listeners(text, [{"transport": "tcp", "address": "0.0.0.0", "port": 14445}])
    parsed = tomllib.loads(new)
    assert parsed["listeners"] == [{"transport": "tcp", "address": "0.0.0.0", "port": 14445}]
    assert parsed["server"] == tomllib.loads(text)["server"]
    assert parsed["shares"] == tomllib.loads(text)["shares"]
    assert "# pysmbd on the file server (managed by hand: keep this comment)" in new
    assert 'name = "data"   # the main share' in new
    assert new.index("[[listeners]]") < new.index("[[shares]]")


def test_replace_listeners_appends_when_there_were_none():
    text = '[server]\nname = "X"\n'
    new = replace_listeners(text, [{"transport": "quic", "address": "::", "port": 8443}])
    assert tomllib.loads(new) == {
        "server": {"name": "X"},
        "listeners": [{"transport": "quic", "address": "::", "port": 8443}],
    }


def test_replace_listeners_with_none_left_removes_them_all(config):
    parsed = tomllib.loads(replace_listeners(config.read_text(), []))
    assert "listeners" not in parsed
    assert parsed["shares"][0]["name"] == "data"


def test_a_header_inside_a_multiline_string_is_not_a_table():
    text = '[server]\nname = "X"\nmotd = """\n[[listeners]]\n"""\n\n[[listeners]]\nport = 1\n'
    parsed = tomllib.loads(replace_listeners(text, [{"transport": "tcp", "address": "::", "port": 2}]))
    assert parsed["server"]["motd"] == "[[listeners]]\n"
    assert parsed["listeners"] == [{"transport": "tcp", "address": "::", "port": 2}]


def apply_table(backend, ports, address):
    """Make ``ports`` the whole table through the backend interface: read, plan exclusively, apply."""
    request = PortRequest(
        ports=[dict(p, instances="default") for p in ports], exclusive=True, standard_ports="close", address=address
    )
    state = backend.read()
    return backend.apply(state, backend.plan(state, request), request)


def test_apply_writes_a_config_that_pysmbd_accepts(config):
    backend = PysmbdBackend(str(config), run, pysmbd_executable())
    apply_table(backend, [{"transport": "tcp", "port": 4445}, {"transport": "tcp", "port": 5446}], "127.0.0.1")
    assert run([pysmbd_executable(), "check-config", str(config)])[0] == 0
    assert PysmbdBackend(str(config), run, pysmbd_executable()).read().table == [
        {"transport": "tcp", "port": 4445, "instances": "default"},
        {"transport": "tcp", "port": 5446, "instances": "default"},
    ]


def test_apply_refused_by_check_config_leaves_the_file_alone(config):
    before = config.read_text()
    backend = PysmbdBackend(str(config), run, pysmbd_executable())
    with pytest.raises(PysmbdError, match="check-config rejected"):
        apply_table(backend, [{"transport": "tcp", "port": 5446}], "not-an-address!")
    assert config.read_text() == before


def test_unsupported_entries_are_named(config):
    backend = PysmbdBackend(str(config), run, pysmbd_executable())
    problems = backend.check_entries(
        [{"transport": "rdma", "port": 5445}, {"transport": "tcp", "port": 1, "instances": "none"}]
    )
    assert problems == [
        "rdma/5445: pysmbd has no rdma transport (use tcp or quic)",
        "tcp/1: instances=none is a Windows setting (EnableInstances); pysmbd listeners take only 'default'",
    ]


def test_a_missing_config_says_how_to_get_one(tmp_path):
    backend = PysmbdBackend(str(tmp_path / "absent.toml"), run, "pysmbd")
    with pytest.raises(PysmbdError, match=r"absent\.toml.*smb\.alternative_ports\.pysmbd role"):
        backend.read()
