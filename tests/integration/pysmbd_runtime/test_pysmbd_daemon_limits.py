"""``pysmbd serve --daemon`` and the connection limits, against the installed command and real clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.support.net import free_tcp_ports
from tests.support.pysmbd_server import prepare_pysmbd, run_pysmbd


@pytest.fixture
def daemon_config(tmp_path):
    """A config like the other tests', but the server is started by the test with --daemon."""
    server = prepare_pysmbd(tmp_path / "daemon", "alice", "pw", [], mode="daemon")

    def write(ports):
        server.write_config(ports)
        return server.config

    yield server.root, write
    server.stop()


def test_daemon_detaches_writes_pidfile_and_stops_on_sigterm(daemon_config):
    root, write = daemon_config
    (port,) = free_tcp_ports(1)
    config = write([port])
    done = run_pysmbd("serve", "--config", config.name, "--daemon", cwd=str(config.parent))  # a relative path
    assert done.returncode == 0, done.stderr
    pid = int((root / "state" / "pysmbd.pid").read_text())
    assert os.getsid(pid) != os.getsid(0)  # its own session: no terminal, survives our exit
    status = run_pysmbd("status", "--config", str(config), "--json")
    assert status.returncode == 0 and f'"pid": {pid}' in status.stdout
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    assert '"event": "server_started"' in (root / "state" / "pysmbd.log").read_text()

    # The daemon left its directory (chdir "/") yet re-reads the right file on reload.
    (new_port,) = free_tcp_ports(1)
    write([port, new_port])
    reloaded = run_pysmbd("reload", "--config", str(config))
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    with socket.create_connection(("127.0.0.1", new_port), timeout=5):
        pass

    again = run_pysmbd("serve", "--config", str(config), "--daemon")
    assert again.returncode == 1 and f"another pysmbd (pid {pid}) already uses" in again.stderr

    os.kill(pid, signal.SIGTERM)
    for _attempt in range(200):
        if not (root / "state" / "pysmbd.pid").exists():
            break
        time.sleep(0.05)
    stopped = run_pysmbd("status", "--config", str(config), "--json")
    assert stopped.returncode == 3 and '"running": false' in stopped.stdout


def test_daemon_start_on_a_busy_port_fails_with_the_reason(daemon_config):
    _root, write = daemon_config
    (port,) = free_tcp_ports(1)
    config = write([port])
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        done = run_pysmbd("serve", "--config", str(config), "--daemon")
    assert done.returncode == 1
    assert f"cannot listen on tcp://127.0.0.1:{port}: address already in use" in done.stderr


def test_reload_and_status_without_a_server_say_so(daemon_config):
    _root, write = daemon_config
    config = write(free_tcp_ports(1))
    for command in (["reload", "--config", str(config)], ["status", "--config", str(config)]):
        done = run_pysmbd(*command)
        assert done.returncode == 3 and "pysmbd is not running" in done.stderr


def test_max_connections_refuses_extra_clients_and_spares_sessions(pysmbd_server, smb_sessions):
    server = pysmbd_server(port_count=1, server="max_connections = 2")
    (port,) = server.ports
    first, second = smb_sessions(port), smb_sessions(port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
        assert extra.recv(1) == b""  # accepted, then closed at once
    assert first.write_and_read("1.txt", b"one") == b"one"
    assert second.write_and_read("2.txt", b"two") == b"two"
    assert '"event": "connection_refused"' in server.log.read_text()


def test_idle_connection_is_dropped_and_the_client_can_come_back(pysmbd_server, smb_sessions):
    server = pysmbd_server(port_count=1, server="idle_timeout = 1")
    (port,) = server.ports
    with socket.create_connection(("127.0.0.1", port), timeout=20) as idle:
        assert idle.recv(1) == b""
    assert smb_sessions(port).write_and_read("back.txt", b"back") == b"back"


def test_idle_timeout_spares_a_connection_with_open_files(pysmbd_server, smb_sessions):
    server = pysmbd_server(port_count=1, server="idle_timeout = 1")
    session = smb_sessions(server.ports[0])
    handle = session.open_file("kept-open.txt")
    handle.write(b"unsaved work", 0)
    # Well past the idle timeout; a raw connection without files opened meanwhile is dropped.
    with socket.create_connection(("127.0.0.1", server.ports[0]), timeout=20) as idle:
        assert idle.recv(1) == b""
    assert handle.read(0, 12) == b"unsaved work"
    handle.close()


_FLOOD = """
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
flood = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) for _ in range(int(sys.argv[2]))]
print("connected", flush=True)
sys.stdin.read()  # hold them until the test closes our stdin
"""


def test_connections_that_never_log_in_cannot_lock_out_a_user(pysmbd_server, smb_sessions):
    """2,000 idle TCP connections once filled max_connections and refused every client for the idle timeout."""
    server = pysmbd_server(port_count=1, server="max_connections = 100")
    (port,) = server.ports
    working = smb_sessions(port)  # logged in before the flood: its slot is never taken
    # Another process holds the flood (smbprotocol's select() cannot take descriptors past 1024).
    flood = subprocess.Popen(
        [sys.executable, "-c", _FLOOD, str(port), "2000"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert flood.stdout is not None and flood.stdout.readline().strip() == "connected"
        late = smb_sessions(port)  # a user with credentials, after the flood
        assert late.write_and_read("late.txt", b"in") == b"in"
        assert working.write_and_read("early.txt", b"still") == b"still"
    finally:
        flood.communicate("", timeout=60)
    assert '"event": "connection_evicted"' in server.log.read_text()
