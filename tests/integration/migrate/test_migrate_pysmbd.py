"""The migrate role on a fleet of three pysmbd servers (each on its own loopback address), a Samba server and an
emulated Windows server (which moves its SMB over QUIC port), through ansible-playbook.

What a user would notice: sessions opened on the old port keep reading and writing through preflight, add and the
client move; the old port refuses and the new one answers at the end; a second run changes nothing; a preflight
problem on one server stops the run before any server changes; a failure after the add rolls every server back;
a stopped run resumes from its state file, and a rollback puts every server back on its old port.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import List
from xml.etree import ElementTree

import pytest

from tests.integration.migrate.conftest import (
    MAPPING_PASSWORD,
    PASSWORD,
    USER,
    Fleet,
    global_mappings,
    map_globally,
    policy,
    set_policy,
    windows_quic_session,
)
from tests.support.ansible_run import PlayRun, run_playbook
from tests.support.quic_probe import probe_loopback_quic
from tests.support.smb_session import SmbSession
from tests.support.windows_host.network_cmdlets import plant_excluded_range, plant_listener

# Several ansible-playbook runs each, on a shared 2-core machine: more than the suite's default 300 s per test.
pytestmark = [pytest.mark.slow, pytest.mark.peer, pytest.mark.timeout(900)]

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def migrate(fleet: Fleet, *extra: str, **inventory: dict) -> PlayRun:
    return run_playbook(fleet.playbook, fleet.inventory(**inventory), "-f", "5", *extra, timeout=600)


def recap(run: PlayRun) -> dict:
    return {host: {"changed": int(c), "failed": int(f) + int(u)} for host, _ok, c, u, f in RECAP.findall(run.stdout)}


def completed(fleet: Fleet) -> dict:
    return {host: entry["completed"] for host, entry in fleet.state()["hosts"].items()}


def quic_status(host, port: int) -> str:
    """What verify's QUIC probe finds on the emulated Windows server's ``port``: "smb" or "no SMB"."""
    outcome = probe_loopback_quic(port, fingerprint_sha256=host.smb.fingerprint_sha256)
    return "smb" if outcome.status == "smb" else "no SMB"


def show(run: PlayRun) -> str:
    return f"rc={run.returncode}\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"


@dataclass
class Client:
    """A session that writes and reads a file every 100 ms and counts what failed, and when."""

    session: SmbSession
    name: str
    ok: int = 0
    failures: List[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        payload = self.name.encode() * 64
        while not self.stop.is_set():
            try:
                assert self.session.write_and_read(self.name, payload) == payload
                self.ok += 1
            except Exception:
                self.failures.append(time.monotonic())
            self.stop.wait(0.1)


def test_fleet_moves_without_losing_an_operation_then_reports_no_change(
    fleet: Fleet, samba_server, windows_server, windows_client
) -> None:
    windows_hosts, windows = windows_client
    win_servers, win_server, old_quic, new_quic = windows_server
    old, new = fleet.old_port, fleet.new_port
    old_samba, new_samba = (samba_server["samba1"][key]["port"] for key in ("migrate_from", "migrate_to"))
    set_policy(
        windows,
        [f"srv1:tcp:{old}", "other:tcp:1234", "srv2:quic:8443", f"samba1:tcp:{old_samba}", f"win-srv1:quic:{old_quic}"],
    )
    assert quic_status(win_server, old_quic) == "smb"
    # Up to 120 s for the Linux servers' sessions to leave; Windows cannot tell, so its drain is its own 2 s wait.
    drain = {"migrate_drain_timeout": 120}
    samba = {name: {**variables, **drain} for name, variables in samba_server.items()}
    hosts = {
        "host_vars": {server.name: drain for server in fleet.servers},
        "more_servers": {**samba, **win_servers},
        "windows_clients": windows_hosts,
    }
    # The Windows server moves QUIC ports, the others TCP ports: one migration, named once for all of them.
    named = ("-e", "migrate_name=fleet")
    clients = [
        Client(SmbSession(fleet.old_port, USER, PASSWORD, host=s.address), f"{s.name}.bin") for s in fleet.servers
    ]
    # And one over SMB over QUIC on the Windows server's old QUIC port.
    clients.append(Client(windows_quic_session(win_server, old_quic), "win-srv1.bin"))
    threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    outcome: dict = {}
    runner = threading.Thread(
        target=lambda: outcome.update(run=migrate(fleet, *named, "-e", f"migrate_report_dir={fleet.work}", **hosts))
    )
    runner.start()
    # The clients move once the state file says the client phase is done on every server: until then (preflight,
    # add, verify, clients) not one operation may fail. Then they leave the old port, as moved clients do.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and runner.is_alive():
        if (
            fleet.state_file.exists()
            and all("clients" in done for done in completed(fleet).values())
            and len(completed(fleet)) == len(fleet.servers) + len(samba_server) + len(win_servers)
        ):
            break
        time.sleep(0.2)
    moved_at = time.monotonic()
    # The drain waits for these clients to leave: a run that ended already has failed.
    if not runner.is_alive():
        for client in clients:
            client.stop.set()
        pytest.fail("the migration ended before its drain:\n" + show(outcome["run"]))
    failures_through_clients = sum(1 for c in clients for t in c.failures if t <= moved_at)
    for client in clients:
        client.stop.set()
    for thread in threads:
        thread.join(5)
    for client in clients:
        client.session.close()
    # New sessions after the client phase land on the new port, while the old one still drains.
    new_sessions = [SmbSession(fleet.new_port, USER, PASSWORD, host=s.address) for s in fleet.servers]
    new_sessions.append(windows_quic_session(win_server, new_quic))
    try:
        for session in new_sessions:
            assert session.write_and_read("after.bin", b"moved") == b"moved"
        runner.join(600)
        run = outcome["run"]
        assert run.returncode == 0, show(run)
        assert all(c.ok > 0 for c in clients)
        assert failures_through_clients == 0, [c.failures for c in clients]
        for server in fleet.servers:
            by_listener = server.status()["connections_by_listener"]
            assert [row["port"] for row in by_listener] == [fleet.new_port], by_listener
    finally:
        for session in new_sessions:
            session.close()
    for server in fleet.servers:
        assert server.listening() == [fleet.new_port]
        assert server.answers(fleet.new_port)
        assert not server.answers(fleet.old_port)
    samba1 = fleet.servers[0].__class__("samba1", "127.0.0.1", fleet.work)
    assert samba1.answers(new_samba) and not samba1.answers(old_samba)
    # The Windows server: its table holds the new QUIC port alone, which answers SMB over QUIC; the old one is silent.
    assert [(e["TransportType"], e["Port"]) for e in win_server.state.alternative_ports] == [("Quic", new_quic)]
    assert (quic_status(win_server, new_quic), quic_status(win_server, old_quic)) == ("smb", "no SMB")
    assert all(done == ["preflight", "add", "clients", "drain", "remove"] for done in completed(fleet).values())
    assert sorted(completed(fleet)) == ["samba1", "srv1", "srv2", "srv3", "win-srv1"]
    drained = fleet.state()["hosts"]["win-srv1"]["phases"]["drain"]["result"]
    assert (drained["drained"], drained["how"]) == (False, "not known: waited 2 s"), drained
    # The new entries come first; the stale ones for the old port are gone; another server's entry and another
    # transport's entry stay, after them.
    assert policy(windows) == [
        f"srv1:tcp:{new}",
        f"srv2:tcp:{new}",
        f"srv3:tcp:{new}",
        f"samba1:tcp:{new_samba}",
        f"win-srv1:quic:{new_quic}",
        "other:tcp:1234",
        "srv2:quic:8443",
    ]

    # The batch's report: one matrix per phase in the HTML page, and nmap XML of the remove phase in which every
    # server's new port is open and its old one closed.
    html = (fleet.work / "fleet-srv1.html").read_text()
    assert all(host in html for host in ("srv1", "srv2", "srv3", "samba1", "win-srv1"))
    scan = ElementTree.parse(fleet.work / "fleet-srv1-remove.xml").getroot()
    states = [(p.get("protocol"), p.get("portid"), p.find("state").get("state")) for p in scan.iter("port")]
    expected = [("tcp", str(new), "open")] * 3 + [("tcp", str(old), "closed")] * 3
    expected += [("tcp", str(new_samba), "open"), ("tcp", str(old_samba), "closed")]
    expected += [("udp", str(new_quic), "open"), ("udp", str(old_quic), "closed")]
    assert sorted(states) == sorted(expected), states

    again = migrate(fleet, *named, **hosts)
    assert again.returncode == 0, show(again)
    everyone = ["samba1", "srv1", "srv2", "srv3", "win-srv1"]
    assert recap(again) == {name: {"changed": 0, "failed": 0} for name in everyone}, show(again)


def test_preflight_that_finds_the_new_port_taken_changes_nothing(fleet: Fleet, windows_server, windows_client) -> None:
    windows_hosts, windows = windows_client
    win_servers, win_server, old_quic, new_quic = windows_server
    # On the Windows server another program holds the new QUIC port, which also lies in an administered excluded
    # range: two reasons, each its own line.
    plant_listener(win_server.state, "udp", new_quic, 2216, "nginx")
    plant_excluded_range(win_server.state, "udp", new_quic, new_quic + 9, administered=True)
    # A global mapping to srv3 on the old port that the client's model does not describe: Windows does not give its
    # credential back, so it could not follow srv3; the preflight says so along with srv2's taken port.
    map_globally(windows, "\\\\srv3\\data", fleet.old_port, "X:")
    squatter = socket.socket()
    squatter.bind((fleet.servers[1].address, fleet.new_port))
    squatter.listen()
    try:
        run = migrate(fleet, "-e", "migrate_name=fleet", more_servers=win_servers, windows_clients=windows_hosts)
    finally:
        squatter.close()
    assert run.returncode != 0
    assert "Preflight failed; nothing was changed on any server" in run.stdout, show(run)
    assert "- srv2: " in run.stdout and str(fleet.new_port) in run.stdout, show(run)
    assert re.search(
        r"- srv3: win1: its global mapping X: -> .*srv3.*data on tcp/\d+ cannot be recreated", run.stdout
    ), show(run)
    windows_lines = [line.strip() for line in run.stdout.splitlines() if line.strip().startswith("- win-srv1: ")]
    assert len(windows_lines) == 2, show(run)
    assert any(f"quic/{new_quic}" in line and "nginx (pid 2216)" in line for line in windows_lines), windows_lines
    assert any("administered excluded port range" in line for line in windows_lines), windows_lines
    for server in fleet.servers:
        assert server.listening() == [fleet.old_port]
    assert [(e["TransportType"], e["Port"]) for e in win_server.state.alternative_ports] == [("Quic", old_quic)]
    assert completed(fleet) == {"srv1": ["preflight"], "srv3": [], "srv2": [], "win-srv1": []}
    assert global_mappings(windows) == [("X:", "\\\\srv3\\data", "tcp", fleet.old_port)]


def test_failing_verify_after_add_rolls_every_server_back(fleet: Fleet) -> None:
    # srv3 is verified at an address where nothing listens: its proof fails after every server added the port.
    run = migrate(fleet, host_vars={"srv3": {"migrate_verify_address": "127.0.13.250"}})
    assert run.returncode != 0
    assert "The add phase failed" in run.stdout and "srv3" in run.stdout, show(run)
    for server in fleet.servers:
        assert server.listening() == [fleet.old_port]
        assert not server.answers(fleet.new_port)
    state = fleet.state()
    assert {host: entry["phases"]["add"]["status"] for host, entry in state["hosts"].items()} == {
        "srv1": "rolled_back",
        "srv2": "rolled_back",
        "srv3": "rolled_back",
    }


def test_stopped_run_resumes_from_its_state_file_and_rolls_back(fleet: Fleet, windows_client) -> None:
    windows_hosts, windows = windows_client
    old, new = fleet.old_port, fleet.new_port
    seeded = [f"srv3:tcp:{old}", "other:tcp:1234"]
    set_policy(windows, seeded)
    # Global mappings with the old port: two to fleet servers, described in the client's model with their
    # credential, and one to a server outside the fleet, which stays where it is.
    map_globally(windows, "\\\\srv1\\data", old, "Z:")
    map_globally(windows, "\\\\SRV2\\data", old)
    map_globally(windows, "\\\\other\\data", old, "Y:")
    credential = {"username": "FILES\\svc", "password": MAPPING_PASSWORD}
    model = [
        {"local_path": "Z:", "remote_path": "\\\\srv1\\data", "tcp_port": old, **credential},
        {"remote_path": "\\\\SRV2\\data", "tcp_port": old, **credential},
    ]
    windows_hosts["win1"]["smb_alternative_ports"] = {"client": {"mappings": model}}
    mapped_before = global_mappings(windows)
    stopped = migrate(fleet, "-e", "migrate_stop_after=add", windows_clients=windows_hosts)
    assert stopped.returncode == 0, show(stopped)
    for server in fleet.servers:
        assert server.listening() == sorted([fleet.old_port, fleet.new_port])
    added_at = {host: entry["phases"]["add"]["time"] for host, entry in fleet.state()["hosts"].items()}
    time.sleep(1.1)  # state times have a resolution of one second: a second add would show

    assert policy(windows) == seeded
    resumed = migrate(fleet, "-e", "migrate_stop_after=clients", windows_clients=windows_hosts)
    assert resumed.returncode == 0, show(resumed)
    assert {host: entry["phases"]["add"]["time"] for host, entry in fleet.state()["hosts"].items()} == added_at
    assert all(done == ["preflight", "add", "clients"] for done in completed(fleet).values())
    assert policy(windows)[:3] == [f"srv{n}:tcp:{fleet.new_port}" for n in (1, 2, 3)]
    assert global_mappings(windows) == [
        ("", "\\\\SRV2\\data", "tcp", new),
        ("Y:", "\\\\other\\data", "tcp", old),
        ("Z:", "\\\\srv1\\data", "tcp", new),
    ]
    moved = fleet.state()["hosts"]["srv1"]["phases"]["clients"]["result"]["mappings"]
    assert [(row["client"], [m["local_path"] for m in row["moved"]]) for row in moved] == [("win1", ["Z:"])]
    assert MAPPING_PASSWORD not in fleet.state_file.read_text()

    rolled = migrate(fleet, "-e", "migrate_action=rollback", windows_clients=windows_hosts)
    assert rolled.returncode == 0, show(rolled)
    for server in fleet.servers:
        assert server.listening() == [fleet.old_port]
        assert not server.answers(fleet.new_port)
    assert completed(fleet) == {}
    assert policy(windows) == seeded
    assert global_mappings(windows) == mapped_before
