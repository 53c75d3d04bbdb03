# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: the host half of ``pysmbd_host``, everything the pysmbd role keeps in shape.

Each step compares the host with what the controller sent and changes only what differs, in the order the role's
tasks used to run: sources and virtualenv, group and account, directories, QUIC certificate, users file, config
(checked by ``pysmbd check-config`` before it replaces the old one), systemd unit, and in supervisor mode the
running server. ``changes`` names what changed; ``restart`` and ``reload`` say what the server needs for it.
"""

from __future__ import annotations

import calendar
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import stat
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from ansible_collections.smb.alternative_ports.plugins.module_utils._pem import pem_certificate_sha256

TARBALL_NAME = "pysmbd-src.tar.gz"
NOLOGIN_SHELL = "/usr/sbin/nologin"
HIDDEN_HASH = "(NT hash hidden)"
HIDDEN_CHANGED_HASH = "(NT hash hidden, changed)"


class HostError(Exception):
    """A step cannot be done; the message says what, where and what to do."""


class PysmbdHost:
    def __init__(self, module) -> None:
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.changes: List[str] = []
        self.diffs: List[dict] = []
        self.restart = False
        self.reload = False
        self.unit_changed = False
        self.fingerprint = ""

    @property
    def executable(self) -> str:
        return os.path.join(self.params["venv"], "bin", "pysmbd")

    def converge(self) -> dict:
        self.install()
        self.account()
        self.directories()
        if self.params["quic_pair"]:
            self.quic_certificate()
        self.users_file()
        self.config_file()
        self.unit_file()
        if self.params["service_mode"] == "supervisor":
            self.supervise()
        quic = self.params["quic_pair"] or {}
        result = {
            "changed": bool(self.changes),
            "changes": self.changes,
            "restart": self.restart,
            "reload": self.reload and not self.restart,
            "unit_changed": self.unit_changed,
            "service_mode": self.params["service_mode"],
            "quic_certificate": quic.get("certificate", ""),
            "quic_fingerprint_sha256": self.fingerprint,
        }
        if self.module._diff:
            result["diff"] = self.diffs
        return result

    def _changed(self, part: str) -> None:
        if part not in self.changes:
            self.changes.append(part)

    def _run(self, argv: List[str], what: str, ok=(0,), data: Optional[str] = None) -> Tuple[int, str, str]:
        rc, out, err = self.module.run_command(argv, data=data, binary_data=data is not None)
        if rc not in ok:
            raise HostError(f"{what} failed (rc={rc}): {(err or out).strip()}")
        return rc, out, err

    # Sources and virtualenv: the tarball is current when its SHA-256 is the controller's.
    def install(self) -> None:
        install_dir = self.params["install_dir"]
        tarball = os.path.join(install_dir, TARBALL_NAME)
        sources_changed = file_sha256(tarball) != self.params["source_checksum"]
        if sources_changed:
            self._changed("sources")
            if not self.check_mode:
                source = self.params["source_file"]
                if not source:
                    raise HostError(f"{tarball} is not current and no new tarball was sent (run the task again)")
                ensure_directory(install_dir, 0, 0, 0o755)
                shutil.move(source, tarball)
        if not self.check_mode and set_attributes(tarball, 0, 0, 0o644):
            self._changed("sources")
        if not sources_changed and os.access(self.executable, os.X_OK):
            return
        self._changed("installed")
        self.restart = True
        if self.check_mode:
            return
        source_dir = os.path.join(install_dir, "src")
        shutil.rmtree(source_dir, ignore_errors=True)
        os.makedirs(source_dir)
        self._run(["tar", "-xzf", tarball, "-C", source_dir], f"unpacking {tarball}")
        venv_python = os.path.join(self.params["venv"], "bin", "python")
        if not os.access(venv_python, os.X_OK):
            self._run([self.params["python"], "-m", "venv", self.params["venv"]], "making the virtualenv")
        pip = [venv_python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
        self._run(pip + list(self.params["pip_args"]) + [source_dir], "pip install of pysmbd")

    def account(self) -> None:
        group, user = self.params["group"], self.params["user"]
        if not _exists(grp.getgrnam, group):
            self._changed("group")
            if not self.check_mode:
                self._run(["groupadd", "--system", group], f"creating the group {group}")
        found = _lookup(pwd.getpwnam, user)
        if found is None:
            self._changed("account")
            if not self.check_mode:
                argv = ["useradd", "--system", "--gid", group, "--shell", NOLOGIN_SHELL, "--no-create-home", user]
                self._run(argv, f"creating the account {user}")
            return
        gid = _lookup(grp.getgrnam, group)
        if found.pw_shell != NOLOGIN_SHELL or gid is None or found.pw_gid != gid.gr_gid:
            self._changed("account")
            if not self.check_mode:
                self._run(["usermod", "--gid", group, "--shell", NOLOGIN_SHELL, user], f"updating the account {user}")

    def directories(self) -> None:
        for entry in self.params["directories"]:
            uid, gid = self._ids(entry["owner"], self.params["group"])
            mode = int(entry["mode"], 8)
            if not os.path.isdir(entry["path"]):
                self._changed("directories")
                if not self.check_mode:
                    os.makedirs(entry["path"], exist_ok=True)
            if not self.check_mode and set_attributes(entry["path"], uid, gid, mode):
                self._changed("directories")
            elif self.check_mode and os.path.isdir(entry["path"]) and not has_attributes(entry["path"], uid, gid, mode):
                self._changed("directories")

    def quic_certificate(self) -> None:
        quic = self.params["quic_pair"]
        certificate, key = quic["certificate"], quic["private_key"]
        if quic["generate"]:
            if not os.path.exists(certificate):
                self._changed("certificate")
                self.reload = True
                if not self.check_mode:
                    argv = [
                        self.executable,
                        "gen-cert",
                        "--cert",
                        certificate,
                        "--key",
                        key,
                        "--days",
                        str(quic["days"]),
                    ]
                    # --force: a generated key left without its certificate serves nothing; the pair is made anew.
                    names = [f"--name={name}" for name in quic["names"]]
                    self._run(argv + names + ["--force"], "pysmbd gen-cert")
            uid, gid = self._ids("root", self.params["group"])
            if self.check_mode:
                if os.path.exists(key) and not has_attributes(key, uid, gid, 0o640):
                    self._changed("certificate")
            elif set_attributes(key, uid, gid, 0o640):
                self._changed("certificate")
        else:
            for path, variable in ((certificate, "certificate"), (key, "private_key")):
                if not os.path.isfile(path):
                    raise HostError(
                        f"{path} (from pysmbd_quic_{variable}) is not a file on the host: copy the PEM file there first,"
                        " or leave pysmbd_quic_certificate and pysmbd_quic_private_key empty for a generated"
                        " self-signed pair"
                    )
        try:
            with open(certificate, encoding="ascii", errors="replace") as handle:
                self.fingerprint = pem_certificate_sha256(handle.read()).lower()
        except FileNotFoundError:
            if not self.check_mode:  # in check mode a certificate that would be generated does not exist yet
                raise HostError(
                    f"{certificate}: no such file: cannot read the QUIC certificate's fingerprint"
                ) from None
        except ValueError as exc:
            raise HostError(f"{certificate} holds no PEM certificate ({exc}): give a PEM certificate") from exc

    def users_file(self) -> None:
        uid, gid = self._ids("root", self.params["group"])
        before, changed = self._file(self.params["users_file"], self.params["users_content"], uid, gid, 0o640)
        if changed:
            self._changed("users")
            self.reload = True
            shown_before, shown_after = masked_users(before, self.params["users_content"])
            self.diffs.append(
                {
                    "before_header": self.params["users_file"],
                    "after_header": self.params["users_file"],
                    "before": shown_before,
                    "after": shown_after,
                }
            )

    def config_file(self) -> None:
        uid, gid = self._ids("root", self.params["group"])
        path, content = self.params["config_path"], self.params["config_content"]
        before, changed = self._file(path, content, uid, gid, 0o640, validate=True)
        if changed:
            self._changed("config")
            self.reload = True
            self.diffs.append({"before_header": path, "after_header": path, "before": before, "after": content})

    def unit_file(self) -> None:
        path = self.params["unit_path"]
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            self._changed("unit")
            if not self.check_mode:
                ensure_directory(directory, 0, 0, 0o755)
        elif not self.check_mode and set_attributes(directory, 0, 0, 0o755):
            self._changed("unit")
        before, changed = self._file(path, self.params["unit_content"], 0, 0, 0o644)
        if not changed:
            return
        self._changed("unit")
        self.unit_changed = True
        self.diffs.append(
            {"before_header": path, "after_header": path, "before": before, "after": self.params["unit_content"]}
        )
        if self.check_mode:
            return
        analyze = self.module.get_bin_path("systemd-analyze")
        if analyze is None:  # no systemd here: nothing checks the unit
            return
        rc, _out, err = self.module.run_command([analyze, "verify", path])
        # Complaints about units other than this one (the host's own) are not this unit's fault.
        if rc != 0 and "pysmbd.service:" in err:
            raise HostError(f"systemd-analyze verify {path} rejects the unit: {err.strip()}")

    def supervise(self) -> None:
        """systemd is not PID 1: start pysmbd when it is not running, restart it when it runs older code."""
        if not (os.access(self.executable, os.X_OK) and os.path.exists(self.params["config_path"])):
            self._changed("started")  # check mode before the first install: nothing to ask yet
            return
        argv = [self.executable, "status", "--config", self.params["config_path"], "--json"]
        rc, out, _err = self._run(argv, "pysmbd status", ok=(0, 3))
        if rc != 0:
            self._changed("started")
            if not self.check_mode:
                self._run(self._start_command(), "starting pysmbd")
            return
        started = _started_epoch(out)
        if started is not None and started + 1 < os.stat(self.executable).st_mtime:
            self._changed("restarted")  # a restart notified by an earlier run that then failed is lost with that run
            self.restart = True
        elif _running_workers(out) != _configured_workers(self.params["config_content"]):
            self._changed("restarted")  # [server] workers changes only when pysmbd starts again
            self.restart = True

    def _start_command(self) -> List[str]:
        capabilities = ["--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service"]
        return (
            ["setpriv", f"--reuid={self.params['user']}", f"--regid={self.params['group']}", "--init-groups"]
            + (capabilities if self.params["needs_low_ports"] else [])
            + [self.executable, "serve", "--config", self.params["config_path"], "--daemon"]
        )

    def _ids(self, owner: str, group: str) -> Tuple[int, int]:
        """uid and gid; -1 in check mode for an account this run would create."""
        found_user, found_group = _lookup(pwd.getpwnam, owner), _lookup(grp.getgrnam, group)
        if (found_user is None or found_group is None) and not self.check_mode:
            raise HostError(f"the account {owner} or the group {group} does not exist")
        return (found_user.pw_uid if found_user else -1, found_group.gr_gid if found_group else -1)

    def _file(self, path: str, content: str, uid: int, gid: int, mode: int, validate: bool = False) -> Tuple[str, bool]:
        """Make ``path`` hold ``content`` with these owner and mode; returns (the old text, whether it changed)."""
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                before = handle.read()
        except FileNotFoundError:
            before = ""
            exists = False
        else:
            exists = True
        if exists and before == content:
            if self.check_mode:
                return before, not has_attributes(path, uid, gid, mode)
            return before, set_attributes(path, uid, gid, mode)
        if self.check_mode:
            return before, True
        directory = os.path.dirname(path) or "."
        handle = tempfile.NamedTemporaryFile("w", dir=directory, prefix=".pysmbd_host.", encoding="utf-8", delete=False)
        try:
            with handle:
                handle.write(content)
            set_attributes(handle.name, uid, gid, mode)
            if validate:
                self._run([self.executable, "check-config", handle.name], f"pysmbd check-config of the new {path}")
            os.replace(handle.name, path)
        finally:
            if os.path.exists(handle.name):
                os.unlink(handle.name)
        return before, True


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return ""
    return digest.hexdigest()


def has_attributes(path: str, uid: int, gid: int, mode: int) -> bool:
    info = os.stat(path)
    return info.st_uid == uid and info.st_gid == gid and stat.S_IMODE(info.st_mode) == mode


def set_attributes(path: str, uid: int, gid: int, mode: int) -> bool:
    """Give ``path`` this owner, group and mode; True when something had to change."""
    if has_attributes(path, uid, gid, mode):
        return False
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return True


def ensure_directory(path: str, uid: int, gid: int, mode: int) -> None:
    os.makedirs(path, exist_ok=True)
    set_attributes(path, uid, gid, mode)


def masked_users(before: str, after: str) -> Tuple[str, str]:
    """Both users files for a diff, each NT hash replaced by a marker that says only whether it changed."""
    old_hashes = _hashes_by_user(before)
    shown_before = "".join(_mask_line(line, HIDDEN_HASH) for line in before.splitlines(True))
    shown_after = []
    for line in after.splitlines(True):
        fields = line.split(":")
        same = len(fields) > 3 and old_hashes.get(fields[0]) == fields[3]
        shown_after.append(_mask_line(line, HIDDEN_HASH if same else HIDDEN_CHANGED_HASH))
    return shown_before, "".join(shown_after)


def _mask_line(line: str, marker: str) -> str:
    if line.startswith("#"):
        return line
    fields = line.split(":")
    if len(fields) > 3:
        fields[3] = marker
    return ":".join(fields)


def _hashes_by_user(text: str) -> Dict[str, str]:
    found = {}
    for line in text.splitlines():
        fields = line.split(":")
        if not line.startswith("#") and len(fields) > 3:
            found[fields[0]] = fields[3]
    return found


def _started_epoch(status_json: str) -> Optional[float]:
    try:
        started = json.loads(status_json).get("started")
        return float(calendar.timegm(time.strptime(started, "%Y-%m-%dT%H:%M:%SZ")))
    except (ValueError, TypeError, AttributeError):
        return None


def _running_workers(status_json: str) -> int:
    """Worker processes of the running server (its status lists them when there are several)."""
    try:
        return len(json.loads(status_json).get("workers") or []) or 1
    except (ValueError, AttributeError):
        return 1


def _configured_workers(config_text: str) -> int:
    """``[server] workers`` of a config pysmbd_host renders (a count, or "auto": one per CPU)."""
    found = re.search(r'^workers = ("auto"|\d+)$', config_text, re.M)
    if found is None:
        return 1
    return min(os.cpu_count() or 1, 64) if found.group(1) == '"auto"' else max(int(found.group(1)), 1)


def _lookup(getter, name):
    try:
        return getter(name)
    except KeyError:
        return None


def _exists(getter, name) -> bool:
    return _lookup(getter, name) is not None
