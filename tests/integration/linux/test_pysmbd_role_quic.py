"""The pysmbd role's QUIC path: a generated (or given) certificate, the [quic] table, and a server verify pins."""

from __future__ import annotations

import grp
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import tomllib

from tests.support.ansible_run import PlayRun
from tests.support.net import free_tcp_ports, free_udp_port
from tests.support.plays import run_on_localhost
from tests.support.pysmbd_server import gen_cert

pytestmark = pytest.mark.slow


@pytest.fixture
def work_dir():
    """A directory the pysmbd account can traverse (pytest's tmp_path is root-only); its server is stopped after."""
    path = Path(tempfile.mkdtemp(prefix="smb-ap-role-quic-"))
    path.chmod(0o755)
    yield path
    pidfile = path / "run" / "pysmbd.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text().strip())
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
    shutil.rmtree(path, ignore_errors=True)


INSTALL_DIR = Path("/opt/pysmbd")  # the role's default pysmbd_install_dir


def run_role(work: Path, role_vars: str, extra_tasks: str = "", name: str = "role.yml", options=()) -> PlayRun:
    playbook = work / name
    playbook.write_text(
        textwrap.dedent(
            """\
            - hosts: localhost
              gather_facts: false
              vars:
                pysmbd_config_dir: {work}/etc
                pysmbd_state_dir: {work}/run
                pysmbd_systemd_unit_dir: {work}/systemd
                pysmbd_service_mode: supervisor
                pysmbd_firewall: false
                pysmbd_shares: [{{name: data, path: {work}/share, read_only: false}}]
                pysmbd_users: [{{name: quicker, password: Role-Quic-pa55}}]
            """
        ).format(work=work)
        + textwrap.indent(textwrap.dedent(role_vars), "    ")
        + "  tasks:\n    - name: role\n      ansible.builtin.include_role:\n        name: smb.alternative_ports.pysmbd\n"
        + textwrap.indent(textwrap.dedent(extra_tasks), "    ")
    )
    return run_on_localhost(playbook, *options, timeout=300)


def changed_tasks(run: PlayRun) -> list:
    """The names of the tasks that reported a change (the recap's count must agree), pysmbd_host's with its parts."""
    found = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", run.stdout)
    assert found, run.stdout[-2000:]
    names = []
    for name, hosts in run.results.items():
        result = hosts.get("localhost", {})
        if not result.get("changed"):
            continue
        if name.endswith(HOST_TASK):
            # Other work on this machine may change pysmbd's sources between two runs: a reinstall and its
            # restart are then right, and are not what this file tests; any other part is.
            parts = [part for part in result.get("changes", []) if part not in REINSTALL_PARTS]
            names.extend(f"{name}: {part}" for part in parts)
        elif name.rsplit(" : ", maxsplit=1)[-1] not in REINSTALL_TASKS:
            names.append(name)
    return names if names or found.group(1) == "0" or run.results else [f"changed={found.group(1)}"]


HOST_TASK = "Install, configure and start pysmbd"
REINSTALL_PARTS = {"sources", "installed", "restarted"}
REINSTALL_TASKS = {
    "Restart pysmbd for its new code",
    "Stop the old pysmbd, once its pid is known to be pysmbd's",
    "Start pysmbd in supervisor mode",
    "Restart a pysmbd that runs older code than the installed one",
}


VERIFY_WITH_THE_ROLES_PIN = """
- name: verify
  smb.alternative_ports.verify:
    host: 127.0.0.1
    endpoints: [{{transport: quic, port: {quic}}}, {{transport: tcp, port: {tcp}}}]
    fingerprint_sha256: "{{{{ pysmbd_managed.quic_fingerprint_sha256 }}}}"
    timeout: 3
    fail_on_mismatch: false
"""


def test_a_quic_listener_gets_a_generated_certificate_that_verify_pins_and_a_rerun_changes_nothing(work_dir):
    (tcp_port,) = free_tcp_ports(1)
    quic_port = free_udp_port()
    listeners = f"""\
        pysmbd_listeners:
          - {{transport: tcp, address: 127.0.0.1, port: {tcp_port}}}
          - {{transport: quic, address: 127.0.0.1, port: {quic_port}}}
        """
    verify = VERIFY_WITH_THE_ROLES_PIN.format(quic=quic_port, tcp=tcp_port)
    first = run_role(work_dir, listeners, verify)
    assert first.returncode == 0, first.stdout[-4000:]

    config = tomllib.loads((work_dir / "etc" / "pysmbd.toml").read_text())
    cert, key = work_dir / "etc" / "quic-cert.pem", work_dir / "etc" / "quic-key.pem"
    assert config["quic"] == {"certificate": str(cert), "private_key": str(key), "max_datagram_size": 1200}
    key_stat = key.stat()
    assert stat.S_IMODE(key_stat.st_mode) == 0o640 and grp.getgrgid(key_stat.st_gid).gr_name == "pysmbd"

    rows = {r["transport"]: r for r in first.results["verify"]["localhost"]["results"]}
    assert (rows["quic"]["status"], rows["quic"]["dialect"], rows["quic"]["tls_validation"]) == ("smb", "3.1.1", "on")
    assert rows["tcp"]["status"] == "smb"
    fingerprint = first.results["verify"]["localhost"]["results"][0]["certificate_sha256"]
    cert_bytes = cert.read_bytes()

    second = run_role(work_dir, listeners, verify, name="again.yml")
    assert second.returncode == 0, second.stdout[-4000:]
    assert changed_tasks(second) == []
    assert cert.read_bytes() == cert_bytes  # generated once, kept
    assert second.results["verify"]["localhost"]["results"][0]["certificate_sha256"] == fingerprint


