"""With serve_smb, the emulated Windows host serves real SMB over QUIC on its QUIC alternative ports: a port added
with server_ports answers verify's QUIC probe with the host's certificate, a removed one stops answering, and a
session on a port that stays keeps working while another port is removed."""

from __future__ import annotations

import secrets

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_backend import windows_server_ports
from tests.support.accounts import WINDOWS_USER
from tests.support.net import free_udp_port
from tests.support.quic_probe import probe_loopback_quic
from tests.support.windows_host import EmulatedWindowsHost, HostUser
from tests.support.windows_host.state import WindowsState, quic_ready
from tests.support.windows_over_winrm import target_of

pytestmark = pytest.mark.peer


def ports(target, state: str, *numbers: int) -> dict:
    args = {"ports": [{"transport": "quic", "port": n} for n in numbers], "state": state, "firewall": False}
    return windows_server_ports(target, args, False)


def status(host: EmulatedWindowsHost, port: int) -> tuple:
    outcome = probe_loopback_quic(port, fingerprint_sha256=host.smb.fingerprint_sha256)
    return outcome.status, outcome.certificate_sha256 == host.smb.fingerprint_sha256


def test_quic_alternative_ports_serve_smb_while_they_exist():
    password = "Pw-" + secrets.token_urlsafe(12)
    first, second = free_udp_port(), free_udp_port()
    with EmulatedWindowsHost(
        [HostUser(WINDOWS_USER, password)], serve_smb=True, initial_state=quic_ready(WindowsState())
    ) as host:
        target = target_of(host, password)
        assert probe_loopback_quic(first, validate_certs=False).status != "smb"

        assert ports(target, "present", first)["changed"] is True
        assert status(host, first) == ("smb", True)

        ports(target, "present", second)
        assert (status(host, first), status(host, second)) == (("smb", True), ("smb", True))
        pid = host.smb.pid

        ports(target, "absent", first)
        assert probe_loopback_quic(first, validate_certs=False).status != "smb"
        assert status(host, second) == ("smb", True)
        assert host.smb.pid == pid  # a reload, not a restart: sessions on the port that stays live on

        ports(target, "absent", second)
        assert probe_loopback_quic(second, validate_certs=False).status != "smb"
        assert host.smb.errors == []
