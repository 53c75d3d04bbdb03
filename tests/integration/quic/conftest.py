"""Real SMB over QUIC peers: pysmbd with a QUIC listener (tests/support/pysmbd_server.py), and a certificate
that did not sign the server's."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from pysmbd.server.certs import GeneratedCertificate, generate_self_signed
from tests.support.pysmbd_server import PysmbdServer, start_quic_pysmbd


@pytest.fixture
def quic_pysmbd(tmp_path: Path) -> Iterator[PysmbdServer]:
    """pysmbd with one TCP and one QUIC listener on free loopback ports, a self-signed certificate and one share."""
    server = start_quic_pysmbd(tmp_path / "pysmbd")
    yield server
    server.stop()


@pytest.fixture
def other_ca(tmp_path: Path) -> GeneratedCertificate:
    """A certificate that did not sign the server's: trusting only it must fail the handshake."""
    return generate_self_signed(tmp_path / "other" / "ca.pem", tmp_path / "other" / "ca-key.pem", ["localhost"])
