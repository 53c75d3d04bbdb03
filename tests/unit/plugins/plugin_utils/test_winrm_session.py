"""WinRMSession's own logic with a stand-in pywinrm Protocol: one shell, stdin as bytes, the deadline, cleanup."""

from __future__ import annotations

import pytest
from winrm.exceptions import WinRMOperationTimeoutError

from ansible_collections.smb.alternative_ports.plugins.plugin_utils import _winrm
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMError, WinRMSession, WinRMTarget

TARGET = WinRMTarget(host="win1", port=5986, user="u", password="p", scheme="https", operation_timeout=0)


class FakeProtocol:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.events = []
        self.outputs = [(b'{"results"', b"", -1, False), (b": []}", b"", 0, True)]

    def open_shell(self, **kwargs):
        self.events.append(("open_shell", kwargs))
        return "shell-1"

    def run_command(self, shell_id, command, arguments, console_mode_stdin=True, skip_cmd_shell=False):
        self.events.append(("run_command", command, tuple(arguments), console_mode_stdin))
        return "command-1"

    def send_command_input(self, shell_id, command_id, data, end=False):
        self.events.append(("send", data, end))

    def get_command_output_raw(self, shell_id, command_id):
        if not self.outputs:
            raise WinRMOperationTimeoutError()
        return self.outputs.pop(0)

    def cleanup_command(self, shell_id, command_id):
        self.events.append(("cleanup", command_id))

    def close_shell(self, shell_id):
        self.events.append(("close_shell", shell_id))


def test_one_shell_with_utf8_code_page_and_stdin_sent_as_bytes_once():
    protocols = []

    def factory(**kwargs):
        protocols.append(FakeProtocol(**kwargs))
        return protocols[-1]

    with WinRMSession(TARGET, protocol_factory=factory) as session:
        output = session.run("powershell.exe", ("-NoProfile",), b"payload\x00\x00\x00\x00{}")
    (protocol,) = protocols
    assert output.stdout == b'{"results": []}' and output.exit_code == 0
    assert protocol.kwargs["endpoint"] == "https://win1:5986/wsman"
    assert [event[0] for event in protocol.events] == ["open_shell", "run_command", "send", "cleanup", "close_shell"]
    assert protocol.events[0][1]["codepage"] == 65001
    assert protocol.events[2] == ("send", b"payload\x00\x00\x00\x00{}", True)
    assert protocol.events[1][3] is False  # stdin is a pipe, as Ansible's winrm connection sends it
    assert session.commands_run == 1


def test_large_stdin_goes_in_pieces_under_the_default_max_envelope_size():
    protocols = []

    def factory(**kwargs):
        protocols.append(FakeProtocol(**kwargs))
        return protocols[-1]

    stdin = bytes(range(256)) * 4096  # 1 MiB
    with WinRMSession(TARGET, protocol_factory=factory) as session:
        session.run("powershell.exe", (), stdin)
    sends = [event for event in protocols[0].events if event[0] == "send"]
    assert b"".join(data for _send, data, _end in sends) == stdin
    assert [end for _send, _data, end in sends] == [False, False, False, True]
    # base64 of each piece plus a SOAP envelope stays under 500 KiB
    assert all(len(data) * 4 / 3 + 4096 < 500 * 1024 for _send, data, _end in sends)


def test_a_command_that_never_finishes_hits_the_deadline(monkeypatch):
    monkeypatch.setattr(_winrm, "COMMAND_DEADLINE", 0)
    protocol = FakeProtocol()
    protocol.outputs = []
    with pytest.raises(WinRMError, match=r"the PowerShell command on u@win1:5986 did not finish within 0 s"):
        with WinRMSession(TARGET, protocol_factory=lambda **kwargs: protocol) as session:
            session.run("powershell.exe", (), b"")
    assert protocol.events[-2:] == [("cleanup", "command-1"), ("close_shell", "shell-1")]
