"""Connection-oriented DCE/RPC (C706 chapter 12, MS-RPCE) over a byte stream, server side.

``RPCEndpoint`` takes the bytes a client writes into a named pipe, answers BIND and ALTER_CONTEXT
for one interface, reassembles fragmented REQUESTs, calls the interface's operation by opnum and
queues RESPONSE (fragmented to what the client can receive) or FAULT PDUs for the client to read.
No authentication: srvsvc share enumeration over an authenticated SMB session needs none.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from pysmbd.rpc.ndr import NDRError

# Packet types (C706 12.6.4.1).
PTYPE_REQUEST = 0
PTYPE_RESPONSE = 2
PTYPE_FAULT = 3
PTYPE_BIND = 11
PTYPE_BIND_ACK = 12
PTYPE_BIND_NAK = 13
PTYPE_ALTER_CONTEXT = 14
PTYPE_ALTER_CONTEXT_RESP = 15

PFC_FIRST_FRAG = 0x01
PFC_LAST_FRAG = 0x02
PFC_OBJECT_UUID = 0x80

# Fault status codes (C706 appendix E, MS-RPCE 2.2.2.11).
NCA_S_OP_RNG_ERROR = 0x1C010002
NCA_S_UNKNOWN_IF = 0x1C010003
NCA_S_PROTO_ERROR = 0x1C01000B
NCA_S_FAULT_NDR = 0x000006F7
NCA_S_FAULT_REMOTE_NO_MEMORY = 0x1C000024

# Presentation context results.
RESULT_ACCEPTANCE = 0
RESULT_PROVIDER_REJECTION = 2
RESULT_NEGOTIATE_ACK = 3
REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2

NDR32 = (uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860"), 2, 0)
BIND_TIME_FEATURE_PREFIX = uuid.UUID("6cb71c2c-9812-4540-0000-000000000000").bytes_le[:8]

MAX_FRAGMENT = 4280  # what Windows and Samba offer on named pipes
MAX_REQUEST_STUB = 1024 * 1024  # a share listing request is a few dozen bytes
LITTLE_ENDIAN_DREP = b"\x10\x00\x00\x00"

_HEADER = struct.Struct("<BBBB4sHHI")  # rpc_vers, minor, ptype, flags, drep, frag_length, auth_length, call_id
_SYNTAX = struct.Struct("<16sHH")

Operation = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Interface:
    """An RPC interface the endpoint serves: its UUID, version and operations by opnum."""

    name: str
    uuid: uuid.UUID
    version: Tuple[int, int]
    operations: Dict[int, Operation]
    pipe_name: str


@dataclass
class _Call:
    call_id: int
    context_id: int
    opnum: int
    stub: bytearray


class PipeFullError(Exception):
    """The client keeps writing requests without reading the answers: its unread output reached the bound."""


# Unread answers one pipe may hold; a client that pipelines past this without reading is refused.
DEFAULT_MAX_OUTPUT = 1024 * 1024


class RPCEndpoint:
    """One client's DCE/RPC association over one pipe handle."""

    _assoc_group_counter = 0x5A00

    def __init__(self, interface: Interface, max_output: int = DEFAULT_MAX_OUTPUT) -> None:
        self.interface = interface
        self.max_output = max_output
        self._input = bytearray()
        self._output: List[bytes] = []
        self._contexts: Dict[int, bool] = {}
        self._max_send_fragment = MAX_FRAGMENT
        self._pending: Optional[_Call] = None

    # byte stream ---------------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Take client bytes; every complete PDU is handled at once.

        Raises PipeFullError, keeping nothing of ``data``, while the unread output is at its bound; and when
        answering ``data`` fills it, the PDUs left unanswered are dropped (a full Windows pipe refuses writes too).
        """
        if self.pending_output() >= self.max_output:
            raise PipeFullError(f"{self.pending_output()} bytes of answers are unread")
        self._input.extend(data)
        while len(self._input) >= _HEADER.size:
            version, minor, ptype, flags, drep, frag_length, auth_length, call_id = _HEADER.unpack_from(self._input)
            if version != 5 or minor not in (0, 1) or frag_length < _HEADER.size or drep[0] & 0xF0 != 0x10:
                # Not DCE/RPC, or big endian which no client of ours uses: drop everything and say why.
                self._input.clear()
                self._fault(call_id if version == 5 else 0, 0, NCA_S_PROTO_ERROR)
                return
            if len(self._input) < frag_length:
                return
            pdu = bytes(self._input[:frag_length])
            del self._input[:frag_length]
            self._handle_pdu(ptype, flags, auth_length, call_id, pdu)
            if self._input and self.pending_output() >= self.max_output:
                self._input.clear()
                raise PipeFullError("answers filled the pipe before all requests were read")

    def pending_output(self) -> int:
        return sum(len(chunk) for chunk in self._output)

    def read(self, max_len: int) -> bytes:
        """Up to ``max_len`` bytes of queued PDUs (a PDU can span several reads)."""
        out = bytearray()
        while self._output and len(out) < max_len:
            chunk = self._output[0]
            room = max_len - len(out)
            if len(chunk) <= room:
                out.extend(chunk)
                self._output.pop(0)
            else:
                out.extend(chunk[:room])
                self._output[0] = chunk[room:]
        return bytes(out)

    # PDUs ----------------------------------------------------------------------------------------

    def _handle_pdu(self, ptype: int, flags: int, auth_length: int, call_id: int, pdu: bytes) -> None:
        try:
            if ptype in (PTYPE_BIND, PTYPE_ALTER_CONTEXT):
                self._bind(ptype, call_id, pdu)
            elif ptype == PTYPE_REQUEST:
                if auth_length:
                    self._fault(call_id, 0, NCA_S_PROTO_ERROR)  # we offer no RPC-level authentication
                else:
                    self._request(flags, call_id, pdu)
            else:
                self._fault(call_id, 0, NCA_S_PROTO_ERROR)
        except struct.error:
            self._fault(call_id, 0, NCA_S_PROTO_ERROR)

    def _bind(self, ptype: int, call_id: int, pdu: bytes) -> None:
        _max_xmit, max_recv, assoc_group = struct.unpack_from("<HHI", pdu, 16)
        (count,) = struct.unpack_from("<B", pdu, 24)
        offset = 28
        results = []
        for _context in range(count):
            context_id, transfer_count = struct.unpack_from("<HB", pdu, offset)
            abstract_uuid, abstract_major, abstract_minor = _SYNTAX.unpack_from(pdu, offset + 4)
            transfers = [_SYNTAX.unpack_from(pdu, offset + 24 + 20 * index) for index in range(transfer_count)]
            offset += 24 + 20 * transfer_count
            results.append(
                self._negotiate_context(context_id, (abstract_uuid, abstract_major, abstract_minor), transfers)
            )
        if ptype == PTYPE_BIND:
            self._max_send_fragment = max(_HEADER.size + 8 + 8, min(max_recv, MAX_FRAGMENT))
            if assoc_group == 0:
                RPCEndpoint._assoc_group_counter += 1
                assoc_group = RPCEndpoint._assoc_group_counter
        body = bytearray(struct.pack("<HHI", MAX_FRAGMENT, MAX_FRAGMENT, assoc_group))
        if ptype == PTYPE_BIND:
            port = f"\\PIPE\\{self.interface.pipe_name}\x00".encode("ascii")
            body += struct.pack("<H", len(port)) + port
        else:
            body += struct.pack("<H", 0)
        body += b"\x00" * (-(len(body) + _HEADER.size) % 4)
        body += struct.pack("<BBH", len(results), 0, 0)
        for result, reason, transfer in results:
            body += struct.pack("<HH", result, reason) + transfer
        reply_type = PTYPE_BIND_ACK if ptype == PTYPE_BIND else PTYPE_ALTER_CONTEXT_RESP
        self._output.append(_pdu(reply_type, PFC_FIRST_FRAG | PFC_LAST_FRAG, call_id, bytes(body)))

    def _negotiate_context(
        self, context_id: int, abstract: Tuple[bytes, int, int], transfers: List[Tuple[bytes, int, int]]
    ) -> Tuple[int, int, bytes]:
        no_syntax = b"\x00" * 20
        if transfers and transfers[0][0][:8] == BIND_TIME_FEATURE_PREFIX:
            return RESULT_NEGOTIATE_ACK, 0, no_syntax  # we support none of the optional features
        wanted = (self.interface.uuid.bytes_le, self.interface.version[0], self.interface.version[1])
        if abstract != wanted:
            return RESULT_PROVIDER_REJECTION, REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED, no_syntax
        ndr32 = (NDR32[0].bytes_le, NDR32[1], NDR32[2])
        if ndr32 not in transfers:
            return RESULT_PROVIDER_REJECTION, REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED, no_syntax
        self._contexts[context_id] = True
        return RESULT_ACCEPTANCE, 0, _SYNTAX.pack(*ndr32)

    def _request(self, flags: int, call_id: int, pdu: bytes) -> None:
        _alloc_hint, context_id, opnum = struct.unpack_from("<IHH", pdu, 16)
        stub_start = 24 + (16 if flags & PFC_OBJECT_UUID else 0)
        stub = pdu[stub_start:]
        if flags & PFC_FIRST_FRAG or self._pending is None:
            self._pending = _Call(call_id, context_id, opnum, bytearray())
        call = self._pending
        if call.call_id != call_id:
            self._pending = None
            self._fault(call_id, context_id, NCA_S_PROTO_ERROR)
            return
        call.stub.extend(stub)
        if len(call.stub) > MAX_REQUEST_STUB:
            self._pending = None
            self._fault(call_id, context_id, NCA_S_FAULT_REMOTE_NO_MEMORY)
            return
        if not flags & PFC_LAST_FRAG:
            return
        self._pending = None
        if context_id not in self._contexts:
            self._fault(call_id, context_id, NCA_S_UNKNOWN_IF)
            return
        operation = self.interface.operations.get(call.opnum)
        if operation is None:
            self._fault(call_id, context_id, NCA_S_OP_RNG_ERROR)
            return
        try:
            result = operation(bytes(call.stub))
        except NDRError:
            self._fault(call_id, context_id, NCA_S_FAULT_NDR)
            return
        self._respond(call_id, context_id, result)

    def _respond(self, call_id: int, context_id: int, stub: bytes) -> None:
        # Each fragment carries at most max_send_fragment bytes, header included; 8-byte multiples keep NDR aligned.
        room = (self._max_send_fragment - _HEADER.size - 8) // 8 * 8
        offset = 0
        while True:
            chunk = stub[offset : offset + room]
            flags = (PFC_FIRST_FRAG if offset == 0 else 0) | (PFC_LAST_FRAG if offset + room >= len(stub) else 0)
            body = struct.pack("<IHBB", len(stub) - offset, context_id, 0, 0) + chunk
            self._output.append(_pdu(PTYPE_RESPONSE, flags, call_id, body))
            offset += room
            if offset >= len(stub):
                return

    def _fault(self, call_id: int, context_id: int, status: int) -> None:
        body = struct.pack("<IHBBII", 0, context_id, 0, 0, status, 0)
        self._output.append(_pdu(PTYPE_FAULT, PFC_FIRST_FRAG | PFC_LAST_FRAG, call_id, body))


def _pdu(ptype: int, flags: int, call_id: int, body: bytes) -> bytes:
    return _HEADER.pack(5, 0, ptype, flags, LITTLE_ENDIAN_DREP, _HEADER.size + len(body), 0, call_id) + body
