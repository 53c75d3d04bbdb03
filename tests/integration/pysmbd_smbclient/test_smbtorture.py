"""smbtorture's SMB2 suites against pysmbd: subtests that passed before must keep passing.

``smbtorture_baseline.txt`` lists the subtests that passed when it was last recorded. Rewrite it after an
improvement with ``PYSMBD_UPDATE_TORTURE_BASELINE=1 pytest tests/integration/pysmbd_smbclient/test_smbtorture.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.accounts import THREADED_PASSWORD as PASSWORD
from tests.support.accounts import THREADED_USER as USER
from tests.support.peers import require_tool

pytestmark = [pytest.mark.peer, pytest.mark.slow]

SUITES = (
    "smb2.connect",
    "smb2.read",
    "smb2.rw",
    "smb2.dir",
    "smb2.getinfo",
    "smb2.compound",
    "smb2.credits",
    "smb2.lock",
    "smb2.sharemode",
)
BASELINE = Path(__file__).with_name("smbtorture_baseline.txt")
RESULT_LINE = re.compile(r"^(success|failure|error|skip): (\S+)")


def run_suite(port: int, suite: str) -> dict[str, str]:
    """Outcome per subtest (``success``, ``failure``, ``error`` or ``skip``) of one smbtorture suite."""
    command = [require_tool("smbtorture", "samba-testsuite"), "//127.0.0.1/share", "-p", str(port)]
    command += ["-U", f"{USER}%{PASSWORD}", suite]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    outcomes: dict[str, str] = {}
    for line in result.stdout.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            name = match.group(2)
            outcomes[name if name.startswith(suite) else f"{suite}.{name}"] = match.group(1)
    return outcomes


def test_smbtorture_subtests_do_not_regress(pysmbd_server):
    outcomes: dict[str, str] = {}
    for suite in SUITES:
        outcomes.update(run_suite(pysmbd_server.port, suite))
    passed = sorted(name for name, outcome in outcomes.items() if outcome == "success")
    print(f"smbtorture: {len(passed)} of {len(outcomes)} subtests passed: {', '.join(passed)}")
    if os.environ.get("PYSMBD_UPDATE_TORTURE_BASELINE"):
        BASELINE.write_text("".join(f"{name}\n" for name in passed))
    expected = [line.strip() for line in BASELINE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    regressed = [name for name in expected if outcomes.get(name) != "success"]
    assert not regressed, f"smbtorture subtests that passed before now fail: {regressed} (outcomes: {outcomes})"
    assert len(outcomes) >= len(SUITES), f"smbtorture reported too few subtests: {outcomes}"


def test_smbtorture_subtests_do_not_regress_with_two_workers(tmp_path):
    """The same suites against an installed pysmbd with ``workers = 2``: smbtorture's second connections land on
    either worker, so share modes and locks are checked across processes too."""
    from tests.support.net import free_tcp_ports
    from tests.support.pysmbd_server import start_pysmbd, stopped_at_exit

    share = tmp_path / "share"
    share.mkdir()
    with stopped_at_exit() as started:
        server = start_pysmbd(
            tmp_path / "pysmbd",
            USER,
            PASSWORD,
            free_tcp_ports(1),
            server_settings="workers = 2\nmax_connections_per_address = 0",
            more_shares=f'[[shares]]\nname = "share"\npath = "{share}"\n',
        )
        started.append(server)
        outcomes: dict[str, str] = {}
        for suite in SUITES:
            outcomes.update(run_suite(server.tcp_port, suite))
    expected = [line.strip() for line in BASELINE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    regressed = [name for name in expected if outcomes.get(name) != "success"]
    assert not regressed, f"with two workers, smbtorture subtests that pass in one process fail: {regressed}"
    assert len(outcomes) >= len(SUITES), f"smbtorture reported too few subtests: {outcomes}"
