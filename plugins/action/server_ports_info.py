# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``server_ports_info``: Windows is read here over WinRM; Linux by the module on the target."""

from __future__ import annotations

from ansible_collections.smb.alternative_ports.plugins.action.server_ports import ActionModule as _ServerPorts


class ActionModule(_ServerPorts):
    MODULE = "smb.alternative_ports.server_ports_info"
    CHANGES_STATE = False
