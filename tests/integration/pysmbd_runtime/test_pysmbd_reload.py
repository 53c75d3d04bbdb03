"""SIGHUP reloads (through ``pysmbd reload``) with a real pysmbd, smbprotocol and smbclient as clients."""

from __future__ import annotations

import json
import signal
import socket
import time

import pytest
from smbprotocol.exceptions import SMBConnectionClosed, SMBResponseException

from tests.support.accounts import RUNTIME_PASSWORD, RUNTIME_USER
from tests.support.net import free_tcp_ports, port_refuses
from tests.support.pysmbd_server import run_pysmbd
from tests.support.smbclient_cli import run_smbclient


def test_session_survives_a_reload_that_adds_one_port_and_removes_another(pysmbd_server, smb_sessions):
    server = pysmbd_server(port_count=2)
    kept, removed = server.ports
    (added,) = free_tcp_ports(1)
    session = smb_sessions(kept)
    on_removed = smb_sessions(removed)
    assert session.write_and_read("before.txt", b"before reload") == b"before reload"

    server.write_config([kept, added])
    done = server.reload()
    assert done.returncode == 0, done.stdout + done.stderr
    status = json.loads(done.stdout)
    assert [(row["port"], row["state"]) for row in status["listeners"]] == sorted(
        [(kept, "listening"), (added, "listening")]
    )

    # The same session, untouched, keeps working on the port that stayed.
    assert session.write_and_read("after.txt", b"after reload") == b"after reload"
    # A connection accepted on the removed port is not cut by the reload either.
    assert on_removed.write_and_read("removed.txt", b"still here") == b"still here"
    assert port_refuses(removed)
    listing = run_smbclient(added, "-L", "//127.0.0.1", user=RUNTIME_USER, password=RUNTIME_PASSWORD)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "data" in listing.stdout and "Team data" in listing.stdout
    assert server.alive()


def test_busy_port_keeps_the_old_set_and_shows_in_status(pysmbd_server, smb_sessions):
    server = pysmbd_server(port_count=2)
    first, second = server.ports
    (busy,) = free_tcp_ports(1)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", busy))
        blocker.listen()
        server.write_config([first, busy])
        done = server.reload()
        assert done.returncode == 1
        status = server.status_json()
        rows = {row["port"]: row for row in status["listeners"]}
        assert rows[busy]["state"] == "failed" and "address already in use" in rows[busy]["error"]
        assert rows[second]["state"] == "listening" and rows[second]["configured"] is False
        human = run_pysmbd("status", "--config", str(server.config))
        assert f"tcp 127.0.0.1:{busy}" in human.stdout and "failed: address already in use" in human.stdout
        # Both old ports still serve SMB.
        for port in (first, second):
            assert smb_sessions(port).write_and_read(f"p{port}.txt", b"ok") == b"ok"


def test_reload_with_an_invalid_config_exits_2_and_changes_nothing(pysmbd_server, smb_sessions):
    server = pysmbd_server(port_count=1)
    (port,) = server.ports
    server.config.write_text(server.config.read_text() + "[[listeners]]\nport = 70000\n")
    done = server.reload()
    assert done.returncode == 2
    assert f"{server.config}: listeners[1].port: 70000 is out of range; give an integer from 1 to 65535" in done.stderr
    assert smb_sessions(port).write_and_read("x.txt", b"x") == b"x"


def test_smbclient_lists_shares_and_sees_a_share_added_by_reload(pysmbd_server):
    server = pysmbd_server(port_count=1)
    (port,) = server.ports
    extra = server.root / "extra"
    extra.mkdir()
    listing = run_smbclient(port, "-L", "//127.0.0.1", user=RUNTIME_USER, password=RUNTIME_PASSWORD)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    lines = [line.split() for line in listing.stdout.splitlines()]
    assert ["data", "Disk", "Team", "data"] in lines
    assert ["IPC$", "IPC", "IPC", "Service", "(pysmbd", "on", "PYSMBD)"] in lines
    server.write_config(server.ports, shares=f'[[shares]]\nname = "extra"\npath = "{extra}"\ncomment = "More"\n')
    assert server.reload().returncode == 0
    listing = run_smbclient(port, "-L", "//127.0.0.1", user=RUNTIME_USER, password=RUNTIME_PASSWORD)
    assert ["extra", "Disk", "More"] in [line.split() for line in listing.stdout.splitlines()]


@pytest.mark.parametrize(
    "protection",
    [["-m", "SMB2"], ["-m", "SMB3", "--client-protection=sign"], ["-m", "SMB3", "--client-protection=encrypt"]],
)
def test_smbclient_lists_shares_with_each_protection(pysmbd_server, protection):
    server = pysmbd_server(port_count=1)
    listing = run_smbclient(
        server.ports[0], "-L", "//127.0.0.1", *protection, user=RUNTIME_USER, password=RUNTIME_PASSWORD
    )
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert ["data", "Disk", "Team", "data"] in [line.split() for line in listing.stdout.splitlines()]


def test_status_counts_sessions(pysmbd_server, smb_sessions):
    server = pysmbd_server(port_count=1)
    (port,) = server.ports
    smb_sessions(port)
    smb_sessions(port)
    status = {}
    for _attempt in range(100):
        status = server.status_json()
        if status["sessions"] == 2:
            break
        time.sleep(0.05)
    assert (status["sessions"], status["connections"]) == (2, 2)


def test_removing_a_share_cuts_its_users_and_spares_the_others(pysmbd_server, smb_sessions):
    server = pysmbd_server(port_count=1)
    (port,) = server.ports
    extra = server.root / "extra"
    extra.mkdir()
    server.write_config(server.ports, shares=f'[[shares]]\nname = "extra"\npath = "{extra}"\n')
    assert server.reload().returncode == 0
    on_extra, on_data = smb_sessions(port, share="extra"), smb_sessions(port)
    assert on_extra.write_and_read("e.txt", b"extra") == b"extra"
    server.write_config(server.ports)
    assert server.reload().returncode == 0
    with pytest.raises(SMBConnectionClosed):  # the server closed that connection
        on_extra.write_and_read("e.txt", b"again")
    assert on_data.write_and_read("d.txt", b"data") == b"data"
    with pytest.raises(SMBResponseException):
        smb_sessions(port, share="extra")  # BAD_NETWORK_NAME now


def test_a_plain_sighup_reloads_too(pysmbd_server):
    """What ``systemctl reload`` or ``kill -HUP`` does, without the pysmbd reload command."""
    server = pysmbd_server(port_count=1)
    (first,) = server.ports
    (added,) = free_tcp_ports(1)
    server.write_config([first, added])
    server.process.send_signal(signal.SIGHUP)
    for _attempt in range(200):
        status = server.status_json()
        if status.get("generation") == 1:
            break
        time.sleep(0.05)
    assert [row["port"] for row in status["listeners"]] == sorted([first, added])
    assert not port_refuses(added)


def test_reload_with_another_config_file_is_refused(pysmbd_server):
    server = pysmbd_server(port_count=1)
    other = server.root / "other.toml"
    other.write_text(server.config.read_text())
    done = run_pysmbd("reload", "--config", str(other))
    assert done.returncode == 1
    assert f"reads {server.config}, not {other}" in done.stderr
    assert server.status_json()["generation"] == 0  # nothing was signalled
