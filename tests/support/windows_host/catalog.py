"""The table of modelled cmdlets and the one entry point that runs a call against the state.

A cmdlet is a :class:`CmdletSpec`: Microsoft's name, its parameters and a handler. ``invoke`` looks the
command up (an unknown one fails as PowerShell's CommandNotFoundException does), binds the splatted
parameters, applies PowerShell's confirmation rules, and calls the handler.

Confirmation: the SmbShare cmdlets that take ``-Force`` ask "Are you sure?" before changing anything
unless ``-Force`` or ``-Confirm:$false`` is given. Under ``powershell.exe -NonInteractive`` that prompt
is an error, so the model fails such a call the way Windows would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .binding import SWITCH, Param, bind
from .cim_classes import convert_output
from .cmdlet_errors import CmdletError
from .state import WindowsState, windows_build

Handler = Callable[[WindowsState, dict[str, Any], str], list[Any]]


@dataclass(frozen=True)
class CmdletSpec:
    """A modelled cmdlet."""

    name: str
    params: tuple[Param, ...]
    handler: Handler
    changes_state: bool = False
    prompts_without_force: bool = False
    output_class: str = ""
    """The CIM class of the output objects (``cim_classes.CLASSES``), or empty for none/other output."""
    min_build: int = 0
    """The first Windows build that has the cmdlet (Server 2025, 26100, for the alternative-port cmdlets)."""


_CATALOG: dict[str, CmdletSpec] = {}


def register(spec: CmdletSpec) -> None:
    """Add a cmdlet; changing cmdlets get -WhatIf and -Confirm as PowerShell gives them."""
    params = spec.params
    if spec.changes_state:
        params = (*params, Param("WhatIf", SWITCH), Param("Confirm", SWITCH))
    _CATALOG[spec.name.lower()] = CmdletSpec(
        spec.name,
        params,
        spec.handler,
        spec.changes_state,
        spec.prompts_without_force,
        spec.output_class,
        spec.min_build,
    )


def specs() -> list[CmdletSpec]:
    """Every modelled cmdlet, sorted by name (for tests that hold the model to SOURCES.md)."""
    _load()
    return sorted(_CATALOG.values(), key=lambda spec: spec.name)


def known_commands() -> list[str]:
    """Names of all modelled cmdlets, sorted."""
    _load()
    return sorted(spec.name for spec in _CATALOG.values())


def parameter_names(command: str) -> list[str]:
    """Names of a modelled cmdlet's parameters (for tests that generate calls)."""
    _load()
    return [param.name for param in _CATALOG[command.lower()].params]


def invoke(state: WindowsState, command: str, parameters: Any) -> list[Any]:
    """Run one cmdlet call; return its output objects or raise :class:`CmdletError`."""
    _load()
    spec = _CATALOG.get(str(command).lower())
    if spec is not None and spec.min_build and windows_build(state) < spec.min_build:
        spec = None  # an older Windows has no such cmdlet at all
    if spec is None:
        raise CmdletError(
            f"The term '{command}' is not recognized as the name of a cmdlet, function, script file, or operable "
            "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
            "and try again.",
            "ObjectNotFound",
            "CommandNotFoundException",
        )
    args = bind(spec.name, spec.params, parameters)
    if spec.changes_state:
        if args.pop("WhatIf", False):
            return []
        confirm = args.pop("Confirm", None)
        needs_prompt = confirm is True or (spec.prompts_without_force and confirm is None and not args.get("Force"))
        if needs_prompt:
            raise CmdletError(
                "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
                "InvalidOperation",
                f"System.Management.Automation.PSInvalidOperationException,{spec.name}",
            )
    output = spec.handler(state, args, spec.name)
    enum_form = state.host.get("enum_form", "names")
    return [convert_output(spec.output_class, obj, enum_form) for obj in output]


def _load() -> None:
    # The cmdlet modules register themselves on import; import them lazily to avoid a cycle. (Python imports each
    # once, so a test that imported one of them first, for its plant_* helpers, still gets all of them here.)
    from . import (  # noqa: F401
        firewall_cmdlets,
        network_cmdlets,
        registry_cmdlets,
        smb_client_cmdlets,
        smb_server_cmdlets,
    )
