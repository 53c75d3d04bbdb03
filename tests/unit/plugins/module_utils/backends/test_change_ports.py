"""change_ports, the flow every backend runs: the standard-ports policy, refusals before any change, check and diff.

The backend is the real pysmbd backend on a config in a temporary directory (no server running), so these tests
exercise what the module does on a host, minus the reload.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import (
    PortRequest,
    RefusedError,
    change_ports,
    plan_with_standard_ports,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.pysmbd import PysmbdBackend
from tests.support.accounts import E2E_PASSWORD, E2E_USER
from tests.support.net import free_tcp_ports
from tests.support.peers import pysmbd_command
from tests.support.pysmbd_server import prepare_pysmbd


def run(args):
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


def entry(port, transport="tcp"):
    return {"transport": transport, "port": port, "instances": "default"}


def manage_ports(backend, values, check_mode, diff_mode=False):
    return change_ports(backend, PortRequest.from_params(values), check_mode, diff_mode)


def params(ports, **overrides):
    values = {
        "ports": [{"transport": "tcp", "port": p, "instances": "default", "address": None} for p in ports],
        "state": "present",
        "exclusive": True,
        "standard_ports": "keep",
        "allow_no_listeners": False,
        "address": "127.0.0.1",
    }
    values.update(overrides)
    return values


@pytest.fixture
def backend(tmp_path):
    def make(ports):
        server = prepare_pysmbd(tmp_path, E2E_USER, E2E_PASSWORD, ports)
        return PysmbdBackend(str(server.config), run, pysmbd_command())

    return make


def test_keep_leaves_standard_ports_out_of_an_exclusive_plan():
    plan = plan_with_standard_ports([entry(445), entry(139), entry(4445)], [entry(14445)], "present", True, "keep")
    assert [(s["action"], s["port"]) for s in plan] == [("add", 14445), ("remove", 4445)]


def test_close_removes_standard_ports_even_without_exclusive():
    plan = plan_with_standard_ports([entry(445), entry(4445)], [entry(14445)], "present", False, "close")
    assert [(s["action"], s["port"]) for s in plan] == [("add", 14445), ("remove", 445)]


def test_absent_removes_a_listed_standard_port_with_keep():
    plan = plan_with_standard_ports([entry(445), entry(4445)], [entry(445)], "absent", False, "keep")
    assert [(s["action"], s["port"]) for s in plan] == [("remove", 445)]


def test_check_mode_reports_the_change_and_leaves_the_file(backend):
    old, new = free_tcp_ports(2)
    server = backend([old])
    before = open(server.config_path).read()
    result = manage_ports(server, params([new]), check_mode=True, diff_mode=True)
    assert result["changed"] is True
    assert result["before"] == [entry(old)] and result["after"] == [entry(new)]
    assert result["diff"] == {"before": f"tcp/{old} instances=default\n", "after": f"tcp/{new} instances=default\n"}
    assert result["listeners"]["after"] == [{"transport": "tcp", "address": "127.0.0.1", "port": new}]
    assert open(server.config_path).read() == before


def test_applying_twice_changes_once(backend):
    old, new = free_tcp_ports(2)
    server = backend([old])
    first = manage_ports(server, params([old, new]), check_mode=False)
    assert first["changed"] is True
    reread = PysmbdBackend(server.config_path, run, pysmbd_command())
    second = manage_ports(reread, params([old, new]), check_mode=False)
    assert second["changed"] is False and second["plan"] == []
    assert second["before"] == sorted([entry(old), entry(new)], key=lambda e: e["port"])


def test_zero_listeners_is_refused_unless_allowed(backend):
    (old,) = free_tcp_ports(1)
    server = backend([old])
    with pytest.raises(RefusedError, match="no listener at all"):
        manage_ports(server, params([]), check_mode=False)
    assert server.read().table == [entry(old)]
    allowed = manage_ports(server, params([], allow_no_listeners=True), check_mode=True)
    assert allowed["after"] == []


def test_a_port_held_by_another_process_is_refused_with_its_name(backend):
    old, taken = free_tcp_ports(2)
    server = backend([old])
    code = f"import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', {taken})); s.listen(); print(1, flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()
        name = open(f"/proc/{holder.pid}/comm").read().strip()
        with pytest.raises(RefusedError, match=rf"tcp/{taken} is in use by {name} \(pid {holder.pid}\)"):
            manage_ports(server, params([old, taken]), check_mode=True)
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_rdma_and_windows_instances_are_refused_on_pysmbd(backend):
    (old,) = free_tcp_ports(1)
    server = backend([old])
    bad = params([])
    bad["ports"] = [
        {"transport": "rdma", "port": 5445, "instances": "default", "address": None},
        {"transport": "tcp", "port": old, "instances": "none", "address": None},
    ]
    with pytest.raises(RefusedError) as refused:
        manage_ports(server, bad, check_mode=True)
    assert "rdma/5445: pysmbd has no rdma transport" in str(refused.value)
    assert f"tcp/{old}: instances=none is a Windows setting" in str(refused.value)


def test_a_pinned_address_is_written_exactly(backend):
    old, new = free_tcp_ports(2)
    server = backend([old])
    wanted = params([])
    wanted["ports"] = [
        {"transport": "tcp", "port": new, "instances": "default", "address": "::1"},
        {"transport": "tcp", "port": new, "instances": "default", "address": "127.0.0.1"},
    ]
    result = manage_ports(server, wanted, check_mode=False)
    assert result["after"] == [entry(new)]
    assert result["listeners"]["after"] == [
        {"transport": "tcp", "address": "::1", "port": new},
        {"transport": "tcp", "address": "127.0.0.1", "port": new},
    ]


def test_restore_puts_back_the_listeners_an_earlier_change_found(backend):
    old, new = free_tcp_ports(2)
    server = backend([old])
    change = manage_ports(server, params([new]), check_mode=False)
    assert change["after"] == [entry(new)]
    reread = PysmbdBackend(server.config_path, run, pysmbd_command())
    restored = change_ports(reread, reread.restore_request(change), check_mode=False)
    assert restored["after"] == [entry(old)]
    assert restored["listeners"]["after"] == change["listeners"]["before"]
    again = PysmbdBackend(server.config_path, run, pysmbd_command())
    assert change_ports(again, again.restore_request(change), check_mode=False)["changed"] is False


def test_a_bad_port_is_refused_naming_its_path_before_the_config_is_read(tmp_path):
    absent = PysmbdBackend(str(tmp_path / "absent.toml"), run, "pysmbd")
    with pytest.raises(RefusedError, match=r"ports\[0\]\.port: 0 is not a port"):
        manage_ports(absent, params([0]), check_mode=True)
