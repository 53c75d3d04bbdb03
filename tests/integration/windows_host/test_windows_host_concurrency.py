"""Several clients at once (Ansible forks): each connection keeps its own NTLM session and shell."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

from tests.support.windows_host import EmulatedWindowsHost
from tests.support.windows_host.state import WindowsState, allow_local_admins
from tests.support.windows_host.testing import OTHER_USER, USER, executor_stdin, ntlm_protocol, results, run_executor


def test_parallel_clients_with_two_users_do_not_mix_sessions():
    with EmulatedWindowsHost([USER, OTHER_USER], initial_state=allow_local_admins(WindowsState())) as host:

        def one_task(index: int) -> tuple[int, bool]:
            user = USER if index % 2 else OTHER_USER
            call = {
                "command": "New-NetFirewallRule",
                "parameters": {
                    "Name": f"rule-{index}",
                    "DisplayName": f"rule {index}",
                    "Protocol": "UDP",
                    "LocalPort": str(9000 + index),
                },
                "properties": ["Name"],
            }
            stdout, _stderr, exit_code = run_executor(ntlm_protocol(host, user), executor_stdin([call]))
            return exit_code, results(stdout)[0]["output"] == [{"Name": f"rule-{index}"}]

        with ThreadPoolExecutor(max_workers=6) as pool:
            outcomes = list(pool.map(one_task, range(12)))

        assert outcomes == [(0, True)] * 12
        assert sorted(rule["LocalPort"][0] for rule in host.state.firewall_rules) == [str(9000 + i) for i in range(12)]
        per_user = host.counters["per_user"]
        assert per_user["vagrant"]["executions"] == per_user["CORP\\admin"]["executions"] == 6
        assert host.counters["shells_created"] == host.counters["shells_deleted"] == 12
        address = host.address
    # stop() closed the listener: nothing answers on the port any more
    with socket.socket() as probe:
        assert probe.connect_ex(address) != 0
