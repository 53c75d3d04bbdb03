"""The WS-Management layer without sockets: pywinrm's own messages parsed, replies read back by
pywinrm's parsers, the encryption framing, and the shell state machine."""

from __future__ import annotations

import threading
import uuid
from types import SimpleNamespace

import pytest
import xmltodict
from winrm.encryption import Encryption
from winrm.protocol import Protocol

from tests.support.windows_host.encryption import build_encrypted, split_encrypted
from tests.support.windows_host.observer import Observer
from tests.support.windows_host.powershell_process import ProcessResult
from tests.support.windows_host.shells import CommandRun, ShellManager
from tests.support.windows_host.wsman_messages import (
    ACTION_COMMAND,
    ACTION_RECEIVE,
    CMD_RESOURCE_URI,
    FAULT_OPERATION_TIMEOUT,
    WsmanFault,
    parse_request,
    receive_response,
)
from tests.support.windows_host.wsman_service import WsmanService


def test_parses_pywinrm_receive_request():
    protocol = Protocol("http://127.0.0.1:5985/wsman", username="u", password="p", operation_timeout_sec=7)
    shell_id = str(uuid.uuid4()).upper()
    envelope = {
        "env:Envelope": protocol.build_wsman_header(
            resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
            action=ACTION_RECEIVE,
            shell_id=shell_id,
        )
    }
    envelope["env:Envelope"]["env:Body"] = {
        "rsp:Receive": {"rsp:DesiredStream": {"@CommandId": "C1", "#text": "stdout"}}
    }
    request = parse_request(xmltodict.unparse(envelope).encode())
    assert (request.action, request.shell_id, request.operation_timeout) == (ACTION_RECEIVE, shell_id, 7.0)
    assert request.message_id.startswith("uuid:")


def test_malformed_xml_is_a_fault_not_an_exception():
    with pytest.raises(WsmanFault):
        parse_request(b"<not-xml")


def test_receive_reply_reads_back_through_pywinrm(monkeypatch):
    request = parse_request(
        xmltodict.unparse(
            {
                "env:Envelope": Protocol("http://h/wsman", username="u", password="p").build_wsman_header(
                    ACTION_RECEIVE, "x"
                )
            }
        ).encode()
    )
    reply = receive_response(request, "C1", b"out", b"err", 3)
    protocol = Protocol("http://h/wsman", username="u", password="p")
    monkeypatch.setattr(protocol, "send_message", lambda message: reply)
    assert protocol.get_command_output_raw("S1", "C1") == (b"out", b"err", 3, True)


def test_encryption_framing_matches_pywinrms_parser():
    def unwrap(sealed: bytes, signature: bytes) -> bytes:
        assert signature == b"S" * 16
        return sealed[::-1]  # a stand-in cipher: pywinrm's own framing parser is what is under test

    session = SimpleNamespace(auth=SimpleNamespace(session_security=SimpleNamespace(unwrap=unwrap)))
    body = build_encrypted(5, b"S" * 16, b"olleh")
    response = SimpleNamespace(
        headers={"Content-Type": 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted"'},
        request=SimpleNamespace(url="http://h/wsman"),
        content=body,
    )
    assert split_encrypted(body) == (5, b"S" * 16, b"olleh")
    assert Encryption(session, "ntlm").parse_encrypted_response(response) == b"hello"


class _Runner:
    def __init__(self, output: bytes) -> None:
        self.output = output

    def start_command(self, run: CommandRun) -> ProcessResult | None:
        return None

    def finish_command(self, run: CommandRun) -> ProcessResult:
        return ProcessResult(0, self.output + bytes(run.stdin), b"")


def test_receive_chunks_output_and_reports_done_once():
    shells = ShellManager(_Runner(b"x" * 10), chunk=4)
    shell_id = shells.create("u")
    command_id = shells.command("u", shell_id, "powershell.exe", [])
    shells.send("u", shell_id, command_id, b"ab", end=False)
    shells.send("u", shell_id, command_id, b"cd", end=True)
    chunks = []
    while True:
        stdout, _stderr, exit_code = shells.receive("u", shell_id, command_id, timeout=1)
        chunks.append(stdout)
        if exit_code is not None:
            break
    assert b"".join(chunks) == b"x" * 10 + b"abcd" and all(len(c) <= 4 for c in chunks)


def test_receive_waits_for_stdin_then_times_out_with_the_fault_pywinrm_retries():
    shells = ShellManager(_Runner(b""))
    shell_id = shells.create("u")
    command_id = shells.command("u", shell_id, "powershell.exe", [])
    with pytest.raises(WsmanFault) as raised:
        shells.receive("u", shell_id, command_id, timeout=0.05)
    assert raised.value.code == FAULT_OPERATION_TIMEOUT

    # a Receive waiting when the stdin arrives returns as soon as the command is done
    got = []
    waiter = threading.Thread(target=lambda: got.append(shells.receive("u", shell_id, command_id, timeout=30)))
    waiter.start()
    shells.send("u", shell_id, command_id, b"in", end=True)
    waiter.join(timeout=30)
    assert got == [(b"in", b"", 0)]


def test_shells_belong_to_their_creator():
    shells = ShellManager(_Runner(b""))
    shell_id = shells.create("alice")
    with pytest.raises(WsmanFault) as raised:
        shells.command("mallory", shell_id, "powershell.exe", [])
    assert raised.value.reason == "Access is denied."
    shells.delete("alice", shell_id)
    with pytest.raises(WsmanFault):
        shells.delete("alice", shell_id)


def test_a_command_whose_stdin_never_ends_is_ended_plainly_instead_of_hanging():
    shells = ShellManager(_Runner(b""), stdin_idle_limit=0.05)
    shell_id = shells.create("u")
    command_id = shells.command("u", shell_id, "powershell.exe", [])
    shells.send("u", shell_id, command_id, b"part of the input", end=False)
    stdout, stderr, exit_code = shells.receive("u", shell_id, command_id, timeout=30)
    assert (stdout, exit_code) == (b"", 1)
    assert b"stdin was never ended; send stdin with end=True" in stderr


class _BrokenRunner(_Runner):
    def start_command(self, run: CommandRun) -> ProcessResult | None:
        raise RuntimeError("model bug")


def test_a_bug_in_the_emulation_reaches_the_client_as_a_fault():
    shells = ShellManager(_BrokenRunner(b""))
    service = WsmanService(shells, Observer(dict), "http://h/wsman")
    protocol = Protocol("http://h/wsman", username="u", password="p")
    shell_id = shells.create("u")
    header = protocol.build_wsman_header(action=ACTION_COMMAND, resource_uri=CMD_RESOURCE_URI, shell_id=shell_id)
    envelope = {"env:Envelope": {**header, "env:Body": {"rsp:CommandLine": {"rsp:Command": "powershell.exe"}}}}
    status, reply = service.handle("u", xmltodict.unparse(envelope).encode())
    assert status == 500
    assert b"internal error in the emulated Windows host: RuntimeError('model bug')" in reply
