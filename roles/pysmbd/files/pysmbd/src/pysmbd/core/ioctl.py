"""IOCTL (MS-SMB2 3.3.5.15): validate-negotiate, named-pipe transceive, and polite refusals for the rest."""

from __future__ import annotations

import struct
from typing import Optional, Protocol

from . import fs
from .files import FileHost, lookup_open
from .negotiate import NegotiateResult
from .request import Request, Response
from .status import (
    STATUS_ACCESS_DENIED,
    STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_PARAMETER,
    STATUS_NOT_FOUND,
    STATUS_NOT_SUPPORTED,
    STATUS_SUCCESS,
    SMBError,
)
from .wire import ANY_FILE_ID

IOCTL_REQUEST = struct.Struct("<HHI16sIIIIIIII")
IOCTL_RESPONSE = struct.Struct("<HHI16sIIIIII")
VALIDATE_REQUEST = struct.Struct("<I16sHH")
VALIDATE_RESPONSE = struct.Struct("<I16sHH")

FSCTL_DFS_GET_REFERRALS = 0x00060194
FSCTL_DFS_GET_REFERRALS_EX = 0x000601B0
FSCTL_PIPE_TRANSCEIVE = 0x0011C017
FSCTL_VALIDATE_NEGOTIATE_INFO = 0x00140204
FSCTL_QUERY_NETWORK_INTERFACE_INFO = 0x001401FC
FSCTL_SRV_ENUMERATE_SNAPSHOTS = 0x00144064
FSCTL_CREATE_OR_GET_OBJECT_ID = 0x000900C0
FSCTL_GET_OBJECT_ID = 0x0009009C
IS_FSCTL = 0x1


class IoctlHost(FileHost, Protocol):
    """What the IOCTL handler uses of its connection beyond the files; ``connection.SMBServerConnection`` is one."""

    negotiation: Optional[NegotiateResult]

    def terminate(self, reason: str) -> None: ...


def ioctl(conn: IoctlHost, req: Request) -> Response:
    (_size, _r, code, raw_id, in_offset, in_count, _max_in, _out_off, _out_count, max_out, flags, _r2) = req.unpack(
        IOCTL_REQUEST
    )
    if not flags & IS_FSCTL:
        raise SMBError(STATUS_NOT_SUPPORTED, "only FSCTLs are supported")
    data = bytes(req.buffer(in_offset, in_count))
    if code == FSCTL_VALIDATE_NEGOTIATE_INFO:
        output = _validate_negotiate(conn, data)
        file_id = ANY_FILE_ID
    elif code == FSCTL_PIPE_TRANSCEIVE:
        handle = lookup_open(conn, req, raw_id)
        if handle.pipe is None:
            raise SMBError(STATUS_INVALID_DEVICE_REQUEST, "not a pipe")
        output = handle.pipe.transact(data, max_out)
        file_id = handle.file_id
    elif code in (FSCTL_DFS_GET_REFERRALS, FSCTL_DFS_GET_REFERRALS_EX):
        raise SMBError(STATUS_NOT_FOUND, "no DFS here")
    elif code in (FSCTL_CREATE_OR_GET_OBJECT_ID, FSCTL_GET_OBJECT_ID):
        handle = lookup_open(conn, req, raw_id)
        if handle.fd < 0:
            raise SMBError(STATUS_INVALID_DEVICE_REQUEST, "pipes have no object id")
        st = fs.fstat(handle.fd)
        object_id = struct.pack("<QQ", st.st_ino, st.st_dev)  # stable for the life of the file
        output = object_id + bytes(16) + object_id + bytes(16)  # ObjectId, BirthVolumeId, BirthObjectId, DomainId
        file_id = handle.file_id
    elif code == FSCTL_SRV_ENUMERATE_SNAPSHOTS:
        lookup_open(conn, req, raw_id)
        if max_out < 16:
            raise SMBError(STATUS_INVALID_PARAMETER, "buffer too small for snapshot list")
        output = struct.pack("<III", 0, 0, 2) + b"\x00\x00"  # no snapshots
        file_id = req.file_id(raw_id)
    elif code == FSCTL_QUERY_NETWORK_INTERFACE_INFO:
        raise SMBError(STATUS_NOT_SUPPORTED, "no multichannel")
    else:
        lookup_open(conn, req, raw_id)  # a bad handle is reported as such before the unknown control code
        raise SMBError(STATUS_INVALID_DEVICE_REQUEST, "unsupported FSCTL")
    if len(output) > max_out:
        raise SMBError(STATUS_INVALID_PARAMETER, "output larger than MaxOutputResponse")
    out_offset = 64 + IOCTL_RESPONSE.size
    body = IOCTL_RESPONSE.pack(49, 0, code, file_id, out_offset, 0, out_offset, len(output), 0, 0)
    return Response(STATUS_SUCCESS, body, payload=output or b"")


def _validate_negotiate(conn: IoctlHost, data: bytes) -> bytes:
    """MS-SMB2 3.3.5.15.12: the client's NEGOTIATE must match what we saw, else the connection is attacked."""
    result = conn.negotiation
    if result is None or len(data) < VALIDATE_REQUEST.size:
        raise SMBError(STATUS_INVALID_PARAMETER, "short validate-negotiate request")
    capabilities, guid, security_mode, count = VALIDATE_REQUEST.unpack_from(data)
    dialects = (
        struct.unpack_from(f"<{count}H", data, VALIDATE_REQUEST.size)
        if len(data) >= VALIDATE_REQUEST.size + 2 * count
        else ()
    )
    if (
        capabilities != result.client_capabilities
        or guid != result.client_guid
        or security_mode != result.client_security_mode
        or tuple(dialects) != result.client_dialects
    ):
        conn.terminate("FSCTL_VALIDATE_NEGOTIATE_INFO does not match the NEGOTIATE (downgrade attempt?)")
        raise SMBError(STATUS_ACCESS_DENIED, "validate negotiate mismatch")
    return VALIDATE_RESPONSE.pack(
        result.server_capabilities, conn.context.server_guid, result.server_security_mode, result.dialect
    )
