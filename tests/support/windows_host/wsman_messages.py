"""WS-Management SOAP messages of the WinRS shell (MS-WSMV), parsed and built without any IO.

Requests are read with ElementTree by namespace. Replies are SOAP 1.2 envelopes shaped like Windows'
(actions ``...Response``, ``RelatesTo`` = the request's MessageID). Faults carry a ``WSManFault``
element with Windows' numeric code: pywinrm keys its behaviour on it (2150858793, the operation
timeout, makes it poll Receive again).
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CMD_RESOURCE_URI = SHELL_URI + "/cmd"
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = SHELL_URI + "/Command"
ACTION_SEND = SHELL_URI + "/Send"
ACTION_RECEIVE = SHELL_URI + "/Receive"
ACTION_SIGNAL = SHELL_URI + "/Signal"
SIGNAL_TERMINATE = SHELL_URI + "/signal/terminate"
STATE_DONE = SHELL_URI + "/CommandState/Done"
STATE_RUNNING = SHELL_URI + "/CommandState/Running"

# Windows' WSManFault codes used here.
FAULT_OPERATION_TIMEOUT = 2150858793
FAULT_SHELL_NOT_FOUND = 2150858843
FAULT_INVALID_REQUEST = 2150858817  # the request is not valid for this resource (unsupported action/URI)
FAULT_ACCESS_DENIED = 5
FAULT_INTERNAL_ERROR = 2150858752  # generic WS-Management service error
FAULT_PROCESS_ABORTED = 2147943467  # HRESULT of ERROR_PROCESS_ABORTED: "The process terminated unexpectedly."
FAULT_MAX_ENVELOPE = 2150859025  # 0x80338111, what Windows answers a request larger than MaxEnvelopeSizekb
FAULT_INVALID_OPTION = 2150858918  # 0x803380A6 (assumed): an OptionSet value the shell does not accept

_DURATION = re.compile(r"^PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


class WsmanFault(Exception):
    """A request the service refuses: answered with HTTP 500 and a SOAP fault."""

    def __init__(
        self,
        code: int,
        reason: str,
        subcode: str = "w:InvalidParameter",
        value: str = "s:Sender",
        *,
        detail: str = "",
        message: str = "",
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason  # s:Reason/s:Text
        self.subcode = subcode
        self.value = value
        self.detail = detail  # w:FaultDetail URI, when Windows sends one
        self.message = message or reason  # f:WSManFault/f:Message


@dataclass
class WsmanRequest:
    """The parts of a WinRS request the host acts on."""

    action: str
    message_id: str
    resource_uri: str
    shell_id: str | None
    operation_timeout: float
    body: ET.Element | None
    options: dict[str, str] = field(default_factory=dict)


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def parse_duration(text: str, default: float = 60.0) -> float:
    """``PT20S`` / ``PT1M30.5S`` -> seconds."""
    match = _DURATION.match(text.strip()) if text else None
    if not match:
        return default
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


def parse_request(data: bytes) -> WsmanRequest:
    """Parse a SOAP request; a malformed one is a fault, never an exception escaping the server."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise WsmanFault(FAULT_INVALID_REQUEST, f"The request is not well-formed XML: {error}") from None
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if header is None:
        raise WsmanFault(FAULT_INVALID_REQUEST, "The request has no SOAP 1.2 Header.")
    shell_id = None
    for selector in header.iterfind("w:SelectorSet/w:Selector", NS):
        if selector.get("Name") == "ShellId":
            shell_id = _text(selector)
    options = {opt.get("Name", ""): _text(opt) for opt in header.iterfind("w:OptionSet/w:Option", NS)}
    return WsmanRequest(
        action=_text(header.find("a:Action", NS)),
        message_id=_text(header.find("a:MessageID", NS)),
        resource_uri=_text(header.find("w:ResourceURI", NS)),
        shell_id=shell_id,
        operation_timeout=parse_duration(_text(header.find("w:OperationTimeout", NS))),
        body=body,
        options=options,
    )


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    message_id = f"uuid:{str(uuid.uuid4()).upper()}"
    text = (
        f'<s:Envelope xml:lang="en-US" xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:x="{NS["x"]}" '
        f'xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}" xmlns:p="{NS["p"]}">'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>{message_id}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )
    return text.encode("utf-8")


def unknown_command_fault() -> WsmanFault:
    """What Windows answers a Receive, Send or Signal naming a CommandId the shell does not have."""
    return WsmanFault(
        FAULT_SHELL_NOT_FOUND,
        "The WS-Management service cannot process the request because the request contained invalid selectors "
        "for the resource. ",
        subcode="w:InvalidSelectors",
        detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors",
        message="The Windows Remote Shell received a request to perform an operation on a command identifier that "
        "does not exist. Either the command has completed execution or the client specified an invalid command "
        "identifier. ",
    )


def create_response(request: WsmanRequest, shell_id: str, address: str, owner: str = "") -> bytes:
    body = (
        "<x:ResourceCreated>"
        f"<a:Address>{escape(address)}</a:Address>"
        "<a:ReferenceParameters>"
        f"<w:ResourceURI>{CMD_RESOURCE_URI}</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters>"
        "</x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:ResourceUri>{CMD_RESOURCE_URI}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(owner)}</rsp:Owner><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
        "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
        "</rsp:Shell>"
    )
    return _envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", request.message_id, body)


def delete_response(request: WsmanRequest) -> bytes:
    return _envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", request.message_id, "")


def command_response(request: WsmanRequest, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return _envelope(SHELL_URI + "/CommandResponse", request.message_id, body)


def send_response(request: WsmanRequest) -> bytes:
    return _envelope(SHELL_URI + "/SendResponse", request.message_id, "<rsp:SendResponse/>")


def signal_response(request: WsmanRequest) -> bytes:
    return _envelope(SHELL_URI + "/SignalResponse", request.message_id, "<rsp:SignalResponse/>")


def receive_response(
    request: WsmanRequest,
    command_id: str,
    stdout: bytes,
    stderr: bytes,
    exit_code: int | None,
) -> bytes:
    """Output chunks, and the Done state with the exit code once the command has finished."""
    done = exit_code is not None
    cid = quoteattr(command_id)
    parts = ["<rsp:ReceiveResponse>"]
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        if data:
            parts.append(f'<rsp:Stream Name="{name}" CommandId={cid}>{base64.b64encode(data).decode()}</rsp:Stream>')
        if done:
            parts.append(f'<rsp:Stream Name="{name}" CommandId={cid} End="true"></rsp:Stream>')
    if done:
        parts.append(
            f'<rsp:CommandState CommandId={cid} State="{STATE_DONE}"><rsp:ExitCode>{exit_code}</rsp:ExitCode>'
            "</rsp:CommandState>"
        )
    else:
        parts.append(f'<rsp:CommandState CommandId={cid} State="{STATE_RUNNING}"></rsp:CommandState>')
    parts.append("</rsp:ReceiveResponse>")
    return _envelope(SHELL_URI + "/ReceiveResponse", request.message_id, "".join(parts))


def fault_response(fault: WsmanFault, relates_to: str, machine: str) -> bytes:
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{fault.value}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        "<s:Detail>"
        + (f"<w:FaultDetail>{escape(fault.detail)}</w:FaultDetail>" if fault.detail else "")
        + f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{fault.code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{escape(fault.message)}</f:Message></f:WSManFault>"
        "</s:Detail></s:Fault>"
    )
    return _envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to or "uuid:unknown", body)
