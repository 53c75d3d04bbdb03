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
