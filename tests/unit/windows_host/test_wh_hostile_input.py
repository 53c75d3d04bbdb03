"""Hostile input never escapes as an unexpected exception: parsers answer with their own error types."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.windows_host.catalog import invoke, known_commands, parameter_names
from tests.support.windows_host.cmdlet_errors import CmdletError
from tests.support.windows_host.encryption import EncryptionError, split_encrypted
from tests.support.windows_host.powershell_process import REQUEST_SEPARATOR, run_executor
from tests.support.windows_host.state import WindowsState
from tests.support.windows_host.wsman_messages import WsmanFault, parse_request

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_soap_parser_answers_garbage_with_a_fault(data):
    try:
        parse_request(data)
    except WsmanFault:
        pass


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_encryption_framing_answers_garbage_with_its_error(data):
    try:
        split_encrypted(b"--Encrypted Boundary\r\n" + data)
    except EncryptionError:
        pass


@st.composite
def cmdlet_calls(draw):
    command = draw(st.sampled_from(known_commands()))
    names = st.sampled_from([*parameter_names(command), "Force"]) | st.text(max_size=12)
    return command, draw(st.dictionaries(names, JSON_VALUES, max_size=5))


@settings(max_examples=200, deadline=None)
@given(cmdlet_calls())
def test_any_parameters_to_any_cmdlet_give_output_or_a_cmdlet_error(call):
    command, parameters = call
    try:
        output = invoke(WindowsState(), command, parameters)
    except CmdletError as error:
        assert error.message and error.category and error.fully_qualified_error_id
    else:
        assert isinstance(output, list)


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES)
def test_any_json_request_gives_a_result_or_exit_code_1(request):
    stdin = b"# smb.alternative_ports executor v1\n" + REQUEST_SEPARATOR + json.dumps(request).encode()
    result = run_executor(stdin, WindowsState(), lambda record: None)
    assert result.exit_code in (0, 1)
    if result.exit_code == 0:
        assert "results" in json.loads(result.stdout)
