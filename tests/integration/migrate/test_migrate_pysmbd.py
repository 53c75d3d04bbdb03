"""The migrate role on a fleet of three pysmbd servers (each on its own loopback address), through ansible-playbook.

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

from tests.integration.migrate.conftest import PASSWORD, USER, Fleet, policy, set_policy
from tests.support.ansible_run import PlayRun, run_playbook
from tests.support.smb_session import SmbSession

# Several ansible-playbook runs each, on a shared 2-core machine: more than the suite's default 300 s per test.
pytestmark = [pytest.mark.slow, pytest.mark.peer, pytest.mark.timeout(900)]

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def migrate(fleet: Fleet, *extra: str, **inventory: dict) -> PlayRun:
    return run_playbook(fleet.playbook, fleet.inventory(**inventory), "-f", "5", *extra, timeout=600)


def recap(run: PlayRun) -> dict:
    return {host: {"changed": int(c), "failed": int(f) + int(u)} for host, _ok, c, u, f in RECAP.findall(run.stdout)}


def completed(fleet: Fleet) -> dict:
    return {host: entry["completed"] for host, entry in fleet.state()["hosts"].items()}


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
    fleet: Fleet, samba_server, windows_client
) -> None:
    windows_hosts, windows = windows_client
    old, new = fleet.old_port, fleet.new_port
    set_policy(windows, [f"srv1:tcp:{old}", "other:tcp:1234", "srv2:quic:8443", f"samba1:tcp:{old}"])
    hosts = {"more_servers": samba_server, "windows_clients": windows_hosts}
    clients = [
        Client(SmbSession(fleet.old_port, USER, PASSWORD, host=s.address), f"{s.name}.bin") for s in fleet.servers
    ]
    threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    outcome: dict = {}
    runner = threading.Thread(
        target=lambda: outcome.update(
            run=migrate(fleet, "-e", "migrate_drain_timeout=120", "-e", f"migrate_report_dir={fleet.work}", **hosts)
        )
    )
    runner.start()
    # The clients move once the state file says the client phase is done on every server: until then (preflight,
    # add, verify, clients) not one operation may fail. Then they leave the old port, as moved clients do.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and runner.is_alive():
        if (
            fleet.state_file.exists()
            and all("clients" in done for done in completed(fleet).values())
            and len(completed(fleet)) == len(fleet.servers) + len(samba_server)
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
    samba = fleet.servers[0].__class__("samba1", "127.0.0.1", fleet.work)
    assert samba.answers(new) and not samba.answers(old)
    assert all(done == ["preflight", "add", "clients", "drain", "remove"] for done in completed(fleet).values())
    assert sorted(completed(fleet)) == ["samba1", "srv1", "srv2", "srv3"]
    # The new entries come first; the stale ones for the old port are gone; another server's entry and another
    # transport's entry stay, after them.
    assert policy(windows) == [
        f"srv1:tcp:{new}",
        f"srv2:tcp:{new}",
        f"srv3:tcp:{new}",
        f"samba1:tcp:{new}",
        "other:tcp:1234",
        "srv2:quic:8443",
    ]

    # The batch's report: one matrix per phase in the HTML page, and nmap XML of the remove phase in which every
    # server's new port is open and its old one closed.
    name = f"tcp-{old}-to-tcp-{new}-srv1"
    html = (fleet.work / f"{name}.html").read_text()
    assert all(host in html for host in ("srv1", "srv2", "srv3", "samba1"))
    scan = ElementTree.parse(fleet.work / f"{name}-remove.xml").getroot()
    states = [(p.get("portid"), p.find("state").get("state")) for p in scan.iter("port")]
    assert sorted(states) == sorted([(str(new), "open")] * 4 + [(str(old), "closed")] * 4), states

    again = migrate(fleet, **hosts)
    assert again.returncode == 0, show(again)
    assert recap(again) == {name: {"changed": 0, "failed": 0} for name in ["samba1", "srv1", "srv2", "srv3"]}, show(
        again
    )


def test_preflight_that_finds_the_new_port_taken_changes_nothing(fleet: Fleet) -> None:
    squatter = socket.socket()
    squatter.bind((fleet.servers[1].address, fleet.new_port))
    squatter.listen()
    try:
        run = migrate(fleet)
    finally:
        squatter.close()
    assert run.returncode != 0
    assert "Preflight failed; nothing was changed on any server" in run.stdout, show(run)
    assert "- srv2: " in run.stdout and str(fleet.new_port) in run.stdout, show(run)
    for server in fleet.servers:
        assert server.listening() == [fleet.old_port]
    assert completed(fleet) == {"srv1": ["preflight"], "srv3": ["preflight"], "srv2": []}


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
    seeded = [f"srv3:tcp:{fleet.old_port}", "other:tcp:1234"]
    set_policy(windows, seeded)
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

    rolled = migrate(fleet, "-e", "migrate_action=rollback", windows_clients=windows_hosts)
    assert rolled.returncode == 0, show(rolled)
    for server in fleet.servers:
        assert server.listening() == [fleet.old_port]
        assert not server.answers(fleet.new_port)
    assert completed(fleet) == {}
    assert policy(windows) == seeded
