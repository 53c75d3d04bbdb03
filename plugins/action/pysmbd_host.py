# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``pysmbd_host``: everything that can be known here is computed here, then ONE module call.

Before, the pysmbd role ran some twenty modules per host on a run that changes nothing, each a Python start on the
host. Here the controller packs the sources (once per content, kept in ~/.ansible/tmp), hashes the passwords, renders the config, users and unit
templates with the task's variables, and reads what it needs from the host (PID 1's name, the installed tarball's
checksum, the existing config's listeners) with one plain shell command. The module then compares and changes only
what differs; the tarball travels only when its checksum differs.
"""

from __future__ import annotations

import os
import shlex

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import lookup_loader

from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.pysmbd import (
    PysmbdError,
    listeners_of,
    parse_config,
)
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._pysmbd_sources import cached_tarball, file_sha256

MODULE = "smb.alternative_ports.pysmbd_host"
TARBALL_NAME = "pysmbd-src.tar.gz"
# The passwords stay on the controller: the module gets the users file, with their hashes.
_CONTROLLER_ONLY = frozenset(("users",))
_PROBE_MARK = "--8<-- pysmbd_host probe --8<--"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        host = task_vars.get("inventory_hostname", "?")
        args = dict(self._task.args)
        try:
            module_args, facts = self._module_args(args, task_vars, host)
        except AnsibleActionFail as exc:
            message = str(exc)
            result.update(failed=True, msg=message if message.startswith(f"{host}: ") else f"{host}: {message}")
            return result
        tarball = module_args.pop("_tarball")
        try:
            if facts["installed_checksum"] != module_args["source_checksum"] and not self._task.check_mode:
                module_args["source_file"] = self._transfer_tarball(tarball)
            outcome = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        finally:
            if self._connection._shell.tmpdir is not None:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        if outcome.get("failed") and outcome.get("msg") and not str(outcome["msg"]).startswith(host):
            outcome["msg"] = f"{host}: {outcome['msg']}"
        result.update(outcome)
        result.update(listeners=facts["listeners"], quic_needed=facts["quic_needed"])
        return result

    def _module_args(self, args: dict, task_vars: dict, host: str) -> tuple:
        install_dir = _required(args, "install_dir", host)
        config_path = _required(args, "config_path", host)
        keep_listeners = boolean(args.get("keep_listeners", True), strict=False)
        service_mode = args.get("service_mode", "auto")
        probe = self._probe(os.path.join(install_dir, TARBALL_NAME), config_path if keep_listeners else None)

        listeners = list(args.get("listeners") or [])
        if keep_listeners and probe["config"] is not None:
            try:
                listeners = listeners_of(parse_config(probe["config"], config_path), config_path)
            except PysmbdError as exc:
                raise AnsibleActionFail(f"{host}: {exc}") from exc
        quic_needed = boolean(args.get("quic", False), strict=False) or any(
            str(item.get("transport", "tcp")).lower() == "quic" for item in listeners
        )
        needs_low_ports = any(int(item["port"]) < 1024 for item in listeners)
        quic = self._quic_args(args, host) if quic_needed else None
        if service_mode == "auto":
            service_mode = "systemd" if probe["pid1"] == "systemd" else "supervisor"

        sources = _required(args, "sources", host)
        try:
            tarball = cached_tarball(sources, os.path.join(os.path.expanduser("~"), ".ansible", "tmp", "smb-ap-pysmbd"))
            checksum = file_sha256(tarball)
        except OSError as exc:
            raise AnsibleActionFail(f"{host}: cannot pack pysmbd's sources: {exc}") from exc
        template_vars = {
            "pysmbd_effective_listeners": listeners,
            "pysmbd_quic_needed": quic_needed,
            "pysmbd_needs_low_ports": needs_low_ports,
            "pysmbd_password_hashes": _password_hashes(args.get("users") or [], host),
        }
        module_args = {key: value for key, value in args.items() if key not in _CONTROLLER_ONLY}
        module_args.update(
            _tarball=tarball,
            source_checksum=checksum,
            directories=_directories(args.get("directories") or [], args.get("user")),
            quic_pair=quic,
            service_mode=service_mode,
            needs_low_ports=needs_low_ports,
            config_content=self._render(args.get("config_template", "pysmbd.toml.j2"), task_vars, template_vars),
            users_content=self._render(args.get("users_template", "users.j2"), task_vars, template_vars),
            unit_content=self._render(args.get("unit_template", "pysmbd.service.j2"), task_vars, template_vars),
        )
        return module_args, {
            "installed_checksum": probe["checksum"],
            "listeners": listeners,
            "quic_needed": quic_needed,
        }

    def _probe(self, tarball_path: str, config_path) -> dict:
        """PID 1's name, the installed tarball's SHA-256 and the config's text, in one shell command (no Python)."""
        mark = shlex.quote(_PROBE_MARK)
        command = (
            f"cat /proc/1/comm 2>/dev/null; echo {mark}; "
            f"sha256sum {shlex.quote(tarball_path)} 2>/dev/null; echo {mark}; "
            # A config that exists but cannot be read is not a missing one: stop (exit 7) rather than rewrite it.
            + (
                f"if [ -e {shlex.quote(config_path)} ]; then cat {shlex.quote(config_path)} || exit 7; echo {mark}; fi; "
                if config_path
                else ""
            )
            + "exit 0"
        )
        done = self._low_level_execute_command(command, sudoable=True)
        parts = done.get("stdout", "").split(_PROBE_MARK + "\n")
        if done.get("rc") == 7:
            raise AnsibleActionFail(
                f"{config_path} exists but cannot be read ({done.get('stderr', '').strip()}): run the role as root"
                " (become: true)"
            )
        if done.get("rc") != 0 or len(parts) < 3:
            raise AnsibleActionFail(
                f"cannot read the host's state with a shell command (rc={done.get('rc')}): "
                f"{done.get('stderr', '').strip() or done.get('stdout', '').strip()}"
            )
        checksum = parts[1].split()
        return {
            "pid1": parts[0].strip(),
            "checksum": checksum[0] if checksum else "",
            "config": parts[2] if len(parts) > 3 else None,
        }

    def _quic_args(self, args: dict, host: str) -> dict:
        certificate, private_key = args.get("quic_certificate") or "", args.get("quic_private_key") or ""
        if bool(certificate) != bool(private_key):
            raise AnsibleActionFail(
                f"{host}: set both pysmbd_quic_certificate and pysmbd_quic_private_key (PEM files on the host), "
                "or neither for a generated self-signed pair"
            )
        return {
            "certificate": certificate or _required(args, "quic_generated_certificate", host),
            "private_key": private_key or _required(args, "quic_generated_private_key", host),
            "generate": not certificate,
            "names": list(dict.fromkeys(args.get("quic_certificate_names") or [])),
            "days": int(args.get("quic_certificate_days", 825)),
        }

    def _render(self, name: str, task_vars: dict, template_vars: dict) -> str:
        path = self._find_needle("templates", name)
        lookup = lookup_loader.get("ansible.builtin.template", loader=self._loader, templar=self._templar)
        return lookup.run([path], variables=task_vars, template_vars=template_vars)[0]

    def _transfer_tarball(self, tarball: str) -> str:
        """Put the tarball in a remote temporary directory (removed after the module ran); returns its path."""
        if self._connection._shell.tmpdir is None:
            self._make_tmp_path()
        remote = self._connection._shell.join_path(self._connection._shell.tmpdir, TARBALL_NAME)
        self._transfer_file(tarball, remote)
        self._fixup_perms2((self._connection._shell.tmpdir, remote))
        return remote


