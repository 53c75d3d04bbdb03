"""server_ports on Windows refuses, before changing anything, a port another process holds, a port in an excluded
port range and QUIC 443 under HTTP/3: over real WinRM (pywinrm) against the emulated host, state read back after."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import RefusedError
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_backend import (
    run_windows_server_ports,
    windows_server_ports,
)
from tests.support.windows_host.network_cmdlets import (
    SYSTEM_PID,
    plant_excluded_range,
    plant_http_sys,
    plant_listener,
)
from tests.support.windows_over_winrm import changing_calls, target_of

QUIC_8443 = {"transport": "quic", "port": 8443}


def apply(host, password, check_mode=False, **args):
    host.observer.reset()
    return windows_server_ports(target_of(host, password), args, check_mode)


def refusal(host, password, check_mode=False, **args) -> str:
    """The refusal's message; the host's alternative ports, firewall rules and changing calls are unchanged."""
    ports_before = [dict(entry) for entry in host.state.alternative_ports]
    rules_before = [dict(rule) for rule in host.state.firewall_rules]
    with pytest.raises(RefusedError) as refused:
        apply(host, password, check_mode, **args)
    assert changing_calls(host) == []
    assert host.state.alternative_ports == ports_before and host.state.firewall_rules == rules_before
    return str(refused.value)


@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check_mode"])
def test_a_port_another_process_holds_is_refused_naming_it(http_host, password, check_mode):
    plant_listener(http_host.state, "udp", 8443, 2216, "nginx")
    message = refusal(http_host, password, check_mode, ports=[QUIC_8443])
    assert message.startswith("refused, nothing was changed: ")
    assert "quic/8443: UDP port 8443 is held on 0.0.0.0 by nginx (pid 2216): stop it or pick another port" in message


def test_a_tcp_listener_on_the_same_number_is_no_conflict_for_quic(http_host, password):
    plant_listener(http_host.state, "tcp", 8443, 2216, "nginx")
    assert apply(http_host, password, ports=[QUIC_8443])["changed"] is True
    assert [entry["Port"] for entry in http_host.state.alternative_ports] == [8443]


def test_a_kernel_listener_that_is_not_ours_is_refused_as_probably_http_sys(http_host, password):
    plant_listener(http_host.state, "udp", 8443, SYSTEM_PID, "System", "::")
    message = refusal(http_host, password, ports=[QUIC_8443])
    assert "quic/8443: UDP port 8443 is held on :: by the kernel (System, pid 4), not by this SMB server's" in message
    assert "likely http.sys (HTTP/3" in message


def test_our_own_port_passes_and_a_rerun_is_idempotent(http_host, password):
    first = apply(http_host, password, ports=[QUIC_8443])
    assert first["changed"] is True
    # The SMB server now holds UDP 8443 itself (System, pid 4): adding a second port beside it and rerunning pass.
    both = apply(http_host, password, ports=[QUIC_8443, {"transport": "quic", "port": 9443}])
    assert [step["port"] for step in both["plan"]] == [9443]
    again = apply(http_host, password, ports=[QUIC_8443, {"transport": "quic", "port": 9443}])
    assert again["changed"] is False and changing_calls(http_host) == []
    assert [entry["Port"] for entry in http_host.state.alternative_ports] == [8443, 9443]


@pytest.mark.parametrize("administered", [True, False], ids=["administered", "reserved-at-run-time"])
def test_a_port_in_an_excluded_range_is_refused_with_the_range_and_the_fix(http_host, password, administered):
    plant_excluded_range(http_host.state, "udp", 8400, 8499, administered)
    plant_excluded_range(http_host.state, "tcp", 9400, 9499, True)  # TCP ranges do not bind UDP ports
    message = refusal(http_host, password, check_mode=True, ports=[QUIC_8443])
    assert "quic/8443: UDP port 8443 lies in the" in message and "excluded port range 8400-8499" in message
    if administered:
        assert "netsh interface ipv4 delete excludedportrange protocol=udp startport=8400 numberofports=100" in message
    else:
        assert "cannot be deleted with netsh" in message
    assert apply(http_host, password, ports=[{"transport": "quic", "port": 9443}])["changed"] is True


def test_quic_443_under_http3_is_refused_and_without_http3_passes(http_host, password):
    plant_http_sys(http_host.state, http3=True)
    message = refusal(http_host, password, ports=[{"transport": "quic", "port": 443}])
    assert "quic/443: http.sys serves HTTP/3 on this host (EnableHttp3 = 1 under" in message
    assert message.count("quic/443") == 1  # the HTTP/3 sentence, not also a pid-4 one

    other = apply(http_host, password, ports=[QUIC_8443])
    assert other["changed"] is True  # HTTP/3 claims 443 only


def test_quic_443_with_https_but_http3_off_is_the_smb_server_own_port(http_host, password):
    # http.sys serves HTTPS on TCP 443 only; UDP 443 is the SMB server's own standard QUIC listener (pid 4).
    plant_http_sys(http_host.state, http3=False)
    result = apply(http_host, password, ports=[{"transport": "quic", "port": 443}])
    assert result["changed"] is True


def test_every_problem_of_the_host_is_listed_at_once(http_host, password):
    plant_listener(http_host.state, "udp", 8443, 2216, "nginx")
    plant_excluded_range(http_host.state, "udp", 9443, 9443, True)
    message = refusal(http_host, password, ports=[QUIC_8443, {"transport": "quic", "port": 9443}])
    assert "nginx (pid 2216)" in message and "excluded port range 9443-9443" in message


def test_the_action_result_of_a_refusal_is_a_failed_task_naming_host_and_process(http_host, password):
    """What the migrate role's preflight reads (server_ports in check mode): failed, msg with every problem."""
    plant_listener(http_host.state, "udp", 8443, 2216, "nginx")
    result = run_windows_server_ports(lambda: target_of(http_host, password), {"ports": [QUIC_8443]}, True)
    assert result["failed"] is True and result["backend"] == "windows"
    assert result["msg"].startswith("refused, nothing was changed: ")
    assert "127.0.0.1" in result["msg"] and "nginx (pid 2216)" in result["msg"]
    assert result["problems"] == [result["msg"].removeprefix("refused, nothing was changed: ")]
    assert http_host.state.alternative_ports == []


def test_a_check_mode_play_reports_the_holder_as_the_migrate_preflight_reads_it(tmp_path, http_host, password):
    """ansible-playbook --check, as the migrate role's preflight runs server_ports: failed, problems, no change."""
    from tests.integration.windows.test_playbook_windows import write_inventory, write_playbook
    from tests.support.ansible_run import run_playbook

    plant_listener(http_host.state, "udp", 8443, 2216, "nginx")
    task = {
        "name": "Preflight",
        "smb.alternative_ports.server_ports": {"ports": [QUIC_8443]},
        "check_mode": True,
        "ignore_errors": True,
    }
    run = run_playbook(write_playbook(tmp_path, [task]), write_inventory(tmp_path, http_host, password))
    result = run.results["Preflight"]["win1"]
    assert result["failed"] is True and result["backend"] == "windows"
    assert len(result["problems"]) == 1 and "nginx (pid 2216)" in result["problems"][0]
    assert http_host.state.alternative_ports == [] and http_host.state.firewall_rules == []
