"""A WinRM connection dropped in the middle of the Windows scenario's converge: a clear error, then convergence.

tests/integration/windows/test_server_ports_over_winrm.py (the Windows helper's
``test_a_connection_dropped_during_the_apply_is_clear_and_a_rerun_converges``) covers one server_ports call at
the Python level. Here the whole molecule ``windows`` converge (server ports, two mappings, the port policy and
the QUIC switch, several WinRM shells) runs through ansible-playbook against an emulated host that drops the
connection during its Nth executor run, N chosen to fall in different tasks. The play must fail on that host
with the WinRM error (host, port and what to do), and a rerun must leave the host in exactly the state a
fault-free converge gives a twin host.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.secrets.secret_search import distinctive_password
from tests.support.ansible_run import PlayRun, run_playbook
from tests.support.plays import winrm_host_vars
from tests.support.windows_host import EmulatedWindowsHost, HostUser
from tests.support.windows_host.state import WindowsState, quic_ready

CONVERGE = Path(__file__).resolve().parents[2] / "molecule" / "windows" / "converge.yml"
HOST = "win-emulated"

pytestmark = pytest.mark.slow


def converge(tmp_path: Path, host: EmulatedWindowsHost, password: str, name: str) -> PlayRun:
    inventory = tmp_path / f"{name}.inventory.json"
    host_vars = winrm_host_vars(host.address, "Administrator", password)
    # the account the scenario's global mappings use (molecule's inventory reads it from a generated file)
    host_vars.update(
        molecule_windows_share_user="CONTOSO\\svc-files", molecule_windows_share_password="Share-" + password
    )
    inventory.write_text(json.dumps({"all": {"children": {"windows": {"hosts": {HOST: host_vars}}}}}))
    playbook = tmp_path / f"{name}.yml"
    shutil.copyfile(CONVERGE, playbook)
    return run_playbook(playbook, inventory, timeout=240)


def comparable(state: dict) -> dict:
    """The host's state with its global mappings in one order: Get-SmbGlobalMapping documents none (assumed
    unordered), and a rerun that recreates the mapping the drop interrupted lists it last."""
    mappings = sorted(
        state.get("global_mappings", []), key=lambda mapping: (mapping["RemotePath"], mapping["LocalPath"])
    )
    return {**state, "global_mappings": mappings}


def failure_message(result: dict) -> str:
    """The task's message, or for a loop the messages of the items that failed."""
    items = [item.get("msg", "") for item in result.get("results", []) if item.get("failed")]
    return " | ".join(items) if items else result.get("msg", "")


@pytest.fixture(scope="module")
def fault_free_state(tmp_path_factory) -> tuple:
    """The state a fault-free converge gives a fresh host, and how many executor runs it took."""
    password = distinctive_password("Twin")
    with EmulatedWindowsHost([HostUser("Administrator", password)], initial_state=quic_ready(WindowsState())) as twin:
        done = converge(tmp_path_factory.mktemp("twin"), twin, password, "twin")
        assert done.returncode == 0, done.stdout[-4000:]
        return twin.state.to_json(), twin.counters["executions"]


@pytest.mark.parametrize("drop_at", ["second", "middle", "last"])
def test_a_dropped_connection_fails_clearly_and_the_rerun_reaches_the_fault_free_state(
    tmp_path, fault_free_state, drop_at
):
    wanted_state, executions = fault_free_state
    assert executions >= 4, "the converge should take several WinRM executor runs"
    number = {"second": 2, "middle": executions // 2 + 1, "last": executions}[drop_at]
    password = distinctive_password("Drop")
    with EmulatedWindowsHost(
        [HostUser("Administrator", password)],
        drop_connection_during_command=number,
        initial_state=quic_ready(WindowsState()),
    ) as host:
        faulty = converge(tmp_path, host, password, "fault")
        assert faulty.returncode != 0, f"executor run {number} was dropped, yet the play succeeded"
        failed = [
            (task, failure_message(hosts[HOST]))
            for task, hosts in faulty.results.items()
            if hosts.get(HOST, {}).get("failed")
        ]
        assert len(failed) == 1, failed
        task, message = failed[0]
        address, port = host.address
        assert f"Administrator@{address}:{port}" in message, f"{task}: {message}"
        assert "broke while a command ran" in message and "run the task again" in message, f"{task}: {message}"
        assert "Traceback" not in faulty.stdout + faulty.stderr
        assert re.search(rf"^(fatal|failed): \[{HOST}\]", faulty.stdout, re.M)  # the screen names the host

        rerun = converge(tmp_path, host, password, "rerun")
        assert rerun.returncode == 0, rerun.stdout[-4000:]
        assert comparable(host.state.to_json()) == comparable(wanted_state)
