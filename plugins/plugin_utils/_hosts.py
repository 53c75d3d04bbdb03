# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller can tell about a host before contacting it.

This is a private plugin_utils file: its API may change without notice.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

# Connection plugins that reach Windows over WinRM or PSRP, under their short and fully qualified names.
WINDOWS_CONNECTIONS = frozenset(
    ("winrm", "psrp", "ansible.builtin.winrm", "ansible.builtin.psrp", "ansible.windows.psrp")
)


def is_windows_host(
    task_vars: Mapping[str, Any], connection: Optional[str] = None, template: Optional[Callable[[Any], Any]] = None
) -> bool:
    """True for a host reached over WinRM or PSRP, or whose gathered ``ansible_os_family`` is Windows.

    ``connection`` is the running connection plugin's name, used when the host sets no ``ansible_connection``;
    ``template`` resolves a templated ``ansible_connection``.
    """
    name = task_vars.get("ansible_connection") or connection or ""
    if template is not None and isinstance(name, str):
        name = template(name)
    return str(name) in WINDOWS_CONNECTIONS or str(task_vars.get("ansible_os_family", "")) == "Windows"
