# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared ``attributes`` documentation (and the author) of the collection's modules.

Each fragment is built from the pieces below, so a module lists two or three fragments instead of repeating them.
"""

from __future__ import annotations

_AUTHOR = """\
author:
  - smb.alternative_ports developers (@smb-alternative-ports)
"""

# Every module belongs to the action group used by module_defaults.
_ACTION_GROUP = """\
  action_group:
    description: Use C(group/smb.alternative_ports.alternative_ports) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - smb.alternative_ports.alternative_ports
"""

# Controller-side work: the module runs through its action plugin on the controller.
_ACTION = """\
  action:
    description: Indicates this has a corresponding action plugin so some parts of the work run on the controller.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  bypass_host_loop:
    description: Forces a 'global' task that does not execute per host.
    support: none
"""


def _platform(platforms: str) -> str:
    return (
        "  platform:\n    description: Target OS/families that can be operated against.\n"
        f"    support: full\n    platforms: {platforms}\n"
    )


class ModuleDocFragment:
    # Every module: the author and the action group.
    DOCUMENTATION = "options: {}\n" + _AUTHOR + "attributes:\n" + _ACTION_GROUP

    # The action plugin's attributes alone (modules that also list the base fragment).
    ACTION = "options: {}\nattributes:\n" + _ACTION

    # A Windows-only module run by its action plugin on the controller over WinRM (replaces the base fragment).
    WINDOWS = "options: {}\n" + _AUTHOR + "attributes:\n" + _ACTION_GROUP + _ACTION + _platform("windows")

    # Linux hosts (in the module) and Windows hosts (over WinRM from the controller); replaces the base fragment.
    POSIX_AND_WINDOWS = (
        "options: {}\n" + _AUTHOR + "attributes:\n" + _ACTION_GROUP + _ACTION + _platform("[posix, windows]")
    )

    # Modules that only read.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads, so it runs the same way in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

    # Modules that change state.
    CHANGES_STATE = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: full
"""
