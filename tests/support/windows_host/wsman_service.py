"""The WinRS service: one decrypted SOAP request from an authenticated user in, one SOAP reply out.

It dispatches on ``a:Action`` to the :class:`ShellManager` and builds the reply. Every refusal is a
SOAP fault with HTTP status 500, as Windows answers, never a dropped connection: the only deliberate
drop is the fault injection asked for by a test (:class:`DropConnection`).
"""

from __future__ import annotations

import base64
import binascii
import logging
from xml.etree import ElementTree as ET

from .observer import Observer
from .shells import ShellManager
from .wsman_messages import (
    ACTION_COMMAND,
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_RECEIVE,
    ACTION_SEND,
    ACTION_SIGNAL,
    CMD_RESOURCE_URI,
    FAULT_INTERNAL_ERROR,
    FAULT_INVALID_OPTION,
    FAULT_INVALID_REQUEST,
    NS,
    WsmanFault,
    WsmanRequest,
    command_response,
    create_response,
    delete_response,
    fault_response,
    parse_request,
    receive_response,
    send_response,
    signal_response,
)

LOG = logging.getLogger(__name__)
MACHINE = "emulated-windows-host"


# The WinRS options a shell or command takes (MS-WSMV 2.2.4.37 and 3.1.4.11), and what each accepts.
_BOOLEAN_OPTIONS = ("WINRS_NOPROFILE", "WINRS_CONSOLEMODE_STDIN", "WINRS_SKIP_CMD_SHELL")
_CODE_PAGES = {437, 850, 852, 866, 932, 936, 949, 950, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258, 65001}


def check_options(options: dict[str, str], allowed: tuple[str, ...]) -> None:
    """Refuse an option value Windows would not take (the fault code and text are assumed, see SOURCES.md)."""
    for name, value in options.items():
        if name not in allowed:
            continue  # Windows ignores options it does not know unless they are marked MustComply
        if name in _BOOLEAN_OPTIONS and value.upper() not in ("TRUE", "FALSE"):
            raise WsmanFault(
                FAULT_INVALID_OPTION, f"The value {value!r} of the option {name} is not valid: use TRUE or FALSE."
            )
        if name == "WINRS_CODEPAGE" and (not value.isdigit() or int(value) not in _CODE_PAGES):
            raise WsmanFault(
                FAULT_INVALID_OPTION, f"The code page {value!r} of the option WINRS_CODEPAGE is not valid."
            )


class DropConnection(Exception):
    """Fault injection: close the TCP connection instead of answering."""


def _body_child(request: WsmanRequest, tag: str) -> ET.Element:
    element = request.body.find(tag, NS) if request.body is not None else None
    if element is None:
        raise WsmanFault(FAULT_INVALID_REQUEST, f"The request body has no {tag} element.")
    return element


class WsmanService:
    """Dispatch WinRS requests for one host."""

    def __init__(self, shells: ShellManager, observer: Observer, url: str) -> None:
        self._shells = shells
        self._observer = observer
        self.url = url  # the endpoint's address, given in Create replies; set once the port is bound

    def handle(self, user: str, soap: bytes) -> tuple[int, bytes]:
        """Return (HTTP status, SOAP reply); raises DropConnection for fault injection only."""
        relates_to = ""
        try:
            request = parse_request(soap)
            relates_to = request.message_id
            if request.resource_uri != CMD_RESOURCE_URI:
                raise WsmanFault(
                    FAULT_INVALID_REQUEST,
                    f"The emulated Windows host serves only WinRS (resource URI {CMD_RESOURCE_URI}); "
                    f"{request.resource_uri or 'an empty resource URI'} is not emulated.",
                    subcode="w:DestinationUnreachable",
                )
            return 200, self._dispatch(user, request)
        except WsmanFault as fault:
            return 500, fault_response(fault, relates_to, MACHINE)
        except DropConnection:
            raise
        except Exception as error:  # pylint: disable=broad-exception-caught
            # A bug in the emulation must reach the client as a fault naming it, not as a dropped connection.
            LOG.exception("internal error while handling a WS-Man request")
            fault = WsmanFault(FAULT_INTERNAL_ERROR, f"internal error in the emulated Windows host: {error!r}")
            return 500, fault_response(fault, relates_to, MACHINE)

    def _dispatch(self, user: str, request: WsmanRequest) -> bytes:
        action = request.action
        if action == ACTION_CREATE:
            check_options(request.options, ("WINRS_NOPROFILE", "WINRS_CODEPAGE"))
            shell_id = self._shells.create(user)
            self._observer.count(user, "shells_created")
            self._observer.write_state_file()
            return create_response(request, shell_id, self.url, owner=user)
        if action == ACTION_DELETE:
            self._shells.delete(user, request.shell_id)
            self._observer.count(user, "shells_deleted")
            self._observer.write_state_file()
            return delete_response(request)
        if action == ACTION_COMMAND:
            return self._command(user, request)
        if action == ACTION_SEND:
            return self._send(user, request)
        if action == ACTION_RECEIVE:
            stream = _body_child(request, "rsp:Receive/rsp:DesiredStream")
            command_id = stream.get("CommandId", "")
            stdout, stderr, exit_code = self._shells.receive(
                user, request.shell_id, command_id, request.operation_timeout
            )
            return receive_response(request, command_id, stdout, stderr, exit_code)
        if action == ACTION_SIGNAL:
            signal = _body_child(request, "rsp:Signal")
            self._shells.signal(user, request.shell_id, signal.get("CommandId", ""))
            return signal_response(request)
        raise WsmanFault(
            FAULT_INVALID_REQUEST,
            f"The WS-Management service cannot process the request: the action {action or '(none)'} is not supported.",
            subcode="w:ActionNotSupported",
        )

    def _command(self, user: str, request: WsmanRequest) -> bytes:
        line = _body_child(request, "rsp:CommandLine")
        command = (line.findtext("rsp:Command", default="", namespaces=NS) or "").strip()
        arguments = [(arg.text or "").strip() for arg in line.iterfind("rsp:Arguments", NS)]
        check_options(request.options, ("WINRS_CONSOLEMODE_STDIN", "WINRS_SKIP_CMD_SHELL"))
        command_id = self._shells.command(user, request.shell_id, command, [a for a in arguments if a], request.options)
        return command_response(request, command_id)

    def _send(self, user: str, request: WsmanRequest) -> bytes:
        send = _body_child(request, "rsp:Send")
        for stream in send.iterfind("rsp:Stream", NS):
            if stream.get("Name", "stdin") != "stdin":
                continue
            try:
                data = base64.b64decode((stream.text or "").strip(), validate=True)
            except binascii.Error:
                raise WsmanFault(FAULT_INVALID_REQUEST, "The stdin stream is not valid base64.") from None
            end = stream.get("End", "false").lower() == "true"
            run = self._shells.send(user, request.shell_id, stream.get("CommandId", ""), data, end)
            if run is not None and run.drop_connection:
                raise DropConnection(f"fault injection: connection dropped during command {run.command_id}")
        return send_response(request)
