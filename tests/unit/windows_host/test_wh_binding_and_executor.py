"""Parameter binding, the executor gate (command line and stdin) and the request runner."""

from __future__ import annotations

import base64
import json

import pytest

from tests.support.windows_host.bootstrap_source import expected_bootstrap
from tests.support.windows_host.catalog import invoke
from tests.support.windows_host.cmdlet_errors import CmdletError
from tests.support.windows_host.powershell_process import check_command_line, run_executor
from tests.support.windows_host.request_runner import CallRecord, run_request
from tests.support.windows_host.state import WindowsState

HEADER = b"# smb.alternative_ports executor v1\r\nparam([string]$RequestJson)\r\n"


def fails(command: str, parameters: object) -> CmdletError:
    with pytest.raises(CmdletError) as raised:
        invoke(WindowsState(), command, parameters)
    return raised.value


def test_unknown_parameter_is_refused_like_powershell():
    error = fails("New-SmbMapping", {"RemotePath": "\\\\a\\b", "TcpPorts": 1})
    assert error.message == "A parameter cannot be found that matches parameter name 'TcpPorts'."
    assert error.fully_qualified_error_id == "NamedParameterNotFound,New-SmbMapping"


def test_unknown_command_is_command_not_found():
    error = fails("Set-SmbServerAlternativePorts", {})
    assert error.message.startswith("The term 'Set-SmbServerAlternativePorts' is not recognized")
    assert (error.category, error.fully_qualified_error_id) == ("ObjectNotFound", "CommandNotFoundException")


def test_names_match_case_insensitively_and_by_unambiguous_prefix():
    state = WindowsState()
    invoke(state, "new-smbserveralternativeport", {"transporttype": "quic", "port": "8443", "Enable": "default"})
    assert state.alternative_ports == [{"TransportType": "Quic", "Port": 8443, "Instances": "Default"}]
    ambiguous = fails("New-SmbMapping", {"R": "x"})
    assert ambiguous.message.startswith("Parameter cannot be processed because the parameter name 'R' is ambiguous.")


def test_error_action_is_already_bound_by_the_executor():
    assert fails("Get-SmbMapping", {"ErrorAction": "SilentlyContinue"}).fully_qualified_error_id == (
        "ParameterAlreadyBound,Get-SmbMapping"
    )


def _encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


def _arguments(script: str) -> list[str]:
    return ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", _encoded(script)]


def test_the_collections_command_line_is_accepted():
    script = expected_bootstrap()
    assert script, "plugins/plugin_utils/_powershell.py must define the BOOTSTRAP constant"
    assert check_command_line("powershell.exe", _arguments(script)) is None
    # pywinrm may also carry everything in the Command element
    assert check_command_line("powershell.exe " + " ".join(_arguments(script)), []) is None


@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        ("cmd.exe", ["/c", "dir"]),
        ("powershell.exe", ["-EncodedCommand", "AAAA"]),
        ("powershell.exe", _arguments("Remove-Item C:\\ -Recurse")),
        ("pwsh.exe", _arguments("x")),
    ],
)
def test_other_command_lines_are_refused_with_the_first_80_characters(command, arguments):
    result = check_command_line(command, arguments)
    assert result is not None and result.exit_code == 1
    message = result.stderr.decode()
    assert message.startswith("emulated host runs only the smb.alternative_ports executor; got: ")
    assert len(message.split("got: ", 1)[1].rstrip("\r\n")) <= 80


def _record_into(records: list[CallRecord]):
    return records.append


def test_executor_runs_calls_selects_properties_and_stops_on_error():
    state = WindowsState()
    records: list[CallRecord] = []
    request = {
        "calls": [
            {"command": "Get-SmbClientConfiguration", "properties": ["EnableSMBQUIC", "NoSuchProperty"]},
            {"command": "Test-Path", "parameters": {"Path": "HKLM:\\Software"}},
            {"command": "Remove-SmbMapping", "parameters": {"RemotePath": "\\\\x\\y", "Force": True}},
            {"command": "Get-SmbMapping"},
        ],
        "stop_on_error": True,
    }
    result = run_executor(HEADER + b"\x00\x00\x00\x00" + json.dumps(request).encode(), state, _record_into(records))
    assert result.exit_code == 0
    document = json.loads(result.stdout)["results"]
    assert document[0]["output"] == [{"EnableSMBQUIC": True, "NoSuchProperty": None}]
    assert document[1]["output"] == [True]
    assert document[2]["ok"] is False and document[2]["error"]["category"] == "ObjectNotFound"
    assert len(document) == 3  # stop_on_error: the fourth call did not run
    assert [r.command for r in records] == ["Get-SmbClientConfiguration", "Test-Path", "Remove-SmbMapping"]


def test_without_stop_on_error_every_call_runs():
    request = {"calls": [{"command": "Get-Nothing"}, {"command": "Get-SmbMapping"}], "stop_on_error": False}
    result = run_request(WindowsState(), request, lambda record: None)
    assert [r["ok"] for r in result["results"]] == [False, True]


def test_passwords_never_reach_the_call_log():
    records: list[CallRecord] = []
    request = {
        "calls": [{"command": "New-SmbMapping", "parameters": {"RemotePath": "\\\\a\\b", "Password": "hunter2"}}]
    }
    run_request(WindowsState(), request, _record_into(records))
    assert records[0].parameters["Password"] == "********"
    assert "hunter2" not in json.dumps([r.to_json() for r in records])


@pytest.mark.parametrize(
    ("stdin", "expected"),
    [
        (b"# another script\r\n\x00\x00\x00\x00{}", "got: # another script"),
        (HEADER + b"no separator", "got: # smb.alternative_ports executor v1"),
        (HEADER + b"\x00\x00\x00\x00{not json", "executor: the request after the NUL separator is not valid"),
        (HEADER + b"\x00\x00\x00\x00[]", 'the request must be a JSON object with a "calls" list'),
    ],
)
def test_malformed_stdin_fails_with_exit_code_1_and_a_reason(stdin, expected):
    result = run_executor(stdin, WindowsState(), lambda record: None)
    assert result.exit_code == 1 and result.stdout == b""
    assert expected in result.stderr.decode()
