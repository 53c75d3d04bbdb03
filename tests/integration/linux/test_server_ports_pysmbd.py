"""server_ports and the alternative_ports role against a running pysmbd, driven by ansible-playbook on localhost."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import smbclient

from tests.support.accounts import E2E_PASSWORD as PASSWORD
from tests.support.accounts import E2E_USER as USER
from tests.support.ansible_run import run_playbook
from tests.support.net import free_tcp_ports
from tests.support.peers import pysmbd_command
from tests.support.plays import localhost_play, pysmbd_ports_task, result_of

pytestmark = pytest.mark.slow


def verify_task(endpoints, name="verify"):
    rows = ", ".join(f"{{port: {p}, expect: {e}}}" for p, e in endpoints)
    return f"""
    - name: {name}
      smb.alternative_ports.verify:
        host: 127.0.0.1
        endpoints: [{rows}]
        fail_on_mismatch: false
    """


@pytest.fixture
def smb_sessions():
    yield
    smbclient.reset_connection_cache()


def test_moving_a_port_keeps_an_open_session_alive_and_verify_shows_the_new_table(
    running_pysmbd, tmp_path, smb_sessions
):
    old, new = free_tcp_ports(2)
    server = running_pysmbd([old])
    smbclient.register_session("127.0.0.1", username=USER, password=PASSWORD, port=old)
    with smbclient.open_file(r"\\127.0.0.1\data\before.txt", mode="w", port=old) as handle:
        handle.write("written before the move")

    run = localhost_play(
        tmp_path,
        pysmbd_ports_task(server.config, [new], extra="diff: true") + verify_task([(new, "open"), (old, "closed")]),
    )
    assert run.returncode == 0, run.stdout + run.stderr

    moved = run.results["change ports"]["localhost"]
    assert moved["changed"] is True
    assert moved["before"] == [{"transport": "tcp", "port": old, "instances": "default"}]
    assert moved["after"] == [{"transport": "tcp", "port": new, "instances": "default"}]
    assert [(s["action"], s["port"]) for s in moved["plan"]] == [("add", new), ("remove", old)]
    assert moved["diff"] == {"before": f"tcp/{old} instances=default\n", "after": f"tcp/{new} instances=default\n"}

    proof = run.results["verify"]["localhost"]
    assert [(r["port"], r["status"]) for r in proof["results"]] == [(new, "smb"), (old, "refused")]
    assert proof["summary"]["failed"] == 0
    assert server.listening_ports() == [new]

    # The session opened on the old port, whose listener is gone, still works.
    with smbclient.open_file(r"\\127.0.0.1\data\after.txt", mode="w", port=old) as handle:
        handle.write("written after the move, on the same session")
    assert (server.share / "after.txt").read_text() == "written after the move, on the same session"
    with smbclient.open_file(r"\\127.0.0.1\data\before.txt", mode="r", port=old) as handle:
        assert handle.read() == "written before the move"

    again = localhost_play(tmp_path, pysmbd_ports_task(server.config, [new]), name="again.yml")
    assert again.results["change ports"]["localhost"]["changed"] is False


def test_check_mode_shows_the_plan_and_changes_nothing(running_pysmbd, tmp_path):
    old, new = free_tcp_ports(2)
    server = running_pysmbd([old])
    config_before = server.config.read_bytes()
    run = localhost_play(tmp_path, pysmbd_ports_task(server.config, [new], extra="check_mode: true"))
    assert run.returncode == 0, run.stdout + run.stderr
    result = run.results["change ports"]["localhost"]
    assert result["changed"] is True
    assert [(s["action"], s["port"]) for s in result["plan"]] == [("add", new), ("remove", old)]
    assert server.config.read_bytes() == config_before
    assert server.listening_ports() == [old]


def test_a_port_held_by_another_process_is_refused_naming_both_and_the_old_table_keeps_serving(
    running_pysmbd, port_holder, tmp_path
):
    old, taken = free_tcp_ports(2)
    server = running_pysmbd([old])
    holder = port_holder(taken)
    holder_name = Path(sys.executable).name[:15]  # the kernel names a process after the file it executed
    config_before = server.config.read_bytes()

    run = localhost_play(
        tmp_path,
        pysmbd_ports_task(server.config, [old, taken], extra="ignore_errors: true") + verify_task([(old, "open")]),
    )
    refused = run.results["change ports"]["localhost"]
    assert refused["failed"] is True
    assert f"tcp/{taken} is in use by {holder_name} (pid {holder.pid})" in refused["msg"]
    assert refused["msg"].startswith("refused, nothing was changed")
    assert any(f"(pid {holder.pid})" in problem for problem in refused["problems"])  # one sentence per reason
    assert server.config.read_bytes() == config_before
    assert server.listening_ports() == [old]
    assert [r["status"] for r in run.results["verify"]["localhost"]["results"]] == ["smb"]


def test_a_plan_without_listeners_is_refused_unless_allowed(running_pysmbd, tmp_path):
    (old,) = free_tcp_ports(1)
    server = running_pysmbd([old])
    run = localhost_play(tmp_path, pysmbd_ports_task(server.config, [], extra="ignore_errors: true"))
    refused = run.results["change ports"]["localhost"]
    assert refused["failed"] is True
    assert "no listener at all" in refused["msg"] and "allow_no_listeners: true" in refused["msg"]
    assert server.listening_ports() == [old]


def test_a_change_whose_verification_fails_is_rolled_back_and_verify_proves_it(running_pysmbd, tmp_path):
    # The new port is bound on 127.0.0.2 (a wrong listen address), so probes to 127.0.0.1 find it closed.
    old, new = free_tcp_ports(2)
    server = running_pysmbd([old])
    playbook = tmp_path / "role.yml"
    playbook.write_text(
        textwrap.dedent(
            f"""
            - hosts: localhost
              gather_facts: false
              vars:
                alternative_ports_pysmbd_config: {server.config}
                alternative_ports_pysmbd_executable: {pysmbd_command()}
                alternative_ports_listen_address: 127.0.0.2
                smb_alternative_ports:
                  backend: pysmbd
                  server:
                    ports: [{{transport: tcp, port: {new}}}]
                    exclusive: true
                    firewall: false
                  verify: {{from: controller, level: negotiate, timeout: 2}}
              roles:
                - smb.alternative_ports.alternative_ports
            """
        )
    )
    run = run_playbook(
        playbook, "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", timeout=240
    )
    assert run.returncode != 0
    failure = result_of(run, "Fail with both verifications")["msg"]
    assert "the previous table was restored" in failure
    assert "verification of the restored table passed" in failure
    restored = result_of(run, "Restore the previous port table")
    assert restored["after"] == [{"transport": "tcp", "port": old, "instances": "default"}]
    assert restored["listeners"]["after"] == [{"transport": "tcp", "address": "127.0.0.1", "port": old}]

    assert server.listening_ports() == [old]
    proof = localhost_play(tmp_path, verify_task([(old, "open"), (new, "closed")]), name="proof.yml")
    assert [(r["port"], r["status"]) for r in proof.results["verify"]["localhost"]["results"]] == [
        (old, "smb"),
        (new, "refused"),
    ]