def test_the_users_pair_is_used_and_quic_can_be_prepared_before_any_quic_listener(work_dir):
    (tcp_port,) = free_tcp_ports(1)
    mine = work_dir / "mine"
    mine.mkdir()
    cert, key, fingerprint = gen_cert(mine)
    key.chmod(0o640)
    os.chown(key, 0, grp.getgrnam("pysmbd").gr_gid)
    role_vars = f"""\
        pysmbd_listeners: [{{transport: tcp, address: 127.0.0.1, port: {tcp_port}}}]
        pysmbd_quic: true
        pysmbd_quic_certificate: {cert}
        pysmbd_quic_private_key: {key}
        pysmbd_quic_max_datagram_size: 1452
        """
    run = run_role(work_dir, role_vars, "- name: managed\n  ansible.builtin.debug:\n    var: pysmbd_managed\n")
    assert run.returncode == 0, run.stdout[-4000:]
    config = tomllib.loads((work_dir / "etc" / "pysmbd.toml").read_text())
    assert config["quic"] == {"certificate": str(cert), "private_key": str(key), "max_datagram_size": 1452}
    assert not (work_dir / "etc" / "quic-cert.pem").exists()
    managed = run.results["managed"]["localhost"]["pysmbd_managed"]
    assert managed["quic_fingerprint_sha256"] == fingerprint


def test_half_a_quic_pair_is_refused_before_the_config_is_written(work_dir):
    (tcp_port,) = free_tcp_ports(1)
    role_vars = f"""\
        pysmbd_listeners: [{{transport: tcp, address: 127.0.0.1, port: {tcp_port}}}]
        pysmbd_quic: true
        pysmbd_quic_certificate: {work_dir}/only-a-cert.pem
        """
    run = run_role(work_dir, role_vars)
    assert run.returncode != 0
    assert "set both pysmbd_quic_certificate and pysmbd_quic_private_key" in run.stdout
    assert not (work_dir / "etc" / "pysmbd.toml").exists()


def test_a_given_quic_pair_that_is_not_on_the_host_is_refused_naming_the_file_and_the_variable(work_dir):
    (tcp_port,) = free_tcp_ports(1)
    mine = work_dir / "mine"
    mine.mkdir()
    cert, _key, _fingerprint = gen_cert(mine)
    role_vars = f"""\
        pysmbd_listeners: [{{transport: tcp, address: 127.0.0.1, port: {tcp_port}}}]
        pysmbd_quic: true
        pysmbd_quic_certificate: {cert}
        pysmbd_quic_private_key: {work_dir}/missing-key.pem
        """
    run = run_role(work_dir, role_vars)
    assert run.returncode != 0
    assert (
        f"localhost: {work_dir}/missing-key.pem (from pysmbd_quic_private_key) is not a file on the host" in run.stdout
    )
    assert not (work_dir / "etc" / "pysmbd.toml").exists()


def test_a_quic_move_rolled_back_by_a_play_that_gives_no_pin_verifies_the_restored_port(work_dir):
    """The entry role pins the certificate the host reports (issue: the restored QUIC port failed verification)."""
    (tcp_port,) = free_tcp_ports(1)
    old_quic, new_quic = free_udp_port(), free_udp_port()
    listeners = f"""\
        pysmbd_listeners:
          - {{transport: tcp, address: 127.0.0.1, port: {tcp_port}}}
          - {{transport: quic, address: 127.0.0.1, port: {old_quic}}}
        """
    installed = run_role(work_dir, listeners)
    assert installed.returncode == 0, installed.stdout[-4000:]
    # A later play, without the pysmbd role (so no pysmbd_managed fact and no pin given): the new listeners bind
    # 127.0.0.2 while verify probes 127.0.0.1, so the new table fails and the role rolls back.
    playbook = work_dir / "move.yml"
    playbook.write_text(
        textwrap.dedent(
            f"""\
            - hosts: localhost
              gather_facts: false
              vars:
                alternative_ports_pysmbd_config: {work_dir}/etc/pysmbd.toml
                alternative_ports_pysmbd_executable: {Path(sys.executable).parent}/pysmbd
                alternative_ports_listen_address: 127.0.0.2
                smb_alternative_ports:
                  backend: pysmbd
                  server:
                    exclusive: true
                    firewall: false
                    ports: [{{transport: tcp, port: {tcp_port}}}, {{transport: quic, port: {new_quic}}}]
              roles:
                - smb.alternative_ports.alternative_ports
            """
        )
    )
    moved = run_on_localhost(playbook, timeout=300)
    assert moved.returncode != 0, "the new QUIC port cannot answer on 127.0.0.1: verification had to fail"
    assert "and verification of the restored table passed" in moved.stdout, moved.stdout[-4000:]
    restored = [name for name in moved.results if name.endswith("Verify every endpoint")]
    rows = {(r["transport"], r["port"]): r for r in moved.results[restored[-1]]["localhost"]["results"]}
    assert rows[("quic", old_quic)]["status"] == "smb" and rows[("quic", old_quic)]["tls_validation"] == "on"
    assert rows[("quic", new_quic)]["expect"] == "closed"
