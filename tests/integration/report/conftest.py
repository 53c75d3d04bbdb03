"""The fleet the report tests read: ``fleet_run`` starts two pysmbd servers and one Samba, verifies the fleet,
moves one server to a new port with server_ports, verifies again and writes the report of both phases
(tests/support/report_fleet.py). The tests then read the files it wrote with the tools a person would use:
Chromium, ndiff and xsltproc.
"""

from __future__ import annotations

import json

import pytest

from tests.support.accounts import REPORT_PASSWORD, REPORT_USER
from tests.support.ansible_run import run_playbook
from tests.support.net import free_tcp_ports, free_udp_port
from tests.support.report_fleet import (
    PYSMBD_ADDRESSES,
    FleetRun,
    fleet_inventory,
    fleet_playbook,
    start_pysmbd,
    wait_listening,
)
from tests.support.samba import start_samba


@pytest.fixture(scope="package")
def fleet_run(tmp_path_factory) -> FleetRun:
    root = tmp_path_factory.mktemp("report-fleet")
    out = root / "out"
    (out / "check").mkdir(parents=True)
    old, new, fs2_port, samba_port = free_tcp_ports(4)
    ports = {"old": old, "new": new, "fs2": fs2_port, "samba": samba_port, "quic": free_udp_port()}
    servers = []
    samba = None
    try:
        fs1 = start_pysmbd(root, "fs1", PYSMBD_ADDRESSES["fs1"], old)
        servers.append(fs1)
        servers.append(start_pysmbd(root, "fs2", PYSMBD_ADDRESSES["fs2"], fs2_port, ports["quic"]))
        # Samba listens on 127.0.0.1 (interfaces = lo).
        samba = start_samba(root, [samba_port], {REPORT_USER: REPORT_PASSWORD})
        wait_listening(fs1, [old])
        wait_listening(servers[1], [fs2_port, ports["quic"]])
        hosts = {"fs1": fs1.address, "fs2": servers[1].address, "samba": "127.0.0.1"}
        playbook = root / "fleet.yml"
        playbook.write_text(json.dumps(fleet_playbook(fs1), indent=2))  # JSON is YAML
        inventory = root / "inventory.yml"
        inventory.write_text(json.dumps(fleet_inventory(out, hosts, ports, servers[1].fingerprint), indent=2))
        run = run_playbook(playbook, inventory, timeout=240)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        yield FleetRun(run, out, ports, list(hosts))
    finally:
        for server in servers:
            server.stop()
        if samba is not None:
            samba.stop()
