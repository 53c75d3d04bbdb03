"""Run ansible-playbook from tests and read structured results (via tests/support/callbacks/results_file.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CALLBACKS = Path(__file__).resolve().parent / "callbacks"
VENV_BIN = Path(sys.executable).parent


@dataclass
class PlayRun:
    returncode: int
    stdout: str
    stderr: str
    results: dict
    """``{task name: {host: result dict}}``."""


def run_playbook(
    playbook: Path, inventory: str | Path, *args: str, env: dict | None = None, timeout: int = 300
) -> PlayRun:
    results_file = Path(playbook).with_suffix(".results.json")
    results_file.unlink(missing_ok=True)
    run_env = dict(os.environ)
    run_env.update(
        ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS),
        ANSIBLE_CALLBACKS_ENABLED="results_file",
        SMB_TEST_RESULTS_FILE=str(results_file),
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_NOCOLOR="1",
        PATH=f"{VENV_BIN}{os.pathsep}{run_env.get('PATH', '')}",
    )
    run_env.update(env or {})
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=timeout,
        check=False,
    )
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    return PlayRun(proc.returncode, proc.stdout, proc.stderr, results)
