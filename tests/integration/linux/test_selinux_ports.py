"""SELinux port labels with the real semanage on a copy of Debian's policy store (selinux-policy-default).

This machine's kernel runs without SELinux, so no smbd can be denied a bind here. The nearest real check: the
collection's code runs ``semanage`` (policycoreutils-python-utils) against a private copy of the installed store
(/etc/selinux and /var/lib/selinux, mounted over the originals in a private mount namespace: see
tests/support/private_host.py), libsemanage rebuilds the binary policy on every commit, and the tests read the port
contexts back from both ``semanage port -l`` and the rebuilt binary policy, the file a kernel would load.
"""

from __future__ import annotations

import pytest

from tests.support.net import free_tcp_ports
from tests.support.peers import require_tool
from tests.support.plays import localhost_play, result_of
from tests.support.private_host import PrivateHost, port_label, private_host

pytestmark = [pytest.mark.netns, pytest.mark.slow]

# The binary policy's port contexts, read with setools (python3-setools, a dependency of
# policycoreutils-python-utils) by the system Python, inside the private host.
PORTCON = (
    "import glob, sys, setools\n"
    "policy = setools.SELinuxPolicy(sorted(glob.glob('/etc/selinux/default/policy/policy.*'))[-1])\n"
    "protocol, port = sys.argv[1], int(sys.argv[2])\n"
    "found = [p for p in policy.portcons() if p.protocol.name == protocol and p.ports.low <= port <= p.ports.high]\n"
    "print(min(found, key=lambda p: p.ports.high - p.ports.low).context.type_ if found else 'none')\n"
)


def kernel_type(host: PrivateHost, spec: str) -> str:
    """The type the rebuilt binary policy gives ``port/protocol`` (narrowest port context, as the kernel does)."""
    port, protocol = spec.split("/")
    return host.run("/usr/bin/python3", "-c", PORTCON, protocol, port, check=True).stdout.strip()


@pytest.fixture
def selinux_host(tmp_path):
    require_tool("semanage", "policycoreutils-python-utils")
    with private_host(tmp_path, firewalld="stopped") as host:
        yield host


def test_semanage_labels_new_ports_smbd_port_t_and_removes_only_its_own_labels(selinux_host):
    from ansible_collections.smb.alternative_ports.plugins.module_utils._selinux_ports import SelinuxPorts

    labels = SelinuxPorts(selinux_host.runner(), "semanage")
    wanted = {"445/tcp", "4445/tcp", "8443/tcp"}
    change = labels.plan(wanted, removed=set())
    assert change.labelled == ["445/tcp", "4445/tcp", "8443/tcp"][1:], "445 is smbd_port_t by policy already"
    assert change.before == {"4445/tcp": "unreserved_port_t", "8443/tcp": "http_port_t"}
    assert change.after == {"4445/tcp": "smbd_port_t", "8443/tcp": "smbd_port_t"}
    labels.label(change)
    assert port_label(selinux_host, "4445/tcp") == ("smbd_port_t",)
    assert port_label(selinux_host, "8443/tcp") == ("smbd_port_t",)
    assert kernel_type(selinux_host, "4445/tcp") == "smbd_port_t"
    assert kernel_type(selinux_host, "8443/tcp") == "smbd_port_t", "the local record overrides http_port_t"
    assert not labels.plan(wanted, removed=set()).changed, "a second run must change nothing"

    change = labels.plan({"445/tcp"}, removed={"4445/tcp", "8443/tcp", "445/tcp"})
    assert change.unlabelled == ["4445/tcp", "8443/tcp"]
    assert change.after == {"4445/tcp": "unreserved_port_t", "8443/tcp": "http_port_t"}
    labels.unlabel(change)
    assert port_label(selinux_host, "4445/tcp") == ()
    assert kernel_type(selinux_host, "8443/tcp") == "http_port_t", "the policy's own label comes back"
    assert kernel_type(selinux_host, "445/tcp") == "smbd_port_t", "a label of the policy itself is never removed"
    assert not labels.plan({"445/tcp"}, removed={"4445/tcp", "445/tcp"}).changed


