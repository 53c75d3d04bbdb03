"""Parameter binding as PowerShell does it for a splatted hashtable.

The executor runs ``& $command @parameters -ErrorAction Stop``. PowerShell then matches each key to a
parameter name case-insensitively (an unambiguous prefix is enough), converts each value to the
parameter's type, and refuses unknown names, ambiguous prefixes, duplicates and missing mandatory
parameters with the messages reproduced here. Values arrive from JSON: strings, numbers, booleans,
lists and null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .cmdlet_errors import CmdletError

#: Kinds of parameter values the modelled cmdlets take.
STRING = "string"
STRINGS = "string[]"
UINT16 = "uint16"
UINT16S = "uint16[]"
BOOL = "bool"
SWITCH = "switch"
ENUM = "enum"
ENUMS = "enum[]"
OBJECT = "object"  # -Value of the registry cmdlets: kept as sent
CREDENTIAL = "pscredential"  # the executor builds a PSCredential from {"PSCredential": {"UserName", "Password"}}

#: Common parameters every cmdlet accepts. ErrorAction is already bound by the executor.
_COMMON = ("Verbose", "Debug", "WarningAction", "InformationAction", "ProgressAction")


@dataclass(frozen=True)
class Param:
    """One parameter of a cmdlet: Microsoft's name, its value kind and, for enums, the enumerator names."""

    name: str
    kind: str
    mandatory: bool = False
    enum: tuple[str, ...] = ()
    enum_type: str = ""
    aliases: tuple[str, ...] = ()


def bind(command: str, params: tuple[Param, ...], raw: Any) -> dict[str, Any]:
    """Bind a splatted hashtable to ``params``; return ``{canonical name: converted value}``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CmdletError(
            f"Cannot splat the parameters of '{command}': expected a hashtable, got {type(raw).__name__}.",
            "InvalidArgument",
            f"CannotSplatNonHashtable,{command}",
        )
    spec_by_name = {p.name: p for p in params}
    bound: dict[str, Any] = {}
    for key, value in raw.items():
        name = _resolve_name(command, params, str(key))
        if name in bound:
            raise _already_bound(command, name)
        spec = spec_by_name.get(name)
        bound[name] = value if spec is None else _convert(command, spec, value)
    missing = [p.name for p in params if p.mandatory and p.name not in bound]
    if missing:
        raise CmdletError(
            f"Cannot process command because of one or more missing mandatory parameters: {' '.join(missing)}.",
            "InvalidArgument",
            f"MissingMandatoryParameter,{command}",
        )
    return bound


def _already_bound(command: str, name: str) -> CmdletError:
    return CmdletError(
        f"Cannot bind parameter because parameter '{name}' is specified more than once. To provide multiple "
        'values to parameters that can accept multiple values, use the array syntax. For example, "-parameter '
        'value1,value2,value3".',
        "InvalidArgument",
        f"ParameterAlreadyBound,{command}",
    )


def _resolve_name(command: str, params: tuple[Param, ...], key: str) -> str:
    wanted = key.lstrip("-").lower()
    if wanted == "erroraction":
        # The executor adds -ErrorAction Stop itself; a second one is a duplicate, as in PowerShell.
        raise _already_bound(command, "ErrorAction")
    names = [p.name for p in params] + list(_COMMON)
    aliases = {alias.lower(): p.name for p in params for alias in p.aliases}
    for name in names:
        if name.lower() == wanted:
            return name
    if wanted in aliases:
        return aliases[wanted]
    matches = [name for name in names if name.lower().startswith(wanted)] if wanted else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        listed = " ".join(f"-{m}" for m in matches)
        raise CmdletError(
            f"Parameter cannot be processed because the parameter name '{key}' is ambiguous. "
            f"Possible matches include: {listed}.",
            "InvalidArgument",
            f"AmbiguousParameter,{command}",
        )
    raise CmdletError(
        f"A parameter cannot be found that matches parameter name '{key}'.",
        "InvalidArgument",
        f"NamedParameterNotFound,{command}",
    )


def _transformation_error(command: str, spec: Param, value: Any, target: str, reason: str) -> CmdletError:
    shown = _ps_text(value)
    return CmdletError(
        f"Cannot process argument transformation on parameter '{spec.name}'. Cannot convert value "
        f'"{shown}" to type "{target}". Error: "{reason}"',
        "InvalidData",
        f"ParameterArgumentTransformationError,{command}",
    )


def _ps_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return "System.Object[]"
    return str(value)


def _convert(command: str, spec: Param, value: Any) -> Any:
    kind = spec.kind
    if kind in (STRINGS, UINT16S, ENUMS):
        items = value if isinstance(value, list) else [value]
        single = {STRINGS: STRING, UINT16S: UINT16, ENUMS: ENUM}[kind]
        item_spec = Param(spec.name, single, enum=spec.enum, enum_type=spec.enum_type)
        return [_convert(command, item_spec, item) for item in items]
    if kind == OBJECT:
        return value
    if kind == CREDENTIAL:
        return _to_credential(command, spec, value)
    if isinstance(value, list):
        if len(value) == 1:
            return _convert(command, spec, value[0])
        target = {STRING: "System.String", UINT16: "System.UInt16", BOOL: "System.Boolean"}.get(kind, spec.enum_type)
        raise _transformation_error(command, spec, value, target, "Specified method is not supported.")
    if kind == STRING:
        if value is None:
            return ""
        return _ps_text(value)
    if kind == UINT16:
        return _to_uint16(command, spec, value)
    if kind == BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        raise CmdletError(
            f"Cannot process argument transformation on parameter '{spec.name}'. Cannot convert value "
            f'"{type(value).__name__ if value is None else "System.String"}" to type "System.Boolean". Boolean '
            "parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
            "InvalidData",
            f"ParameterArgumentTransformationError,{command}",
        )
    if kind == SWITCH:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        raise _transformation_error(
            command, spec, value, "System.Management.Automation.SwitchParameter", "Invalid cast."
        )
    if kind == ENUM:
        return _to_enum(command, spec, value)
    raise AssertionError(f"unknown parameter kind {kind!r}")


def _to_credential(command: str, spec: Param, value: Any) -> dict[str, str]:
    inner = value.get("PSCredential") if isinstance(value, dict) else None
    if isinstance(inner, dict) and isinstance(inner.get("UserName"), str) and isinstance(inner.get("Password"), str):
        return {"UserName": inner["UserName"], "Password": inner["Password"]}
    # A plain string makes PowerShell prompt for the password (CredentialAttribute), which -NonInteractive refuses.
    raise CmdletError(
        "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
        "InvalidOperation",
        f"System.Management.Automation.PSInvalidOperationException,{command}",
    )


def _to_uint16(command: str, spec: Param, value: Any) -> int:
    if isinstance(value, bool) or value is None:
        number = int(bool(value))
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value.strip())
    else:
        raise _transformation_error(command, spec, value, "System.UInt16", "Input string was not in a correct format.")
    if not 0 <= number <= 65535:
        raise _transformation_error(
            command, spec, value, "System.UInt16", "Value was either too large or too small for a UInt16."
        )
    return number


def _to_enum(command: str, spec: Param, value: Any) -> str:
    text = "" if value is None else str(value).strip()
    for name in spec.enum:
        if name.lower() == text.lower():
            return name
    names = ", ".join(spec.enum)
    raise _transformation_error(
        command,
        spec,
        value,
        spec.enum_type,
        f"Unable to match the identifier name {text} to a valid enumerator name. Specify one of the following "
        f"enumerator names and try again:\n{names}",
    )
