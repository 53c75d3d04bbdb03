"""Registry provider cmdlets on ``HKLM:``, as PowerShell 5.1 behaves.

The Alternative Port Mappings policy lives at
``HKLM:\\Software\\Policies\\Microsoft\\Windows\\LanmanWorkstation``, value ``AlternativePortMappings``
(REG_MULTI_SZ of ``server:transport:port``). The key does not exist on a fresh host. Behaviour kept:

- Paths: ``HKLM:\\...``, ``Registry::HKEY_LOCAL_MACHINE\\...`` (with or without the provider prefix);
  case-insensitive. Only the HKLM drive exists here; other drives fail as a missing drive.
- ``New-Item`` refuses an existing key ("A key at this path already exists.") and a missing parent;
  with ``-Force`` it creates parents, and on an existing key it recreates it **empty** (values and
  subkeys gone), the trap PowerShell sets for scripts that use ``New-Item -Force`` to "ensure" a key.
- ``New-ItemProperty`` refuses an existing value unless ``-Force``; ``Set-ItemProperty`` creates or
  replaces a value, keeping an existing value's type; ``Remove-ItemProperty`` and
  ``Get-ItemProperty -Name`` fail on a missing value; all of them fail on a missing key.
"""

from __future__ import annotations

import re
from typing import Any

from .binding import OBJECT, STRING, STRINGS, SWITCH, Param
from .catalog import CmdletSpec, register
from .cmdlet_errors import CmdletError
from .state import RegistryKey, WindowsState

_HIVE = "HKEY_LOCAL_MACHINE"
_PROVIDER = "Microsoft.PowerShell.Core\\Registry"
_PROVIDER_PREFIX = re.compile(r"^(microsoft\.powershell\.core\\)?registry::", re.IGNORECASE)
_DRIVE_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):")
VALUE_KINDS = ("String", "ExpandString", "Binary", "DWord", "MultiString", "QWord", "Unknown")
_CMDLET_CLASS = {
    "Test-Path": "TestPathCommand",
    "New-Item": "NewItemCommand",
    "Get-ItemProperty": "GetItemPropertyCommand",
    "New-ItemProperty": "NewItemPropertyCommand",
    "Set-ItemProperty": "SetItemPropertyCommand",
    "Remove-ItemProperty": "RemoveItemPropertyCommand",
}


def _fqid(error: str, command: str) -> str:
    return f"{error},Microsoft.PowerShell.Commands.{_CMDLET_CLASS[command]}"


class _MissingDrive(Exception):
    def __init__(self, drive: str) -> None:
        super().__init__(drive)
        self.drive = drive


def canonical_path(path: str) -> str:
    """``HKLM:\\Software\\X`` -> ``HKEY_LOCAL_MACHINE\\Software\\X``; raises _MissingDrive otherwise."""
    text = path.strip().replace("/", "\\")
    stripped = _PROVIDER_PREFIX.sub("", text)
    if stripped != text:
        hive, _backslash, rest = stripped.partition("\\")
        if hive.upper() not in (_HIVE, "HKLM"):
            raise _MissingDrive(hive)
    else:
        match = _DRIVE_PREFIX.match(text)
        if not match or match.group(1).upper() != "HKLM":
            raise _MissingDrive(match.group(1) if match else "C")
        rest = text[match.end() :]
    parts = [part for part in rest.split("\\") if part]
    return "\\".join([_HIVE, *parts])


def _resolve(command: str, path: str) -> str:
    try:
        return canonical_path(path)
    except _MissingDrive as missing:
        raise CmdletError(
            f"Cannot find drive. A drive with the name '{missing.drive}' does not exist.",
            "ObjectNotFound",
            _fqid("DriveNotFound", command),
        ) from None


def _path_not_found(command: str, shown: str) -> CmdletError:
    return CmdletError(
        f"Cannot find path '{shown}' because it does not exist.", "ObjectNotFound", _fqid("PathNotFound", command)
    )


def _existing_key(state: WindowsState, command: str, path: str) -> RegistryKey:
    key = state.find_key(_resolve(command, path))
    if key is None:
        raise _path_not_found(command, path)
    return key


def _ps_properties(key: RegistryKey) -> dict[str, Any]:
    parent, _backslash, child = key.path.rpartition("\\")
    return {
        "PSPath": f"{_PROVIDER}::{key.path}",
        "PSParentPath": f"{_PROVIDER}::{parent}",
        "PSChildName": child,
        "PSDrive": "HKLM",
        "PSProvider": _PROVIDER,
    }


def _key_object(state: WindowsState, key: RegistryKey) -> dict[str, Any]:
    prefix = key.path.lower() + "\\"
    subkeys = [p for p in state.registry if p.startswith(prefix) and "\\" not in p[len(prefix) :]]
    return {
        "Name": key.path,
        "Property": [value["name"] for value in key.values.values()],
        "SubKeyCount": len(subkeys),
        "ValueCount": len(key.values),
        **_ps_properties(key),
    }