def test_a_port_another_service_labelled_locally_is_never_relabelled_nor_unlabelled(selinux_host):
    from ansible_collections.smb.alternative_ports.plugins.module_utils._selinux_ports import SelinuxPorts

    selinux_host.run("semanage", "port", "-a", "-t", "http_port_t", "-p", "tcp", "5445", check=True)
    change = SelinuxPorts(selinux_host.runner(), "semanage").plan({"5445/tcp"}, removed=set())
    assert not change.changed
    assert list(change.conflicts) == ["5445/tcp"] and "http_port_t" in change.conflicts["5445/tcp"]
    removal = SelinuxPorts(selinux_host.runner(), "semanage").plan(set(), removed={"5445/tcp"})
    assert not removal.changed, "a local record of another type is not ours to delete"
    assert port_label(selinux_host, "5445/tcp") == ("http_port_t",)


SMB_CONF = "[global]\n\tworkgroup = WORKGROUP\n\tsmb ports = 445\n\n[share]\n\tpath = {share}\n"


def samba_task(conf, ports, *, name="change ports", extra=""):
    entries = ", ".join(f"{{transport: tcp, port: {p}}}" for p in ports)
    return f"""
    - name: {name}
      smb.alternative_ports.server_ports:
        backend: samba
        smb_conf: {conf}
        ports: [{entries}]
        selinux: always
        firewall: true
      register: {name.replace(" ", "_")}
      {extra}
    """


def test_samba_port_change_labels_and_rollback_unlabels_through_ansible(selinux_host, tmp_path):
    """server_ports (Samba backend, its smbd not running) in the private host: check mode and diff show the label,
    the change adds it, a second run changes nothing, and the entry role's rollback (restore) takes it away."""
    require_tool("smbd", "samba")
    conf = tmp_path / "smb.conf"
    conf.write_text(SMB_CONF.format(share=tmp_path))
    python = selinux_host.python(tmp_path)
    interpreter = ("-e", f"ansible_python_interpreter={python}")

    checked = localhost_play(tmp_path, samba_task(conf, [4445]), "--check", "--diff", *interpreter, name="check.yml")
    assert checked.returncode == 0, checked.stdout[-3000:]
    predicted = result_of(checked, "change ports")
    assert predicted["changed"] is True and predicted["selinux"]["labelled"] == ["4445/tcp"]
    assert "selinux 4445/tcp unreserved_port_t" in predicted["diff"]["before"]
    assert "selinux 4445/tcp smbd_port_t" in predicted["diff"]["after"]
    assert port_label(selinux_host, "4445/tcp") == (), "check mode changes nothing"

    tasks = samba_task(conf, [4445]) + samba_task(conf, [4445], name="again")
    tasks += """
    - name: roll back
      smb.alternative_ports.server_ports:
        backend: samba
        smb_conf: {conf}
        restore: "{{{{ change_ports }}}}"
        selinux: always
      register: rolled_back
    """.format(conf=conf)
    run = localhost_play(tmp_path, tasks, *interpreter)
    assert run.returncode == 0, run.stdout[-3000:]
    changed = result_of(run, "change ports")
    assert changed["selinux"] == {
        "type": "smbd_port_t",
        "labelled": ["4445/tcp"],
        "unlabelled": [],
        "before": {"4445/tcp": "unreserved_port_t"},
        "after": {"4445/tcp": "smbd_port_t"},
    }
    assert result_of(run, "again")["changed"] is False
    rolled_back = result_of(run, "roll back")
    assert rolled_back["selinux"]["unlabelled"] == ["4445/tcp"]
    assert [entry["port"] for entry in rolled_back["after"]] == [445]
    assert port_label(selinux_host, "4445/tcp") == ()
    assert kernel_type(selinux_host, "4445/tcp") == "unreserved_port_t"


def test_auto_leaves_labels_alone_where_selinux_is_disabled(selinux_host, tmp_path):
    """This kernel runs without SELinux: selinux: auto (the default) must not call semanage at all."""
    from ansible_collections.smb.alternative_ports.plugins.module_utils._selinux_ports import detect, selinux_enabled

    assert not selinux_enabled()
    assert detect(selinux_host.runner(), "auto") is None
    assert detect(selinux_host.runner(), "always") is not None


