"""The "port already in use" refusal must look at addresses, as the kernel does (found by bench/fleet).

Many pysmbd instances on one machine, each on its own address (127.0.1.N, as in bench/fleet), move to the same
port number. A listener on 127.0.1.1:P does not stop another from binding 127.0.1.2:P, so server_ports must not
refuse that move; it must still refuse a port held on the same address, or on the wildcard address.
"""

from __future__ import annotations

import secrets
import socket

import pytest

from tests.support.net import free_tcp_ports
from tests.support.plays import localhost_play, pysmbd_ports_task, result_of
from tests.support.pysmbd_server import PysmbdServer, prepare_pysmbd

pytestmark = pytest.mark.slow


def free_port_on(addresses: list) -> int:
    while True:
        port = free_tcp_ports(1)[0]
        if all(_bindable(address, port) for address in addresses):
            return port


def _bindable(address: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def pysmbd_on(root, address: str, port: int) -> PysmbdServer:
    return prepare_pysmbd(root, "u", secrets.token_urlsafe(12), [port], address=address, mode="daemon")


def move_task(server: PysmbdServer, address: str, port: int, name: str) -> str:
    return pysmbd_ports_task(server.config, [port], name=name, address=address, extra="ignore_errors: true")


def test_a_port_held_on_another_address_is_no_conflict_but_the_same_address_is(tmp_path, pysmbd_servers):
    shared = free_port_on(["127.0.1.1", "127.0.1.2", "127.0.1.3"])
    first = pysmbd_servers(pysmbd_on(tmp_path / "one", "127.0.1.1", shared))
    second_port = free_port_on(["127.0.1.2"])
    second = pysmbd_servers(pysmbd_on(tmp_path / "two", "127.0.1.2", second_port))
    third_port = free_port_on(["127.0.1.1"])
    third = pysmbd_servers(pysmbd_on(tmp_path / "three", "127.0.1.1", third_port))

    run = localhost_play(
        tmp_path,
        move_task(second, "127.0.1.2", shared, "other address") + move_task(third, "127.0.1.1", shared, "same address"),
    )
    other = result_of(run, "other address")
    assert other.get("failed") is not True, other.get("msg")
    assert second.listening_ports() == [shared] and first.listening_ports() == [shared]

    same = result_of(run, "same address")
    assert same.get("failed") is True and f"tcp/{shared} is in use by pysmbd (pid {first.pid()})" in same["msg"]
    assert third.listening_ports() == [third_port]
