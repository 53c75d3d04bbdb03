"""The emulated host answers our own exchanges, written in the shapes real Windows hosts answered in pywinrm's and
pypsrp's recorded test exchanges, the way those hosts did (see ``real_host_exchanges.py``)."""

from __future__ import annotations

import base64
import json
from xml.etree import ElementTree as ET

from tests.support.windows_host import EmulatedWindowsHost, HostUser
from tests.support.windows_host.testing import executor_stdin, powershell_arguments
from tests.unit.windows_host import real_host_exchanges as ex

USER = "Administrator"
READ = [{"command": "Get-SmbServerAlternativePort", "properties": ["TransportType", "Port"]}]


def answer(service, soap: bytes, expected: ex.Expected, message_id: str) -> ET.Element:
    """Send one request; check the reply against what the real host's reply had; return the envelope."""
    status, reply = service.handle(USER, soap)
    root = ET.fromstring(reply)
    assert status == expected.status, reply
    assert root.findtext("s:Header/a:Action", namespaces=ex.NS) == expected.action
    assert root.findtext("s:Header/a:RelatesTo", namespaces=ex.NS) == message_id
    for path, text in expected.texts.items():
        element = root.find(path, ex.NS)
        assert element is not None, f"{path} missing in {reply[:400]!r}"
        if text != "*":
            assert (element.text or "").strip() == text.strip(), path
        else:
            assert (element.text or "").strip(), path
    for path, attributes in expected.attributes.items():
        element = root.find(path, ex.NS)
        assert element is not None, path
        for name, value in attributes.items():
            assert element.get(name) == value, (path, name)
    for path, count in expected.counts.items():
        assert len(root.findall(path, ex.NS)) == count, path
    return root


def test_a_whole_winrs_exchange_is_answered_as_real_hosts_answered_it():
    host = EmulatedWindowsHost([HostUser(USER, "unused")])
    service = host.in_process_service()

    created = answer(
        service,
        ex.create("uuid:00000000-0000-4000-8000-000000000001"),
        ex.CREATED,
        "uuid:00000000-0000-4000-8000-000000000001",
    )
    shell_id = created.findtext("s:Body/rsp:Shell/rsp:ShellId", namespaces=ex.NS)
    selector = created.findtext(
        "s:Body/x:ResourceCreated/a:ReferenceParameters/w:SelectorSet/w:Selector", namespaces=ex.NS
    )
    assert shell_id == selector
    assert created.findtext("s:Body/rsp:Shell/rsp:Owner", namespaces=ex.NS) == USER

    started = answer(
        service,
        ex.command("uuid:00000000-0000-4000-8000-000000000002", shell_id, "powershell.exe", powershell_arguments()),
        ex.COMMAND_STARTED,
        "uuid:00000000-0000-4000-8000-000000000002",
    )
    command_id = started.findtext("s:Body/rsp:CommandResponse/rsp:CommandId", namespaces=ex.NS)

    stdin = executor_stdin(READ)
    half = len(stdin) // 2
    for number, (piece, end) in enumerate(((stdin[:half], False), (stdin[half:], True)), start=3):
        message_id = f"uuid:00000000-0000-4000-8000-00000000000{number}"
        answer(service, ex.send(message_id, shell_id, command_id, piece, end), ex.SENT, message_id)

    done = answer(
        service,
        ex.receive("uuid:00000000-0000-4000-8000-000000000005", shell_id, command_id),
        ex.RECEIVED_DONE,
        "uuid:00000000-0000-4000-8000-000000000005",
    )
    stdout = b"".join(
        base64.b64decode(stream.text or "")
        for stream in done.findall("s:Body/rsp:ReceiveResponse/rsp:Stream[@Name='stdout']", ex.NS)
    )
    assert json.loads(stdout)["results"][0]["ok"] is True
    assert done.findtext("s:Body/rsp:ReceiveResponse/rsp:CommandState/rsp:ExitCode", namespaces=ex.NS) == "0"
    for stream in done.findall("s:Body/rsp:ReceiveResponse/rsp:Stream", ex.NS):
        assert stream.get("CommandId") == command_id

    answer(
        service,
        ex.receive("uuid:00000000-0000-4000-8000-000000000006", shell_id, "87E77BEB-0000-4C48-9D70-A00266B8459A"),
        ex.UNKNOWN_COMMAND,
        "uuid:00000000-0000-4000-8000-000000000006",
    )
    answer(
        service,
        ex.signal("uuid:00000000-0000-4000-8000-000000000007", shell_id, command_id, "ctrl_c"),
        ex.SIGNALLED,
        "uuid:00000000-0000-4000-8000-000000000007",
    )
    answer(
        service,
        ex.delete("uuid:00000000-0000-4000-8000-000000000008", shell_id),
        ex.DELETED,
        "uuid:00000000-0000-4000-8000-000000000008",
    )
    assert host.counters["shells_created"] == 1 and host.counters["console_mode_stdin"] == 0
