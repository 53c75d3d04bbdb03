"""The pysmbd role's systemd unit: hardened, and CAP_NET_BIND_SERVICE only when a listener is below 1024."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.ansible_run import run_playbook

MIB = 1024 * 1024


def render_unit(tmp_path, port: int, *extra_vars: str) -> str:
    """The unit the role would write for a listener on ``port`` (its check-mode diff, so nothing is installed or
    started); ``extra_vars`` are ``name=value`` for ``-e``. The text is also written where the role would put it."""
    work = tmp_path / f"host-{port}"
    playbook = tmp_path / f"unit-{port}.yml"
    playbook.write_text(
        textwrap.dedent(
            f"""\
            - hosts: localhost
              gather_facts: false
              tasks:
                - name: unit
                  ansible.builtin.include_role:
                    name: smb.alternative_ports.pysmbd
                  vars:
                    pysmbd_install_dir: {work}/opt
                    pysmbd_venv: {Path(sys.executable).parent.parent}
                    pysmbd_config_dir: {work}/etc
                    pysmbd_systemd_unit_dir: {work}/units
                    pysmbd_service_mode: supervisor
                    pysmbd_firewall: false
                    pysmbd_listeners: [{{transport: tcp, address: 0.0.0.0, port: {port}}}]
                    pysmbd_shares:
                      - {{name: data, path: /srv/pysmbd/data, read_only: false}}
                      - {{name: docs, path: /srv/pysmbd/docs, read_only: true}}
            """
        )
    )
    more = [arg for value in extra_vars for arg in ("-e", value)]
    run = run_playbook(
        playbook,
        "localhost,",
        "-c",
        "local",
        "--check",
        "--diff",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        *more,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert not (work / "units").exists(), "check mode wrote the unit"
    unit_path = f"{work}/units/pysmbd.service"
    (task,) = [name for name in run.results if name.endswith("Install, configure and start pysmbd")]
    diffs = run.results[task]["localhost"]["diff"]
    (unit,) = [diff["after"] for diff in diffs if diff["after_header"] == unit_path]
    unit_dir = tmp_path / f"units-{port}"
    unit_dir.mkdir()
    (unit_dir / "pysmbd.service").write_text(unit)
    return unit


@pytest.mark.parametrize(("port", "low"), [(4445, False), (445, True)])
def test_the_unit_is_hardened_and_gets_the_capability_only_for_low_ports(tmp_path, port, low):
    unit = render_unit(tmp_path, port)
    lines = set(unit.splitlines())
    for setting in ("ProtectSystem=strict", "NoNewPrivileges=true", "ProtectHome=true", "PrivateTmp=true"):
        assert setting in lines
    assert "ReadWritePaths=/run/pysmbd /srv/pysmbd/data" in lines
    assert "ReadOnlyPaths=/srv/pysmbd/docs" in lines
    assert "RuntimeDirectory=pysmbd" in lines  # the state directory /run/pysmbd, made by systemd
    assert ("AmbientCapabilities=CAP_NET_BIND_SERVICE" in lines) is low
    assert ("CapabilityBoundingSet=CAP_NET_BIND_SERVICE" in lines) is low
    assert ("CapabilityBoundingSet=" in lines) is not low
    # Descriptors for every open pysmbd allows (65536) and a socket per connection (1000), plus room for the rest.
    assert "LimitNOFILE=67560" in lines
    assert "SystemCallFilter=@system-service" in lines


def test_the_units_memory_bound_follows_the_configured_budget(tmp_path):
    """MemoryMax is what pysmbd may hold for clients plus the interpreter's baseline: 1 GiB + 256 MiB by default."""
    assert f"MemoryMax={1024 * MIB + 256 * MIB}" in render_unit(tmp_path, 4445).splitlines()
    lowered = render_unit(tmp_path, 4446, f"pysmbd_max_memory={512 * MIB}", f"pysmbd_memory_baseline={128 * MIB}")
    assert f"MemoryMax={640 * MIB}" in lowered.splitlines()


def test_systemd_analyze_accepts_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd"
    render_unit(tmp_path, 445)
    done = subprocess.run(
        [analyze, "verify", str(tmp_path / "units-445" / "pysmbd.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "pysmbd.service:" not in done.stderr, done.stderr
