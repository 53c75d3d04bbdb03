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
    "smb2.durable-open",
    "smb2.durable-v2-open",
    # smb2.oplock as a whole takes 100 s, much of it in subtests pysmbd does not pass yet (streams, stat opens and a
    # few break and sharing expectations) and in batch22a, which waits out the 35 s break timeout (the unit tests in
    # tests/unit/pysmbd_core cover that timeout): the subtests it passes run one by one.
    *(
        f"smb2.oplock.{name}"
        for name in (
            "exclusive1",
            "exclusive2",
            "exclusive3",
            "exclusive4",
            "exclusive5",
            "exclusive9",
            "batch1",
            "batch2",
            "batch3",
            "batch4",
            "batch5",
            "batch6",
            "batch7",
            "batch8",
            "batch9",
            "batch9a",
            "batch10",
            "batch11",
            "batch13",
            "batch14",
            "batch15",
            "batch16",
            "batch21",
            "batch23",
            "batch24",
            "batch25",
            "doc",
            "brl1",
            "brl2",
            "brl3",
            "levelii500",
            "levelii501",
            "levelii502",
        )
    ),
)
BASELINE = Path(__file__).with_name("smbtorture_baseline.txt")
ONE_PROCESS_ONLY = ("smb2.durable-open", "smb2.durable-v2-open", "smb2.oplock.", "smb2.lock.replay_smb3_specification")
"""Subtests that need oplocks (durable handles, and LockSequence replay on them): pysmbd grants none with several
workers, whose opens could not break one another's, so these are checked in one process only."""
RESULT_LINE = re.compile(r"^(success|failure|error|skip): (\S+)")


def baseline_subtests() -> list:
    """The subtests that passed in one process when the baseline was last written."""
    return [line.strip() for line in BASELINE.read_text().splitlines() if line.strip() and not line.startswith("#")]


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
            if not name.startswith(suite):  # a suite (smb2.lock) names its subtests bare, one subtest itself
                single = suite.count(".") == 2 and suite.endswith(f".{name}")  # smb2.oplock.doc, not smb2.lock
                name = suite if single else f"{suite}.{name}"
            outcomes[name] = match.group(1)
    return outcomes


def test_smbtorture_subtests_do_not_regress(pysmbd_server):
    outcomes: dict[str, str] = {}
    for suite in SUITES:
        outcomes.update(run_suite(pysmbd_server.port, suite))
    passed = sorted(name for name, outcome in outcomes.items() if outcome == "success")
    print(f"smbtorture: {len(passed)} of {len(outcomes)} subtests passed: {', '.join(passed)}")
    if os.environ.get("PYSMBD_UPDATE_TORTURE_BASELINE"):
        BASELINE.write_text("".join(f"{name}\n" for name in passed))
    expected = baseline_subtests()
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
        suites = [suite for suite in SUITES if not suite.startswith(ONE_PROCESS_ONLY)]
        for suite in suites:
            outcomes.update(run_suite(server.tcp_port, suite))
        expected = [name for name in baseline_subtests() if not name.startswith(ONE_PROCESS_ONLY)]
        failed = [name for name in expected if outcomes.get(name) != "success"]
        # smbtorture gives each subtest a new connection and drops the last one without closing its handles: smb2.dir.find
        # leaves its directory open, deleted on close. With two workers the next subtest's connection can reach the other
        # worker before the first has seen the drop, and find the directory still there (smb2.dir.fixed, about 1 run in
        # 50). A subtest that failed is run once more alone, on a fresh connection: a real regression fails again.
        alone = {name: run_suite(server.tcp_port, name).get(name) for name in failed}
    regressed = [name for name in failed if alone[name] != "success"]
    assert not regressed, f"with two workers, smbtorture subtests that pass in one process fail: {regressed}"
    if failed:
        print(f"smbtorture subtests that failed in their suite and passed alone, with two workers: {failed}")
    assert len(outcomes) >= len(suites), f"smbtorture reported too few subtests: {outcomes}"
