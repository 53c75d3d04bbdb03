"""The pysmbd role's rerun is one module call that changes nothing, and stays exact: what changed is applied."""

from __future__ import annotations

import pytest
import tomllib

from tests.integration.linux import test_pysmbd_role_quic as role_runs
from tests.support.net import free_tcp_ports, free_udp_port

pytestmark = pytest.mark.slow

work_dir = role_runs.work_dir
SHOW_MANAGED = "- name: managed\n  ansible.builtin.debug:\n    var: pysmbd_managed\n"


def host_result(run) -> dict:
    (name,) = [name for name in run.results if name.endswith(role_runs.HOST_TASK)]
    return run.results[name]["localhost"]


def handler_changed(run, handler: str) -> bool:
    return any(name.endswith(handler) and hosts["localhost"].get("changed") for name, hosts in run.results.items())


@pytest.fixture
def listeners():
    (tcp_port,) = free_tcp_ports(1)
    return f"""\
        pysmbd_listeners:
          - {{transport: tcp, address: 127.0.0.1, port: {tcp_port}}}
          - {{transport: quic, address: 127.0.0.1, port: {free_udp_port()}}}
        """


def test_a_rerun_changes_nothing_and_a_changed_setting_is_shown_in_check_mode_then_reloaded(work_dir, listeners):
    assert role_runs.run_role(work_dir, listeners).returncode == 0
    again = role_runs.run_role(work_dir, listeners, name="again.yml")
    assert again.returncode == 0, again.stdout[-4000:]
    assert role_runs.changed_tasks(again) == []
    assert host_result(again)["changes"] in ([], ["sources", "installed", "restarted"])  # see changed_tasks

    config = work_dir / "etc" / "pysmbd.toml"
    before = config.read_text()
    changed_setting = listeners + "pysmbd_idle_timeout: 901\n"
    planned = role_runs.run_role(work_dir, changed_setting, name="check.yml", options=("--check", "--diff"))
    assert planned.returncode == 0, planned.stdout[-4000:]
    assert "config" in host_result(planned)["changes"]
    assert "-idle_timeout = 900\n+idle_timeout = 901" in planned.stdout
    assert config.read_text() == before  # check mode wrote nothing

    applied = role_runs.run_role(work_dir, changed_setting, name="apply.yml")
    assert applied.returncode == 0, applied.stdout[-4000:]
    assert [part for part in host_result(applied)["changes"] if part not in role_runs.REINSTALL_PARTS] == ["config"]
    assert tomllib.loads(config.read_text())["server"]["idle_timeout"] == 901
    assert handler_changed(applied, "Reload pysmbd")


def test_a_removed_certificate_is_generated_again_and_a_changed_password_rewrites_only_the_users_file(
    work_dir, listeners
):
    first = role_runs.run_role(work_dir, listeners, SHOW_MANAGED)
    assert first.returncode == 0, first.stdout[-4000:]
    old_fingerprint = first.results["managed"]["localhost"]["pysmbd_managed"]["quic_fingerprint_sha256"]
    (work_dir / "etc" / "quic-cert.pem").unlink()
    new_password = listeners + "pysmbd_users: [{name: quicker, password: Another-pa55}]\n"
    users_before = (work_dir / "etc" / "users").read_text()

    rerun = role_runs.run_role(work_dir, new_password, SHOW_MANAGED, name="again.yml", options=("--diff",))
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    parts = [part for part in host_result(rerun)["changes"] if part not in role_runs.REINSTALL_PARTS]
    assert parts == ["certificate", "users"]
    new_fingerprint = rerun.results["managed"]["localhost"]["pysmbd_managed"]["quic_fingerprint_sha256"]
    assert new_fingerprint and new_fingerprint != old_fingerprint
    users_after = (work_dir / "etc" / "users").read_text()
    assert users_after != users_before
    new_hash = users_after.splitlines()[-1].split(":")[3]
    assert new_hash not in rerun.stdout and "(NT hash hidden, changed)" in rerun.stdout
    assert handler_changed(rerun, "Reload pysmbd")


def test_an_installed_tarball_that_differs_is_replaced_and_pysmbd_reinstalled_and_restarted(work_dir, listeners):
    assert role_runs.run_role(work_dir, listeners).returncode == 0
    tarball = role_runs.INSTALL_DIR / "pysmbd-src.tar.gz"
    good = tarball.read_bytes()
    tarball.write_bytes(b"not the collection's sources")
    rerun = role_runs.run_role(work_dir, listeners, name="again.yml")
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert host_result(rerun)["changes"][:2] == ["sources", "installed"]
    assert tarball.read_bytes() == good
    assert handler_changed(rerun, "Start pysmbd in supervisor mode")
