# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a server_ports or server_ports_info task against the Windows backend, over one WinRM shell.

This is a private plugin_utils file: its API may change without notice.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from ansible_collections.smb.alternative_ports.plugins.module_utils.backends._base import (
    BackendError,
    PortRequest,
    RefusedError,
    change_ports,
    describe_ports,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils.backends.windows import WindowsBackend
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import ExecutorError
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_common import executor_runner
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMError, WinRMSession, WinRMTarget


def windows_backend(
    target: WinRMTarget, firewall: bool = True, session_factory: Callable[[WinRMTarget], WinRMSession] = WinRMSession
) -> WindowsBackend:
    """The Windows backend of ``target``; its WinRM shell opens at the first read and closes with the backend."""
    return WindowsBackend(lambda: executor_runner(target, session_factory), target.label, firewall)


def windows_server_ports(
    target: WinRMTarget,
    args: Mapping[str, Any],
    check_mode: bool,
    diff_mode: bool = False,
    session_factory: Callable[[WinRMTarget], WinRMSession] = WinRMSession,
) -> dict:
    """The server_ports result for a Windows host; raises BackendError, WinRMError or ExecutorError."""
    with windows_backend(target, args.get("firewall", True) is not False, session_factory) as backend:
        if args.get("restore") is not None:
            request = backend.restore_request(args["restore"])
        else:
            request = PortRequest.from_params(args)
        return change_ports(backend, request, check_mode, diff_mode)


def windows_server_ports_info(
    target: WinRMTarget,
    args: Optional[Mapping[str, Any]] = None,
    session_factory: Callable[[WinRMTarget], WinRMSession] = WinRMSession,
) -> dict:
    """The server_ports_info result for a Windows host (one executor run, nothing changed)."""
    with windows_backend(target, (args or {}).get("firewall", True) is not False, session_factory) as backend:
        return describe_ports(backend)


def run_windows_server_ports(
    make_target: Callable[[], WinRMTarget], args: Mapping[str, Any], check_mode: Optional[bool], diff_mode: bool = False
) -> dict:
    """The action plugin's task result: server_ports (``check_mode`` a bool) or server_ports_info (None).

    Every expected error becomes a failed result with a clear message and no traceback.
    """
    try:
        target = make_target()
        if check_mode is None:
            return windows_server_ports_info(target, args)
        return windows_server_ports(target, args, check_mode, diff_mode)
    except RefusedError as exc:
        # problems: one sentence per reason, for a caller that lists them (the migrate role's preflight)
        return {"failed": True, "msg": str(exc), "backend": "windows", "problems": exc.problems}
    except BackendError as exc:
        return dict(exc.result, failed=True, msg=str(exc), backend="windows")
    except (WinRMError, ExecutorError) as exc:
        return {"failed": True, "msg": str(exc), "backend": "windows"}