def _convert_value(command: str, kind: str, value: Any) -> Any:
    if kind == "MultiString":
        items = value if isinstance(value, list) else ([] if value is None else [value])
        return ["" if item is None else str(item) for item in items]
    if kind in ("DWord", "QWord"):
        limit = 2**32 if kind == "DWord" else 2**64
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise CmdletError(
                f'Cannot convert value "{value}" to type "System.{"Int32" if kind == "DWord" else "Int64"}".',
                "InvalidArgument",
                _fqid("System.ArgumentException", command),
            ) from None
        if not -(limit // 2) <= number < limit:
            raise CmdletError(
                "The parameter is incorrect.", "InvalidArgument", _fqid("System.ArgumentException", command)
            )
        return number
    if kind == "Binary":
        return list(value) if isinstance(value, list) else []
    return "" if value is None else str(value)


def _infer_kind(value: Any) -> str:
    if isinstance(value, list):
        return "MultiString"
    if isinstance(value, int) and not isinstance(value, bool):
        return "DWord"
    return "String"


def test_path(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    results = []
    for path in args["Path"]:
        try:
            key = state.find_key(canonical_path(path))
        except _MissingDrive:
            key = None
        results.append(key is not None and args.get("PathType", "Any") in ("Any", "Container"))
    return results


def new_item(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    created = []
    for path in args["Path"]:
        full = _resolve(command, path)
        shown = path
        if args.get("Name"):
            full = full + "\\" + args["Name"]
            shown = path.rstrip("\\") + "\\" + args["Name"]
        parent = full.rpartition("\\")[0]
        existing = state.find_key(full)
        if existing is not None and not args.get("Force"):
            raise CmdletError(
                "A key at this path already exists.", "ResourceExists", _fqid("System.IO.IOException", command)
            )
        if state.find_key(parent) is None and not args.get("Force"):
            raise _path_not_found(command, shown.rpartition("\\")[0])
        if existing is not None:
            # -Force on an existing key recreates it empty, as the registry provider does.
            prefix = full.lower() + "\\"
            for sub in [p for p in state.registry if p.startswith(prefix)]:
                del state.registry[sub]
            existing.values.clear()
        key = state.ensure_key(full)
        created.append(_key_object(state, key))
    return created


def get_item_property(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    out = []
    for path in args["Path"]:
        key = _existing_key(state, command, path)
        names = args.get("Name")
        if names is None:
            if not key.values:
                continue
            chosen = list(key.values.values())
        else:
            chosen = []
            for name in names:
                value = key.values.get(name.lower())
                if value is None:
                    raise CmdletError(
                        f"Property {name} does not exist at path {key.path}.",
                        "InvalidArgument",
                        _fqid("System.Management.Automation.PSArgumentException", command),
                    )
                chosen.append(value)
        obj = {value["name"]: value["data"] for value in chosen}
        obj.update(_ps_properties(key))
        out.append(obj)
    return out


def new_item_property(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    out = []
    kind = args.get("PropertyType", "String")
    for path in args["Path"]:
        key = _existing_key(state, command, path)
        name = args["Name"]
        if name.lower() in key.values and not args.get("Force"):
            raise CmdletError("The property already exists.", "ResourceExists", _fqid("System.IO.IOException", command))
        data = _convert_value(command, kind, args.get("Value"))
        key.values[name.lower()] = {"name": name, "type": kind, "data": data}
        out.append({name: data, **_ps_properties(key)})
    return out


def set_item_property(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    out = []
    for path in args["Path"]:
        key = _existing_key(state, command, path)
        name = args["Name"]
        existing = key.values.get(name.lower())
        kind = args.get("Type") or (existing["type"] if existing else _infer_kind(args["Value"]))
        data = _convert_value(command, kind, args["Value"])
        key.values[name.lower()] = {"name": existing["name"] if existing else name, "type": kind, "data": data}
        if args.get("PassThru"):
            out.append({name: data, **_ps_properties(key)})
    return out


def remove_item_property(state: WindowsState, args: dict[str, Any], command: str) -> list[Any]:
    for path in args["Path"]:
        key = _existing_key(state, command, path)
        for name in args["Name"]:
            if name.lower() not in key.values:
                raise CmdletError(
                    f"Property {name} does not exist at path {key.path}.",
                    "InvalidArgument",
                    _fqid("System.Management.Automation.PSArgumentException", command),
                )
            del key.values[name.lower()]
    return []


def _path_param() -> Param:
    return Param("Path", STRINGS, mandatory=True, aliases=("LiteralPath", "PSPath", "LP"))


_KIND = Param(
    "PropertyType", "enum", enum=VALUE_KINDS, enum_type="Microsoft.Win32.RegistryValueKind", aliases=("Type",)
)

register(
    CmdletSpec(
        "Test-Path",
        (_path_param(), Param("PathType", "enum", enum=("Any", "Container", "Leaf"), enum_type="TestPathType")),
        test_path,
    )
)
register(
    CmdletSpec(
        "New-Item",
        (
            _path_param(),
            Param("Name", STRING),
            Param("ItemType", STRING),
            Param("Value", OBJECT),
            Param("Force", SWITCH),
        ),
        new_item,
        changes_state=True,
    )
)
register(CmdletSpec("Get-ItemProperty", (_path_param(), Param("Name", STRINGS)), get_item_property))
register(
    CmdletSpec(
        "New-ItemProperty",
        (_path_param(), Param("Name", STRING, True), _KIND, Param("Value", OBJECT), Param("Force", SWITCH)),
        new_item_property,
        changes_state=True,
    )
)
register(
    CmdletSpec(
        "Set-ItemProperty",
        (
            _path_param(),
            Param("Name", STRING, True),
            Param("Value", OBJECT, True),
            Param("Type", "enum", enum=VALUE_KINDS, enum_type="Microsoft.Win32.RegistryValueKind"),
            Param("Force", SWITCH),
            Param("PassThru", SWITCH),
        ),
        set_item_property,
        changes_state=True,
    )
)
register(
    CmdletSpec(
        "Remove-ItemProperty",
        (_path_param(), Param("Name", STRINGS, True), Param("Force", SWITCH)),
        remove_item_property,
        changes_state=True,
    )
)
