"""Small commands of the pysmbd CLI: hash-password and the human status view."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from spnego._ntlm_raw.crypto import ntowfv1

from pysmbd.cli import format_status, main


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("password", "8846F7EAEE8FB117AD06BDD830B7586C"),  # the well-known NT hash of "password"
        ("Secret-123", ntowfv1("Secret-123").hex().upper()),
        ("pässwörd ☃", ntowfv1("pässwörd ☃").hex().upper()),
    ],
)
def test_hash_password_prints_the_nt_hash(monkeypatch, capsys, password, expected):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert main(["hash-password"]) == 0
    assert capsys.readouterr().out.strip() == expected


def test_hash_password_with_user_prints_a_users_file_line(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("password"))
    assert main(["hash-password", "--user", "alice"]) == 0
    fields = capsys.readouterr().out.strip().split(":")
    assert fields[:5] == ["alice", "0", "X" * 32, "8846F7EAEE8FB117AD06BDD830B7586C", "[U          ]"]
    assert fields[5].startswith("LCT-") and fields[6] == ""


@pytest.mark.parametrize(("stdin", "args"), [("", []), ("\n", []), ("pw\n", ["--user", "a:b"])])
def test_hash_password_refuses_empty_input_and_bad_names(monkeypatch, capsys, stdin, args):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["hash-password", *args]) == 2
    assert capsys.readouterr().err.startswith("pysmbd hash-password: ")


def test_human_status_shows_failures_and_kept_listeners():
    text = format_status(
        {
            "version": "0.1.0",
            "pid": 42,
            "started": "2026-11-25T18:00:00Z",
            "config": "/etc/pysmbd/pysmbd.toml",
            "listeners": [
                {"transport": "tcp", "address": "0.0.0.0", "port": 4445, "state": "listening", "error": None},
                {
                    "transport": "tcp",
                    "address": "0.0.0.0",
                    "port": 4446,
                    "state": "listening",
                    "error": None,
                    "configured": False,
                },
                {
                    "transport": "tcp",
                    "address": "0.0.0.0",
                    "port": 4447,
                    "state": "failed",
                    "error": "address already in use (errno 98)",
                },
            ],
            "sessions": 3,
            "connections": 2,
            "last_reload": {"time": "2026-11-25T18:01:00Z", "ok": False, "errors": ["cannot listen on ..."]},
        }
    )
    lines = text.splitlines()
    assert lines[0] == "pysmbd 0.1.0 running, pid 42, since 2026-11-25T18:00:00Z"
    assert lines[3].split() == ["tcp", "0.0.0.0:4445", "listening"]
    assert "(removed from the config; kept open because the last reload failed)" in lines[4]
    assert lines[5].split(None, 2) == ["tcp", "0.0.0.0:4447", "failed: address already in use (errno 98)"]
    assert lines[6] == "sessions: 3, connections: 2"
    assert lines[7:] == ["last reload: 2026-11-25T18:01:00Z FAILED", "  cannot listen on ..."]


_LOADED_BY = """
import sys
from pysmbd.cli import main
code = main(sys.argv[1:])
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"asyncio", "cryptography", "qh3", "spnego"})
print(code, ",".join(heavy))
"""


@pytest.mark.parametrize("command", [["check-config"], ["status", "--config"], ["reload", "--config"]])
def test_the_commands_of_a_port_change_leave_the_server_libraries_unloaded(tmp_path, command):
    # server_ports runs check-config and reload for every port change: they start without the event loop,
    # cryptography or the QUIC stack, which only serve, gen-cert and hash-password need.
    config = tmp_path / "pysmbd.toml"
    (tmp_path / "users").write_text("")
    config.write_text(
        f'[server]\nusers_file = "{tmp_path}/users"\nstate_dir = "{tmp_path}"\n\n'
        '[[listeners]]\ntransport = "tcp"\naddress = "127.0.0.1"\nport = 4445\n'
    )
    run = subprocess.run(
        [sys.executable, "-c", _LOADED_BY, *command, str(config)], capture_output=True, text=True, check=True
    )
    code, heavy = run.stdout.splitlines()[-1].split(" ")
    assert (code, heavy.strip()) == ("0" if command == ["check-config"] else "3", "")


def test_human_status_shows_the_memory_held_for_clients():
    mib = 1024 * 1024
    text = format_status(
        {
            "version": "0.1.0",
            "pid": 42,
            "started": "2026-11-25T18:00:00Z",
            "config": "/etc/pysmbd/pysmbd.toml",
            "listeners": [],
            "sessions": 2,
            "connections": 2,
            "memory": {
                "in_use": 40 * mib,
                "limit": 1024 * mib,
                "per_connection_limit": 64 * mib,
                "largest_connection": 33 * mib,
                "paused_connections": 1,
            },
        }
    )
    assert "memory for clients: 40.0 of 1024.0 MiB (largest connection 33.0 of 64.0 MiB, 1 waiting)" in text
