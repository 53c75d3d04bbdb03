"""pysmbd's config file: what loads, and the exact message every mistake produces."""

from __future__ import annotations

from pathlib import Path

import pytest

from pysmbd.cli import main
from pysmbd.config import ConfigError, load_config

LISTENER = '[[listeners]]\ntransport = "tcp"\naddress = "127.0.0.1"\nport = {port}\n'
SHARE = '[[shares]]\nname = "data"\npath = "@SHARE@"\n'


def problems_of(path: Path) -> list:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [f"{problem.path}: {problem.problem}" for problem in caught.value.problems]


def test_full_example_loads_with_every_value(write_config, tmp_path):
    path = write_config(
        LISTENER.format(port=4445)
        + '[[listeners]]\naddress = "::"\nport = 4446\n'
        + '[[shares]]\nname = "data"\npath = "@SHARE@"\nread_only = true\nguest_ok = true\nencrypt = true\ncomment = "Data"\n',
        server='name = "FILES1"\nworkgroup = "CORP"\nrequire_signing = false\nmax_connections = 5\n'
        "idle_timeout = 30\nmax_frame_size = 1048576",
    )
    config = load_config(path)
    assert config.server.name == "FILES1"
    assert config.server.workgroup == "CORP"
    assert config.server.require_signing is False
    assert config.server.max_connections == 5
    assert config.server.idle_timeout == 30.0
    assert config.server.max_frame_size == 1048576
    assert config.server.state_dir == tmp_path / "state"
    assert [listener.key for listener in config.listeners] == [("tcp", "127.0.0.1", 4445), ("tcp", "::", 4446)]
    share = config.shares[0]
    assert (share.name, share.path, share.read_only, share.guest_ok, share.encrypt, share.comment) == (
        "data",
        tmp_path / "share",
        True,
        True,
        True,
        "Data",
    )


def test_defaults_follow_the_contract(write_config):
    config = load_config(write_config(LISTENER.format(port=4445)))
    server = config.server
    assert (server.name, server.workgroup, server.require_signing) == ("PYSMBD", "WORKGROUP", True)
    assert (server.max_connections, server.idle_timeout, server.max_frame_size) == (1000, 900.0, 8454144)
    assert config.shares == () and config.quic is None


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("0", "listeners[0].port: 0 is out of range; give an integer from 1 to 65535"),
        ("65536", "listeners[0].port: 65536 is out of range; give an integer from 1 to 65535"),
        ("-1", "listeners[0].port: -1 is out of range; give an integer from 1 to 65535"),
        (
            '"445"',
            "listeners[0].port: must be an integer from 1 to 65535 (without quotes), not a string ('445')",
        ),
        ("true", "listeners[0].port: must be an integer from 1 to 65535 (without quotes), not a boolean (True)"),
        (
            "139",
            "listeners[0].port: 139 is the NetBIOS session service port and pysmbd speaks only Direct TCP; "
            "choose another port",
        ),
    ],
)
def test_bad_ports_are_named(write_config, port, message):
    assert problems_of(write_config(LISTENER.format(port=port))) == [message]


def test_every_problem_is_reported_at_once(write_config):
    path = write_config(
        LISTENER.format(port=4445)
        + LISTENER.format(port=4445)
        + '[[listeners]]\ntransport = "rdma"\naddress = "localhost"\nport = 4447\nprot = 1\n'
        + '[[shares]]\nname = "IPC$"\npath = "relative/dir"\n',
        server="max_conections = 3",
    )
    assert problems_of(path) == [
        "server.max_conections: unknown key; valid keys here are name, workgroup, users_file, state_dir, "
        "require_signing, max_connections, idle_timeout, max_frame_size, max_open_files, max_opens_per_session, "
        "max_memory, max_memory_per_connection, drain_timeout",
        "listeners[1]: tcp://127.0.0.1:4445 is already defined by listeners[0]; remove one",
        "listeners[2].prot: unknown key; valid keys here are transport, address, port",
        "listeners[2].transport: 'rdma' is not a transport; use one of tcp, quic",
        "listeners[2].address: 'localhost' is not an IP address; use an address such as 0.0.0.0, :: or 127.0.0.1",
        "shares[0].name: IPC$ is built in; choose another name",
        "shares[0].path: 'relative/dir' is relative; give an absolute directory path",
    ]


def test_wildcard_and_specific_address_on_one_port_cannot_both_bind(write_config):
    path = write_config(LISTENER.format(port=4445) + '[[listeners]]\naddress = "0.0.0.0"\nport = 4445\n')
    assert problems_of(path) == [
        "listeners[0]: tcp://127.0.0.1:4445 overlaps listeners[1] (0.0.0.0 port 4445 already covers every address); "
        "remove one of them"
    ]


