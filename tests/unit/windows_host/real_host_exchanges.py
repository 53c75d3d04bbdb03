"""WS-Man exchanges of our own, written in the shapes that real Windows hosts answered in pywinrm's and pypsrp's
recorded test exchanges (diyan/pywinrm ``winrm/tests/conftest.py``; jborean93/pypsrp ``tests/responses/
test_winrs_send.yml``, ``test_winrs_bad_cmd_id.yml``). Requests use pypsrp's prefixes (``wsa``, ``wsman``,
``wsmv``), ``s:mustUnderstand`` attributes, a ``wsmv:SessionId`` and option values spelt ``False``/``True``,
as those clients send them; our IDs, commands and data are our own.

Each exchange is a request and what the real host's answer had: the reply action, HTTP status, and the
elements a client reads (XPath-like paths with the prefixes of :data:`NS`, and their text or attributes).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
SESSION = "uuid:5A0C1E57-7E57-4C0D-9A11-00000000C0DE"


def envelope(
    action: str, message_id: str, body: str, shell_id: str = "", options: dict[str, str] | None = None
) -> bytes:
    """A request envelope in pypsrp's shape."""
    option_set = ""
    if options:
        inner = "".join(f'<wsman:Option Name="{name}">{value}</wsman:Option>' for name, value in options.items())
        option_set = f'<wsman:OptionSet s:mustUnderstand="true">{inner}</wsman:OptionSet>'
    selector = (
        f'<wsman:SelectorSet><wsman:Selector Name="ShellId">{shell_id}</wsman:Selector></wsman:SelectorSet>'
        if shell_id
        else ""
    )
    return (
        '<s:Envelope xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
        'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:wsmv="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"><s:Header>'
        f'<wsa:Action s:mustUnderstand="true">{action}</wsa:Action>'
        '<wsmv:DataLocale s:mustUnderstand="false" xml:lang="en-US" />'
        '<wsman:Locale s:mustUnderstand="false" xml:lang="en-US" />'
        '<wsman:MaxEnvelopeSize s:mustUnderstand="true">153600</wsman:MaxEnvelopeSize>'
        f"<wsa:MessageID>{message_id}</wsa:MessageID>"
        "<wsman:OperationTimeout>PT5S</wsman:OperationTimeout>"
        '<wsa:ReplyTo><wsa:Address s:mustUnderstand="true">'
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>"
        f'<wsman:ResourceURI s:mustUnderstand="true">{SHELL}/cmd</wsman:ResourceURI>'
        f'<wsmv:SessionId s:mustUnderstand="false">{SESSION}</wsmv:SessionId>'
        "<wsa:To>http://windows-host.example:5985/wsman</wsa:To>"
        f"{option_set}{selector}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


@dataclass
class Expected:
    """What the real host's answer had."""

    status: int
    action: str
    texts: dict[str, str] = field(default_factory=dict)  # path -> exact text ("*" = present, any text)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # path -> {attribute: value}
    counts: dict[str, int] = field(default_factory=dict)  # path -> number of elements


def create(message_id: str) -> bytes:
    body = "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
    return envelope(
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
        message_id,
        body,
        options={"WINRS_NOPROFILE": "True", "WINRS_CODEPAGE": "65001"},
    )


CREATED = Expected(
    200,
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
    texts={
        "s:Body/x:ResourceCreated/a:ReferenceParameters/w:ResourceURI": f"{SHELL}/cmd",
        "s:Body/x:ResourceCreated/a:ReferenceParameters/w:SelectorSet/w:Selector": "*",
        "s:Body/rsp:Shell/rsp:ShellId": "*",
        "s:Body/rsp:Shell/rsp:Owner": "*",
        "s:Body/rsp:Shell/rsp:IdleTimeOut": "PT7200.000S",
        "s:Body/rsp:Shell/rsp:InputStreams": "stdin",
        "s:Body/rsp:Shell/rsp:OutputStreams": "stdout stderr",
    },
    attributes={"s:Body/x:ResourceCreated/a:ReferenceParameters/w:SelectorSet/w:Selector": {"Name": "ShellId"}},
)


def command(message_id: str, shell_id: str, program: str, arguments: list[str]) -> bytes:
    args = "".join(f"<rsp:Arguments>{argument}</rsp:Arguments>" for argument in arguments)
    body = f"<rsp:CommandLine><rsp:Command>{program}</rsp:Command>{args}</rsp:CommandLine>"
    return envelope(
        f"{SHELL}/Command",
        message_id,
        body,
        shell_id,
        options={"WINRS_CONSOLEMODE_STDIN": "False", "WINRS_SKIP_CMD_SHELL": "False"},
    )


COMMAND_STARTED = Expected(200, f"{SHELL}/CommandResponse", texts={"s:Body/rsp:CommandResponse/rsp:CommandId": "*"})


def send(message_id: str, shell_id: str, command_id: str, data: bytes, end: bool) -> bytes:
    encoded = base64.b64encode(data).decode()
    flag = "True" if end else "False"
    body = f'<rsp:Send><rsp:Stream CommandId="{command_id}" End="{flag}" Name="stdin">{encoded}</rsp:Stream></rsp:Send>'
    return envelope(f"{SHELL}/Send", message_id, body, shell_id)


SENT = Expected(200, f"{SHELL}/SendResponse", counts={"s:Body/rsp:SendResponse": 1})


def receive(message_id: str, shell_id: str, command_id: str) -> bytes:
    body = f'<rsp:Receive><rsp:DesiredStream CommandId="{command_id}">stdout stderr</rsp:DesiredStream></rsp:Receive>'
    return envelope(f"{SHELL}/Receive", message_id, body, shell_id, options={"WSMAN_CMDSHELL_OPTION_KEEPALIVE": "True"})


# A finished command: output streams, each stream closed with End="true", one CommandState Done with the exit code.
RECEIVED_DONE = Expected(
    200,
    f"{SHELL}/ReceiveResponse",
    texts={"s:Body/rsp:ReceiveResponse/rsp:CommandState/rsp:ExitCode": "*"},
    attributes={
        "s:Body/rsp:ReceiveResponse/rsp:CommandState": {"State": f"{SHELL}/CommandState/Done"},
    },
    counts={"s:Body/rsp:ReceiveResponse/rsp:CommandState": 1, "s:Body/rsp:ReceiveResponse/rsp:Stream[@End='true']": 2},
)

# Receive for a CommandId the shell does not have (pypsrp's test_winrs_bad_cmd_id).
UNKNOWN_COMMAND = Expected(
    500,
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault",
    texts={
        "s:Body/s:Fault/s:Code/s:Value": "s:Sender",
        "s:Body/s:Fault/s:Code/s:Subcode/s:Value": "w:InvalidSelectors",
        "s:Body/s:Fault/s:Detail/w:FaultDetail": "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors",
    },
    attributes={"s:Body/s:Fault/s:Detail/f:WSManFault": {"Code": "2150858843"}},
)


def signal(message_id: str, shell_id: str, command_id: str, code: str = "terminate") -> bytes:
    body = f'<rsp:Signal CommandId="{command_id}"><rsp:Code>{SHELL}/signal/{code}</rsp:Code></rsp:Signal>'
    return envelope(f"{SHELL}/Signal", message_id, body, shell_id)


SIGNALLED = Expected(200, f"{SHELL}/SignalResponse", counts={"s:Body/rsp:SignalResponse": 1})


def delete(message_id: str, shell_id: str) -> bytes:
    return envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete", message_id, "", shell_id)


DELETED = Expected(200, "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse")