def _required(args: dict, name: str, host: str):
    value = args.get(name)
    if value in (None, ""):
        raise AnsibleActionFail(f"{host}: pysmbd_host needs the option {name}")
    return value


def _directories(entries: list, default_owner) -> list:
    """``{name, path, owner, mode}`` for each: the pysmbd role's config and state directories and its shares."""
    return [
        {
            "name": str(entry.get("name", entry["path"])),
            "path": str(entry["path"]),
            "owner": str(entry.get("owner") or default_owner),
            "mode": str(entry.get("mode") or "0770"),
        }
        for entry in entries
    ]


def _password_hashes(users: list, host: str) -> list:
    """Each user's NT hash (MD4 of the UTF-16LE password, 32 upper-case hex digits), in the users' order.

    pyspnego's MD4 (OpenSSL 3 dropped MD4 from hashlib), the one pysmbd itself uses: the hash is computed here,
    once, instead of a ``pysmbd hash-password`` start on the host per user.
    """
    try:
        from spnego._ntlm_raw.md4 import md4
    except ImportError as exc:
        raise AnsibleActionFail(
            f"{host}: hashing pysmbd_users' passwords needs pyspnego on the controller (pip install pyspnego): {exc}"
        ) from exc
    hashes = []
    for index, user in enumerate(users):
        password = str(user.get("password") or "")
        if not password:
            raise AnsibleActionFail(
                f"{host}: pysmbd_users[{index}] ({user.get('name', '?')}) has no password: give it one"
            )
        hashes.append(md4(password.encode("utf-16-le")).hex().upper())
    return hashes
