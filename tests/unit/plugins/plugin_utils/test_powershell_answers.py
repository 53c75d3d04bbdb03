"""Reading the executor's answer: results, and the errors a user sees when it is not what the contract says."""

from __future__ import annotations

import json

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._powershell import (
    CmdletCall,
    ExecutorError,
    parse_stdout,
)

CALLS = [CmdletCall("Get-SmbServerAlternativePort", {}, ["TransportType", "Port"]), CmdletCall("Get-SmbMapping")]


FAILURE = {"message": "boom", "category": "InvalidOperation", "fully_qualified_error_id": "X,Get-SmbMapping"}


def answer(results) -> bytes:
    return json.dumps({"results": results}).encode()


def test_results_are_read_in_order():
    results = parse_stdout(
        answer(
            [
                {
                    "command": "Get-SmbServerAlternativePort",
                    "ok": True,
                    "output": [{"TransportType": "Quic", "Port": 8443}],
                    "error": None,
                },
                {
                    "command": "Get-SmbMapping",
                    "ok": False,
                    "output": [],
                    "error": {
                        "message": "boom",
                        "category": "InvalidOperation",
                        "fully_qualified_error_id": "X,Get-SmbMapping",
                    },
                },
            ]
        ),
        b"",
        0,
        CALLS,
        "admin@win1:5985",
    )
    assert [r.ok for r in results] == [True, False]
    assert results[0].output == [{"TransportType": "Quic", "Port": 8443}]
    assert results[1].error_message == "boom (X,Get-SmbMapping)"


def test_a_lone_output_object_is_treated_as_a_list():
    (result,) = parse_stdout(
        answer([{"command": "Get-SmbMapping", "ok": True, "output": {"LocalPath": "Z:"}}]), b"", 0, CALLS, "w"
    )
    assert result.output == [{"LocalPath": "Z:"}]


@pytest.mark.parametrize(
    ("stdout", "exit_code", "message"),
    [
        (b"WARNING: something\r\n{", 0, "did not answer with JSON"),
        (b'{"results": 3}', 0, "has no results list"),
        (b"", 1, "exited with code 1"),
    ],
)
def test_bad_answers_name_the_host_and_show_the_output(stdout, exit_code, message):
    with pytest.raises(ExecutorError, match=message) as caught:
        parse_stdout(stdout, b"Exception: oops", exit_code, CALLS, "admin@win1:5985")
    assert "admin@win1:5985" in str(caught.value)
    assert "oops" in str(caught.value)


def test_more_results_than_calls_is_an_error():
    extra = [{"command": "x", "ok": True, "output": []}] * 3
    with pytest.raises(ExecutorError, match="3 results for 2 calls"):
        parse_stdout(answer(extra), b"", 0, CALLS, "w")


def test_describe_shows_switches_and_false_values():
    call = CmdletCall("Set-SmbClientConfiguration", {"EnableSMBQUIC": False, "Force": True})
    assert call.describe() == "Set-SmbClientConfiguration -EnableSMBQUIC $false -Force"


# -- what Windows PowerShell 5.1's ConvertTo-Json makes of the executor's answer ------------------------------
ROW = {"TransportType": "Quic", "Port": 8443}


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({"value": [ROW, ROW], "Count": 2}, [ROW, ROW]),  # an array carrying extended-type data
        ({"value": [], "Count": 0}, []),
        (ROW, [ROW]),  # a one-element array unrolled into its element
        (None, []),  # an empty array written as null
        ([ROW], [ROW]),
    ],
)
def test_windows_powershell_51_array_shapes_read_as_lists(output, expected):
    (result,) = parse_stdout(
        answer([{"command": "Get-SmbServerAlternativePort", "ok": True, "output": output}]), b"", 0, CALLS, "w"
    )
    assert result.output == expected


def test_results_themselves_may_come_in_the_51_shapes():
    one = {"command": "Get-SmbMapping", "ok": True, "output": []}
    assert len(parse_stdout(json.dumps({"results": one}).encode(), b"", 0, CALLS, "w")) == 1
    wrapped = {"results": {"value": [one, one], "Count": 2}}
    assert len(parse_stdout(json.dumps(wrapped).encode(), b"", 0, CALLS, "w")) == 2


def test_an_object_with_value_and_more_keys_is_an_object_not_a_wrapped_array():
    row = {"value": [1], "Count": 1, "Name": "x"}
    (result,) = parse_stdout(answer([{"command": "Get-X", "ok": True, "output": row}]), b"", 0, CALLS, "w")
    assert result.output == [row]


def test_constrained_language_mode_is_named_with_its_fix():
    stdout = b"smb.alternative_ports: PowerShell language mode is ConstrainedLanguage\r\n"
    with pytest.raises(ExecutorError) as caught:
        parse_stdout(stdout, b"", 3, CALLS, "admin@win1:5986")
    message = str(caught.value)
    assert message.startswith("admin@win1:5986: Windows PowerShell on the host runs in ConstrainedLanguage mode")
    assert "AppLocker or WDAC" in message


def test_exit_code_3_without_the_marker_is_an_ordinary_failure():
    with pytest.raises(ExecutorError, match="exited with code 3"):
        parse_stdout(b"something else", b"", 3, CALLS, "w")
