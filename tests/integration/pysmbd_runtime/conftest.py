"""A real pysmbd process (the installed ``pysmbd`` command) on free loopback ports, and SMB clients for it.

``pysmbd_server(port_count=2, server="max_connections = 3")`` starts one (tests/support/pysmbd_server.py) with a
share ``data`` and waits until its status file shows it listening. Every process is stopped by a finalizer.
smbclient and smbprotocol are the peers; a missing one fails the test with the package name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List

import pytest

from tests.support.accounts import RUNTIME_PASSWORD, RUNTIME_USER
from tests.support.net import free_tcp_ports
from tests.support.pysmbd_server import PysmbdServer, start_pysmbd, stopped_at_exit
from tests.support.smb_session import SmbSession


@pytest.fixture
def pysmbd_server(tmp_path: Path) -> Callable[..., PysmbdServer]:
    """Factory: ``pysmbd_server(port_count=2, server="max_connections = 3", shares=<more [[shares]]>)``."""
    with stopped_at_exit() as started:

        def start(port_count: int = 1, *, server: str = "", shares: str = "") -> PysmbdServer:
            root = tmp_path / f"pysmbd{len(started)}"
            started.append(
                start_pysmbd(
                    root,
                    RUNTIME_USER,
                    RUNTIME_PASSWORD,
                    free_tcp_ports(port_count),
                    server_settings=server,
                    more_shares=shares,
                    share_settings='comment = "Team data"',
                )
            )
            return started[-1]

        yield start


@pytest.fixture
def smb_sessions():
    """Factory for SmbSession objects (as the runtime account by default) that are all disconnected at the end."""
    opened: List[SmbSession] = []

    def open_session(port: int, *, user: str = RUNTIME_USER, password: str = RUNTIME_PASSWORD, **kwargs) -> SmbSession:
        session = SmbSession(port, user, password, **kwargs)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()