def test_samba_refuses_a_port_another_service_labelled_and_changes_nothing(selinux_host, tmp_path):
    from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import (
        PortRequest,
        RefusedError,
        change_ports,
    )
    from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.samba import SambaBackend

    smbd, testparm = require_tool("smbd", "samba"), require_tool("testparm", "samba")
    (port,) = free_tcp_ports(1)  # the holder check reads this test's network namespace, not the private host's
    conf = tmp_path / "smb.conf"
    conf.write_text(SMB_CONF.format(share=tmp_path))
    selinux_host.run("semanage", "port", "-a", "-t", "http_port_t", "-p", "tcp", str(port), check=True)
    backend = SambaBackend(str(conf), selinux_host.runner(), smbd, testparm)
    backend.selinux_mode = "always"
    with pytest.raises(RefusedError) as refused:
        change_ports(backend, PortRequest(ports=[{"transport": "tcp", "port": port}]), check_mode=False)
    assert f"{port}/tcp: SELinux labels it http_port_t" in str(refused.value)
    assert str(port) not in conf.read_text()
    assert port_label(selinux_host, f"{port}/tcp") == ("http_port_t",)


def test_a_failed_samba_change_takes_its_new_label_back(selinux_host, tmp_path):
    """testparm rejects this smb.conf, so Samba's change fails after the label went in: the label goes again."""
    from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import (
        BackendError,
        PortRequest,
        change_ports,
    )
    from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.samba import SambaBackend

    smbd, testparm = require_tool("smbd", "samba"), require_tool("testparm", "samba")
    conf = tmp_path / "smb.conf"
    conf.write_text(SMB_CONF.format(share=tmp_path).replace("workgroup = WORKGROUP", "max protocol = NOPE"))
    (port,) = free_tcp_ports(1)
    backend = SambaBackend(str(conf), selinux_host.runner(), smbd, testparm)
    backend.selinux_mode = "always"
    with pytest.raises(BackendError, match="testparm rejects"):
        change_ports(backend, PortRequest(ports=[{"transport": "tcp", "port": port}]), check_mode=False)
    assert port_label(selinux_host, f"{port}/tcp") == ()
    assert kernel_type(selinux_host, f"{port}/tcp") == "unreserved_port_t"


def test_server_ports_info_reports_the_labels_and_the_entry_role_passes_its_selinux_choice(selinux_host, tmp_path):
    """The entry role in check mode on a Samba host of the private host: ``alternative_ports_selinux`` reaches
    server_ports (``always`` plans the label, ``never`` none); server_ports_info reads the labels back."""
    require_tool("smbd", "samba")
    conf = tmp_path / "smb.conf"
    conf.write_text(SMB_CONF.format(share=tmp_path))
    interpreter = ("-e", f"ansible_python_interpreter={selinux_host.python(tmp_path)}")
    role = """
    - name: apply with the role
      ansible.builtin.include_role:
        name: smb.alternative_ports.alternative_ports
      vars:
        alternative_ports_model:
          backend: samba
          server: {{ports: [{{transport: tcp, port: 4445}}], exclusive: true}}
        alternative_ports_smb_conf: {conf}
        alternative_ports_selinux: {choice}
    - name: planned
      ansible.builtin.set_fact:
        planned_selinux: "{{{{ alternative_ports_change.selinux | default('not managed') }}}}"
    """
    for choice, expected in (("always", ["4445/tcp"]), ("never", None)):
        run = localhost_play(
            tmp_path, role.format(conf=conf, choice=choice), "--check", *interpreter, name=f"role-{choice}.yml"
        )
        assert run.returncode == 0, run.stdout[-3000:]
        planned = result_of(run, "planned")["ansible_facts"]["planned_selinux"]
        assert (planned["labelled"] if expected else planned) == (expected or "not managed"), choice
    assert port_label(selinux_host, "4445/tcp") == (), "check mode changes nothing"

    info = """
    - name: change ports
      smb.alternative_ports.server_ports:
        backend: samba
        smb_conf: {conf}
        ports: [{{transport: tcp, port: 4445}}, {{transport: tcp, port: 8443}}]
        selinux: always
    - name: read always
      smb.alternative_ports.server_ports_info:
        backend: samba
        smb_conf: {conf}
        selinux: always
    - name: read auto
      smb.alternative_ports.server_ports_info:
        backend: samba
        smb_conf: {conf}
    """.format(conf=conf)
    run = localhost_play(tmp_path, info, *interpreter, name="info.yml")
    assert run.returncode == 0, run.stdout[-3000:]
    assert result_of(run, "read always")["selinux_labels"] == {
        "445/tcp": "smbd_port_t",
        "4445/tcp": "smbd_port_t",
        "8443/tcp": "smbd_port_t",
    }
    assert "selinux_labels" not in result_of(run, "read auto"), "this kernel runs without SELinux: auto reads nothing"
    assert result_of(run, "read always")["changed"] is False
