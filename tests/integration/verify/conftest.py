"""Fixtures of the verify tests: Samba's smbd on alternative ports (tests/support/samba.py), a blackholed
namespace (tests/support/blackhole_netns.py) and Python's own HTTP server."""

from __future__ import annotations

import http.server
import threading

import pytest

from tests.support.accounts import SAMBA_PASSWORD, SAMBA_USER
from tests.support.blackhole_netns import blackholed_namespace
from tests.support.net import free_tcp_ports
from tests.support.samba import start_samba


@pytest.fixture(scope="package")
def samba(tmp_path_factory):
    """One smbd for the package, on two free alternative ports, with user ``verifier`` and share ``data``."""
    ports = free_tcp_ports(2)
    server = start_samba(tmp_path_factory.mktemp("verify-samba"), ports, {SAMBA_USER: SAMBA_PASSWORD})
    yield server
    server.stop()


@pytest.fixture
def blackhole():
    with blackholed_namespace() as namespace:
        yield namespace


@pytest.fixture
def http_server():
    """Python's own HTTP server on a free loopback port; yields the port."""

    class QuietHandler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
