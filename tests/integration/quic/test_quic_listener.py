"""The QUIC listener inside pysmbd's server: ``pysmbd status``, a bad certificate, a UDP port already taken."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.support.polling import wait_until
from tests.support.pysmbd_server import QUIC_RUNNER, start_quic_pysmbd
from tests.support.quic_probe import probe_loopback_quic

pytestmark = pytest.mark.timeout(90)


def probe(port: int, timeout: float = 3.0):
    return probe_loopback_quic(port, timeout=timeout, validate_certs=False)


def test_pysmbd_status_lists_the_quic_listener(quic_pysmbd) -> None:
    rows = {(row["transport"], row["port"]): row for row in quic_pysmbd.status()["listeners"]}
    assert rows[("quic", quic_pysmbd.quic_port)]["state"] == "listening"
    assert rows[("tcp", quic_pysmbd.tcp_port)]["state"] == "listening"


def test_a_key_that_does_not_load_fails_the_start_naming_the_files(tmp_path) -> None:
    # Start once for a valid layout, then break the key and start again.
    server = start_quic_pysmbd(tmp_path / "pysmbd")
    server.stop()
    server.certificate.private_key.write_text("not a PEM key\n")
    run = subprocess.run(
        [sys.executable, str(QUIC_RUNNER), "--config", str(server.config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    first = run.stdout.splitlines()[0]
    assert first.startswith("FAILED: ")
    assert f"quic://127.0.0.1:{server.quic_port}" in first
    assert str(server.certificate.private_key) in first and "gen-cert" in first


def test_a_taken_udp_port_fails_the_reload_and_the_old_quic_port_keeps_serving(quic_pysmbd) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        old_port = quic_pysmbd.quic_port
        quic_pysmbd.write_config(quic_port=taken)
        answer = quic_pysmbd.reload()
        assert answer.startswith("RELOADED failed"), answer
        assert f"quic://127.0.0.1:{taken}" in answer and "in use" in answer
        rows = {(row["transport"], row["port"]): row["state"] for row in quic_pysmbd.status()["listeners"]}
        assert rows[("quic", taken)] == "failed"
        assert rows[("quic", old_port)] == "listening"
    kept = probe(old_port)
    assert (kept.status, kept.answer.dialect) == ("smb", "3.1.1"), kept.error
    # Once the port is free, the same config reloads cleanly and the old port closes.
    assert quic_pysmbd.reload() == "RELOADED ok"
    assert probe(taken).status == "smb"
    # The old port's socket closes once the probe's connection to it has drained.
    assert wait_until(lambda: probe(old_port, timeout=1.0).status == "refused", timeout=15)


def test_at_max_connections_a_new_quic_client_is_refused_and_the_first_keeps_working(tmp_path) -> None:
    from .test_smb_over_quic import QuicSession

    server = start_quic_pysmbd(tmp_path / "pysmbd", server_settings="max_connections = 1")
    try:
        first = QuicSession(server.quic_port, str(server.certificate.certificate))
        try:
            refused = probe(server.quic_port)
            assert refused.status == "not_smb"
            assert "server busy: max_connections (1) reached" in refused.error
            first.put("still-here.txt", b"first session unharmed\n")
            assert first.get("still-here.txt") == b"first session unharmed\n"
        finally:
            first.close()
        # The slot is free again once the first client has gone.
        assert wait_until(lambda: probe(server.quic_port).status == "smb", timeout=15)
    finally:
        server.stop()
