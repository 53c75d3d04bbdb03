"""Samba backend: one line of [global] edited, checked by the real testparm before smb.conf changes."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.samba import (
    SambaBackend,
    SambaError,
    find_global_parameter,
    format_transports,
    parameter_for,
    parse_smb_ports,
    parse_transports,
    parse_version,
    set_global_parameter,
    systemd_unit_from_cgroup,
)

SMB_CONF = """\
# site config
[global]
\tworkgroup = WORKGROUP
\t; smb ports = 1 2   (a comment, not a setting)
\tSMB Ports = 445 \\
\t   139
\tserver string = files

[data]
\tpath = /srv/data
\tsmb ports = 9999
"""


def run(args):
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


def test_version_decides_the_parameter():
    assert parse_version("Version 4.17.12-Debian") == (4, 17)
    assert parameter_for((4, 17)) == "smb ports"
    assert parameter_for((4, 23)) == "server smb transports"
    with pytest.raises(SambaError, match="apt-get install samba"):
        parse_version("")


def test_the_global_setting_is_found_across_a_continuation_and_case():
    start, end, value = find_global_parameter(SMB_CONF, "smb ports")
    assert (start, end) == (4, 5)
    assert parse_smb_ports(value) == [
        {"transport": "tcp", "port": 139, "instances": "default"},
        {"transport": "tcp", "port": 445, "instances": "default"},
    ]


def test_set_replaces_only_that_line():
    new = set_global_parameter(SMB_CONF, "smb ports", "4445 14445")
    assert new.splitlines() == [
        "# site config",
        "[global]",
        "\tworkgroup = WORKGROUP",
        "\t; smb ports = 1 2   (a comment, not a setting)",
        "\tsmb ports = 4445 14445",
        "\tserver string = files",
        "",
        "[data]",
        "\tpath = /srv/data",
        "\tsmb ports = 9999",
    ]


def test_set_adds_the_line_after_global_when_absent():
    new = set_global_parameter("[global]\n\tworkgroup = W\n[x]\n\tpath = /x\n", "smb ports", "4445")
    assert new == "[global]\n\tsmb ports = 4445\n\tworkgroup = W\n[x]\n\tpath = /x\n"
    assert set_global_parameter("", "smb ports", "4445") == "[global]\n\tsmb ports = 4445\n\n"


def test_transports_syntax_of_samba_4_23():
    assert parse_transports("tcp, nbt, quic:8443") == [
        {"transport": "quic", "port": 8443, "instances": "default"},
        {"transport": "tcp", "port": 139, "instances": "default"},
        {"transport": "tcp", "port": 445, "instances": "default"},
    ]
    assert format_transports([{"transport": "tcp", "port": 4445}, {"transport": "tcp", "port": 139}]) == (
        "tcp:4445, nbt:139"
    )
    with pytest.raises(SambaError, match="unknown transport 'rdma:5445'"):
        parse_transports("rdma:5445")


@pytest.fixture
def samba_conf(tmp_path):
    assert shutil.which("testparm"), "testparm is missing: apt-get install samba-common-bin"
    assert shutil.which("smbd"), "smbd is missing: apt-get install samba"
    path = tmp_path / "smb.conf"
    path.write_text(
        "[global]\n\tworkgroup = WORKGROUP\n\tsmb ports = 4445\n"
        f"\tpid directory = {tmp_path}\n\tlock directory = {tmp_path}\n\tstate directory = {tmp_path}\n"
        f"\tcache directory = {tmp_path}\n\tprivate dir = {tmp_path}\n"
        f"[data]\n\tpath = {tmp_path}\n"
    )
    return path


def test_apply_on_a_stopped_smbd_writes_what_testparm_reads_back(samba_conf):
    backend = SambaBackend(str(samba_conf), run)
    assert backend.read().table == [{"transport": "tcp", "port": 4445, "instances": "default"}]
    backend.write_and_restart([{"transport": "tcp", "port": 4445}, {"transport": "tcp", "port": 14445}])
    rc, out, _err = run(["testparm", "-s", "--suppress-prompt", "--parameter-name", "smb ports", str(samba_conf)])
    assert (rc, out.strip()) == (0, "4445 14445")


def test_a_config_testparm_rejects_is_never_written(samba_conf):
    samba_conf.write_text(samba_conf.read_text().replace("[data]", "\tserver role = banana\n[data]"))
    before = samba_conf.read_text()
    with pytest.raises(
        SambaError, match=r"testparm rejects .* as it is now, before any change: .*banana.*smbd was not restarted"
    ):
        SambaBackend(str(samba_conf), run).write_and_restart([{"transport": "tcp", "port": 5446}])
    assert samba_conf.read_text() == before


def test_an_include_that_overrides_the_line_is_caught(samba_conf, tmp_path):
    extra = tmp_path / "extra.conf"
    extra.write_text("[global]\n\tsmb ports = 7777\n")
    samba_conf.write_text(samba_conf.read_text().replace("[data]", f"[global]\n\tinclude = {extra}\n[data]"))
    before = samba_conf.read_text()
    with pytest.raises(SambaError, match="testparm reads smb ports as '7777' instead of '5446'"):
        SambaBackend(str(samba_conf), run).write_and_restart([{"transport": "tcp", "port": 5446}])
    assert samba_conf.read_text() == before


def test_quic_on_samba_before_4_23_is_refused_plainly(samba_conf):
    problems = SambaBackend(str(samba_conf), run).check_entries([{"transport": "quic", "port": 8443}])
    assert len(problems) == 1
    assert problems[0].startswith("quic/8443: Samba 4.")
    assert "has no SMB over QUIC (it needs Samba 4.23 or later)" in problems[0]


@pytest.mark.parametrize(
    ("cgroup", "unit"),
    [
        ("0::/system.slice/smbd.service\n", "smbd.service"),
        ("12:pids:/\n0::/system.slice/system-samba.slice/samba-ad-dc.service\n", "samba-ad-dc.service"),
        ("0::/user.slice/user-0.slice/session-3.scope\n", None),
        ("0::/\n", None),
    ],
)
def test_an_smbd_under_systemd_is_restarted_through_its_service(cgroup, unit):
    assert systemd_unit_from_cgroup(cgroup) == unit
