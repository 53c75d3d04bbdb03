# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``smb.alternative_ports.client_mapping_move``: the work runs over WinRM from here."""

from __future__ import annotations

from ansible_collections.smb.alternative_ports.plugins.modules.client_mapping_move import ARGUMENT_SPEC
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_action import WindowsActionBase
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._windows_client_mapping_move import (
    run_client_mapping_move,
)


class ActionModule(WindowsActionBase):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run_windows(self, target, args, check_mode):
        return run_client_mapping_move(target, args, check_mode)
