"""Run the executor's JSON request against the cmdlet model and build its JSON result.

This is what ``executor.ps1`` does on Windows (docs/contracts.md, "Windows executor"): each call runs
as ``& $command @parameters -ErrorAction Stop``; a failed call becomes ``ok: false`` with the error
record's message, category and fully qualified error id; with ``stop_on_error`` the calls after a
failure are not run (and have no result). Output objects keep only the requested ``properties``
(a property the object lacks comes back null, as ``Select-Object`` gives it); scalar output such as
Test-Path's boolean is passed through as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .catalog import invoke
from .cmdlet_errors import CmdletError
from .network_cmdlets import run_native
from .state import WindowsState

#: Parameters whose values never go into the call log.
SECRET_PARAMETERS = frozenset({"password"})


class RequestError(ValueError):
    """The request is not what the contract describes; the executor itself would fail."""


@dataclass
class CallRecord:
    """One cmdlet call as the host saw it (secrets masked)."""

    command: str
    parameters: dict[str, Any]
    ok: bool
    error: dict[str, str] | None = None
    user: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "parameters": self.parameters,
            "ok": self.ok,
            "error": self.error,
            "user": self.user,
            **self.extra,
        }


def mask_secrets(parameters: Any) -> Any:
    """A copy of the parameters with secret values replaced by ``********``."""
    if not isinstance(parameters, dict):
        return parameters
    masked = {}
    for key, value in parameters.items():
        if str(key).lower() in SECRET_PARAMETERS:
            value = "********"
        elif isinstance(value, dict) and isinstance(value.get("PSCredential"), dict):
            value = {"PSCredential": {**value["PSCredential"], "Password": "********"}}
        masked[key] = value
    return masked


def _select(obj: Any, properties: list[str] | None) -> Any:
    if not isinstance(obj, dict) or properties is None:
        return obj
    by_lower = {key.lower(): key for key in obj}
    return {prop: obj.get(by_lower.get(prop.lower(), prop)) for prop in properties}


def _validate(request: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(request, dict) or not isinstance(request.get("calls"), list):
        raise RequestError('the request must be a JSON object with a "calls" list')
    for index, call in enumerate(request["calls"]):
        if not isinstance(call, dict) or not isinstance(call.get("command"), str):
            raise RequestError(f'calls[{index}] must be an object with a "command" string')
        if "parameters" in call and not isinstance(call["parameters"], (dict, type(None))):
            raise RequestError(f"calls[{index}].parameters must be an object")
        arguments = call.get("arguments")
        if arguments is not None and not (isinstance(arguments, list) and all(isinstance(a, str) for a in arguments)):
            raise RequestError(f"calls[{index}].arguments must be a list of strings")
        props = call.get("properties")
        if props is not None and not (isinstance(props, list) and all(isinstance(p, str) for p in props)):
            raise RequestError(f"calls[{index}].properties must be a list of strings")
    return request["calls"], bool(request.get("stop_on_error", True))


def run_request(
    state: WindowsState,
    request: Any,
    record: Callable[[CallRecord], None],
    *,
    max_calls: int | None = None,
) -> dict[str, Any]:
    """Run the calls of a parsed request; ``max_calls`` stops early (fault injection)."""
    calls, stop_on_error = _validate(request)
    results = []
    for index, call in enumerate(calls):
        if max_calls is not None and index >= max_calls:
            break
        command = call["command"]
        parameters = call.get("parameters") or {}
        # A call with "arguments" runs a native program (netsh.exe), as the executor does: `& $command @arguments`.
        arguments = call.get("arguments")
        extra = {} if arguments is None else {"arguments": list(arguments)}
        try:
            if arguments is None:
                output = invoke(state, command, parameters)
            else:
                output = run_native(state, command, arguments)
        except CmdletError as error:
            record(CallRecord(command, mask_secrets(parameters), False, error.as_record(), extra=extra))
            results.append({"command": command, "ok": False, "output": [], "error": error.as_record()})
            if stop_on_error:
                break
            continue
        record(CallRecord(command, mask_secrets(parameters), True, extra=extra))
        selected = [_select(obj, call.get("properties")) for obj in output]
        results.append({"command": command, "ok": True, "output": selected, "error": None})
    return {"results": results}