def test_same_port_on_ipv4_and_ipv6_wildcards_is_fine(write_config):
    path = write_config('[[listeners]]\naddress = "0.0.0.0"\nport = 4445\n[[listeners]]\naddress = "::"\nport = 4445\n')
    assert len(load_config(path).listeners) == 2


def test_quic_listener_needs_certificate_and_key(write_config):
    path = write_config('[[listeners]]\ntransport = "quic"\naddress = "0.0.0.0"\nport = 8443\n')
    assert problems_of(path) == ["quic: a quic listener needs a [quic] table with certificate and private_key"]
    path = write_config(
        '[[listeners]]\ntransport = "quic"\naddress = "0.0.0.0"\nport = 8443\n[quic]\ncertificate = "@TMP@/c.pem"\n'
    )
    assert problems_of(path) == ["quic.private_key: is required; add it as a quoted string"]


def test_quic_datagram_size_is_checked(write_config):
    quic = '[[listeners]]\ntransport = "quic"\naddress = "0.0.0.0"\nport = 8443\n[quic]\ncertificate = "@TMP@/users"\n'
    quic += 'private_key = "@TMP@/users"\n'
    assert load_config(write_config(quic)).quic.max_datagram_size == 1200
    assert load_config(write_config(quic + "max_datagram_size = 1452\n")).quic.max_datagram_size == 1452
    assert problems_of(write_config(quic + "max_datagram_size = 1000\n")) == [
        "quic.max_datagram_size: 1000 is out of range; give an integer from 1200 to 65527"
    ]


def test_missing_share_directory_and_users_file_are_reported(write_config, tmp_path):
    path = write_config('[[shares]]\nname = "gone"\npath = "@TMP@/missing"\n')
    (tmp_path / "users").unlink()
    assert problems_of(path) == [
        f"shares[0].path: {tmp_path}/missing does not exist; create the directory or fix the path",
        f"server.users_file: {tmp_path}/users does not exist; create it (see pysmbd hash-password)",
    ]


def test_duplicate_share_names_ignore_case(write_config):
    path = write_config(SHARE + '[[shares]]\nname = "DATA"\npath = "@SHARE@"\n')
    assert problems_of(path) == [
        "shares[1].name: share 'DATA' is already defined by shares[0] (case is ignored); rename one"
    ]


def test_toml_syntax_error_names_the_line(write_config):
    problems = problems_of(write_config("[[listeners]\nport = 1\n"))
    assert len(problems) == 1 and problems[0].startswith("(syntax): ") and "line" in problems[0]


def test_check_config_exit_codes_and_output(write_config, capsys):
    good = write_config(LISTENER.format(port=4445) + SHARE, name="good.toml")
    assert main(["check-config", str(good)]) == 0
    assert f"{good}: OK (1 shares; listeners: tcp://127.0.0.1:4445)" in capsys.readouterr().out

    bad = write_config(LISTENER.format(port=0), name="bad.toml")
    assert main(["check-config", str(bad)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{bad}: listeners[0].port: 0 is out of range; give an integer from 1 to 65535"
    ]


def test_check_config_on_a_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert main(["check-config", str(missing)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"{missing}: (file): cannot be read: No such file or directory; check the path"
    )


def test_memory_budget_defaults_and_values(write_config):
    server = load_config(write_config(LISTENER.format(port=4445))).server
    assert (server.max_memory, server.max_memory_per_connection, server.drain_timeout) == (1 << 30, 64 << 20, 30.0)
    server = load_config(
        write_config(
            LISTENER.format(port=4445),
            server="max_memory = 268435456\nmax_memory_per_connection = 33554432\ndrain_timeout = 5",
        )
    ).server
    assert (server.max_memory, server.max_memory_per_connection, server.drain_timeout) == (256 << 20, 32 << 20, 5.0)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "max_memory_per_connection = 8388608",
            "server.max_memory_per_connection: 8388608 is below twice max_frame_size (16908288): large READs would "
            "stall; raise it or lower max_frame_size",
        ),
        (
            "max_memory = 33554432",
            "server.max_memory_per_connection: 67108864 exceeds max_memory (33554432); lower it or raise max_memory",
        ),
        (
            "max_memory = 1024",
            "server.max_memory: 1024 is out of range; give an integer from 16777216 to 1099511627776",
        ),
        ("drain_timeout = 0", "server.drain_timeout: 0 is out of range; give a number of seconds from 1 to 3600"),
    ],
)
def test_memory_budget_mistakes_are_named(write_config, settings, message):
    assert problems_of(write_config(LISTENER.format(port=4445), server=settings)) == [message]
