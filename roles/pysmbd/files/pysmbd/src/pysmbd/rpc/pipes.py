"""Named pipes on IPC$: the core's ``pipe_factory`` returns one of these per CREATE."""

from __future__ import annotations

from typing import Optional

from pysmbd.core.context import ServerContext
from pysmbd.core.status import STATUS_INSUFFICIENT_RESOURCES, SMBError
from pysmbd.rpc.dcerpc import DEFAULT_MAX_OUTPUT, PipeFullError, RPCEndpoint
from pysmbd.rpc.srvsvc import STYPE_DISKTREE, STYPE_IPC, STYPE_SPECIAL, ServerInfo, ShareEntry, srvsvc_interface


class RPCPipe:
    """A message pipe carrying DCE/RPC: what the client writes is a request, what it reads the answer."""

    def __init__(self, endpoint: RPCEndpoint) -> None:
        self._endpoint = endpoint

    def write(self, data: bytes) -> None:
        self._receive(data)

    def read(self, max_len: int) -> bytes:
        return self._endpoint.read(max_len)

    def transact(self, data: bytes, max_out: int) -> bytes:
        """FSCTL_PIPE_TRANSCEIVE; what does not fit in ``max_out`` stays for the client's next READ."""
        self._receive(data)
        return self._endpoint.read(max_out)

    def _receive(self, data: bytes) -> None:
        try:
            self._endpoint.receive(data)
        except PipeFullError as error:
            raise SMBError(STATUS_INSUFFICIENT_RESOURCES, f"named pipe full: {error}") from None

    def pending_output(self) -> int:
        """Bytes still queued for READ (lets the core answer STATUS_BUFFER_OVERFLOW)."""
        return self._endpoint.pending_output()


def describe_server(context: ServerContext) -> ServerInfo:
    comment = f"pysmbd on {context.server_name}"
    shares = [ShareEntry(share.name, STYPE_DISKTREE, share.comment) for share in context.shares.values()]
    shares.append(ShareEntry("IPC$", STYPE_IPC | STYPE_SPECIAL, f"IPC Service ({comment})"))
    return ServerInfo(name=context.server_name, comment=comment, shares=shares)


def open_pipe(name: str, context: ServerContext) -> Optional[RPCPipe]:
    """The pipe called ``name`` (``srvsvc`` or ``\\PIPE\\srvsvc``), or None for a pipe we do not serve."""
    short = name.replace("/", "\\").rsplit("\\", 1)[-1].lower()
    if short == "srvsvc":
        # Bounded by the frame size too, so one connection's unread answers stay within what it may send.
        max_output = min(DEFAULT_MAX_OUTPUT, context.max_frame_size)
        return RPCPipe(RPCEndpoint(srvsvc_interface(lambda: describe_server(context)), max_output))
    return None
