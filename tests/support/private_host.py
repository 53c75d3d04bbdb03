"""A private copy of this host's firewalld, ufw, SELinux and systemd configuration, for tests of the real tools.

Needs root. ``private_host`` starts a process in new mount, network and pid namespaces (``unshare``). Inside, the
directories those tools write are bind-mounted from copies under the test's temporary directory, and /run is a fresh
tmpfs, so ``semanage``, ``firewall-offline-cmd``, a running ``firewalld`` (with its own D-Bus system bus) and
``ufw`` (its iptables chains in the namespace's own netfilter tables) work on exactly what they would work on in a
real host while this machine's /etc, /var/lib/selinux, D-Bus and netfilter tables are never touched. Commands run
inside through ``nsenter``; a ``python`` wrapper lets ansible-playbook run its modules there. When the test ends,
the namespace's first process is killed and the kernel kills every other process of its pid namespace (dbus-daemon,
firewalld) with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Tuple

from tests.support.peers import require_tool
from tests.support.polling import wait_until

# (host directory, Debian package that provides it): copied, then mounted over the original inside the namespace.
PRIVATE_DIRECTORIES = {
    "/etc/firewalld": "firewalld",
    "/etc/ufw": "ufw",
    "/etc/selinux": "selinux-policy-default",
    "/var/lib/selinux": "selinux-policy-default",
    "/etc/systemd/system": "systemd",
}

SETUP = r"""
set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/dbus /run/firewalld
while read -r copy target; do mount --bind "$copy" "$target"; done < "$1/mounts"
ip link set lo up
if [ "$2" = running ]; then
    dbus-daemon --system --fork --nopidfile
    firewalld --nofork --nopid > "$1/firewalld.log" 2>&1 &
fi
echo ready
exec sleep infinity
"""


@dataclass
class PrivateHost:
    pid: int
    """The namespace's first process, the target of nsenter."""
    root: Path
    """Where the copies live, as ``root/<path without its leading slash>``."""

    def run(self, *args: str, data: str | None = None, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", "--target", str(self.pid), "--mount", "--net", "--", *args],
            input=data,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def runner(self):
        """A run_command (``args, data=None`` -> rc, stdout, stderr) for module_utils code, run inside."""

        def run(args, data=None):
            done = self.run(*args, data=data)
            return done.returncode, done.stdout, done.stderr

        return run

    def python(self, directory: Path) -> Path:
        """A python interpreter wrapper (for ``ansible_python_interpreter``) that runs inside the namespace."""
        wrapper = directory / "python-in-private-host"
        wrapper.write_text(f'#!/bin/sh\nexec nsenter --target {self.pid} --mount --net -- {sys.executable} "$@"\n')
        wrapper.chmod(0o755)
        return wrapper

    def copy_of(self, path: str) -> Path:
        """The copy a path of the host's configuration is inside the namespace (read it from outside)."""
        return self.root / path.lstrip("/")

    def ufw_conf(self) -> str:
        """The private ufw.conf, for ``_host_firewall.detect`` called from outside the namespace."""
        return str(self.copy_of("/etc/ufw/ufw.conf"))

    def enable_firewalld_at_boot(self) -> None:
        """What ``systemctl enable firewalld`` does, in the private /etc/systemd/system."""
        wants = self.copy_of("/etc/systemd/system") / "multi-user.target.wants"
        wants.mkdir(exist_ok=True)
        link = wants / "firewalld.service"
        if not link.is_symlink():
            link.symlink_to("/lib/systemd/system/firewalld.service")


def _require_tools(firewalld: str) -> None:
    for tool, package in (("unshare", "util-linux"), ("nsenter", "util-linux"), ("ip", "iproute2")):
        require_tool(tool, package)
    if firewalld != "none":
        require_tool("firewall-offline-cmd", "firewalld")
        require_tool("firewall-cmd", "firewalld")
    if firewalld == "running":
        require_tool("dbus-daemon", "dbus")
        require_tool("firewalld", "firewalld")


@contextmanager
def private_host(directory: Path, firewalld: str = "stopped") -> Iterator[PrivateHost]:
    """A private host whose configuration starts as a copy of this machine's.

    ``firewalld``: ``running`` starts dbus-daemon and firewalld inside (wait for ``firewall-cmd --state``),
    ``stopped`` leaves it installed but not running.
    """
    _require_tools(firewalld)
    for path, package in PRIVATE_DIRECTORIES.items():
        assert os.path.isdir(path), (
            f"{path} is missing: install the Debian package {package} (apt-get install {package})"
        )
    root = directory / "private-host"
    mounts = []
    for path in PRIVATE_DIRECTORIES:
        copy = root / path.lstrip("/")
        shutil.copytree(path, copy, symlinks=True)
        mounts.append(f"{copy} {path}")
    (root / "mounts").write_text("\n".join(mounts) + "\n")
    script = root / "setup.sh"
    script.write_text(textwrap.dedent(SETUP))
    process = subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "--kill-child",
            "--propagation",
            "private",
            "sh",
            str(script),
            str(root),
            firewalld,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line == "ready", (
            f"the private host did not start: {line} {process.stderr.read() if process.poll() is not None else ''}"
        )
        host = PrivateHost(_child_of(process.pid), root)
        if firewalld == "running":
            _wait_running(host, root / "firewalld.log")
        yield host
    finally:
        process.kill()
        process.wait(timeout=30)


def _child_of(pid: int) -> int:
    """unshare --fork's child: the first process of the new namespaces (pid 1 inside)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert children, "unshare has no child process"
    return int(children[0])


def _wait_running(host: PrivateHost, log: Path) -> None:
    if not wait_until(lambda: host.run("firewall-cmd", "--state").returncode == 0, timeout=60):
        raise AssertionError(f"firewalld did not start inside the private host: {log.read_text()[-2000:]}")


def port_label(host: PrivateHost, spec: str) -> Tuple[str, ...]:
    """The local (``semanage port -l -C``) types of a ``port/protocol``, read inside."""
    port, protocol = spec.split("/")
    listing = host.run("semanage", "port", "-l", "-C", "-n", check=True).stdout
    types = []
    for line in listing.splitlines():
        fields = line.split(None, 2)
        if len(fields) == 3 and fields[1] == protocol and port in [p.strip() for p in fields[2].split(",")]:
            types.append(fields[0])
    return tuple(types)
