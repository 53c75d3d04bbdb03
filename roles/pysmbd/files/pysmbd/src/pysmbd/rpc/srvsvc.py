"""The srvsvc interface (MS-SRVS): NetrShareEnum (opnum 15) and NetrServerGetInfo (opnum 21).

That is what ``smbclient -L`` and Windows' ``net view`` ask. The share list and server name come
from the live ServerContext, so a reload shows at once. Levels that reveal paths (2, 502) need
administrators on Windows; pysmbd has none, so they are refused with ERROR_ACCESS_DENIED.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable, List

from pysmbd.rpc.dcerpc import Interface
from pysmbd.rpc.ndr import NDRError, NDRReader, NDRWriter

SRVSVC_UUID = uuid.UUID("4b324fc8-1670-01d3-1278-5a47bf6ee188")
SRVSVC_VERSION = (3, 0)
OPNUM_NETR_SHARE_ENUM = 15
OPNUM_NETR_SERVER_GET_INFO = 21

STYPE_DISKTREE = 0x00000000
STYPE_IPC = 0x00000003
STYPE_SPECIAL = 0x80000000

WERR_OK = 0
WERR_ACCESS_DENIED = 5
WERR_INVALID_LEVEL = 124

PLATFORM_ID_NT = 500
SV_TYPE_WORKSTATION = 0x00000001
SV_TYPE_SERVER = 0x00000002
SV_TYPE_SERVER_NT = 0x00008000


@dataclass(frozen=True)
class ShareEntry:
    name: str
    share_type: int
    remark: str


@dataclass(frozen=True)
class ServerInfo:
    name: str
    comment: str
    shares: List[ShareEntry]


def _read_share_enum_request(stub: bytes) -> tuple:
    """NetrShareEnum's [in] arguments: (level, resume handle present)."""
    reader = NDRReader(stub)
    reader.optional_wide_string()  # ServerName: the client's idea of our name, not needed
    level = reader.u32()
    discriminant = reader.u32()
    if discriminant != level:
        raise NDRError(f"union discriminant {discriminant} differs from level {level}")
    if reader.pointer():  # container: EntriesRead and an (empty) Buffer pointer
        reader.u32()
        reader.u32()
    reader.u32()  # PreferedMaximumLength: we always return everything at once
    resume = reader.pointer()
    if resume:
        reader.u32()
    return level, resume


def share_enum(info: ServerInfo, stub: bytes) -> bytes:
    """NetrShareEnum (opnum 15), levels 0 and 1."""
    level, resume = _read_share_enum_request(stub)
    writer = NDRWriter()
    writer.u32(level)
    writer.u32(level)
    status = WERR_OK
    total = 0
    if level in (0, 1):
        shares = info.shares
        total = len(shares)
        writer.pointer()  # the container
        writer.u32(len(shares))  # EntriesRead
        writer.pointer(bool(shares))  # Buffer
        if shares:
            writer.u32(len(shares))  # conformant array size
            for share in shares:  # fixed parts first, strings deferred after the whole array
                writer.pointer()
                if level == 1:
                    writer.u32(share.share_type)
                    writer.pointer()
            for share in shares:
                writer.wide_string(share.name)
                if level == 1:
                    writer.wide_string(share.remark)
    else:
        status = WERR_ACCESS_DENIED if level in (2, 502, 503) else WERR_INVALID_LEVEL
        writer.pointer(False)
    writer.u32(total)  # TotalEntries
    writer.pointer(resume)
    if resume:
        writer.u32(0)
    writer.u32(status)
    return writer.getvalue()


def server_get_info(info: ServerInfo, stub: bytes) -> bytes:
    """NetrServerGetInfo (opnum 21), levels 100 and 101."""
    reader = NDRReader(stub)
    reader.optional_wide_string()
    level = reader.u32()
    writer = NDRWriter()
    writer.u32(level)
    if level not in (100, 101):
        writer.pointer(False)
        writer.u32(WERR_ACCESS_DENIED if level == 102 else WERR_INVALID_LEVEL)
        return writer.getvalue()
    writer.pointer()
    writer.u32(PLATFORM_ID_NT)
    writer.pointer()  # name
    if level == 101:
        writer.u32(10)  # major version
        writer.u32(0)  # minor version
        writer.u32(SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_SERVER_NT)
        writer.pointer()  # comment
    writer.wide_string(info.name)
    if level == 101:
        writer.wide_string(info.comment)
    writer.u32(WERR_OK)
    return writer.getvalue()


def srvsvc_interface(describe: Callable[[], ServerInfo]) -> Interface:
    """srvsvc bound to a function that describes the server as it is right now."""
    return Interface(
        name="srvsvc",
        uuid=SRVSVC_UUID,
        version=SRVSVC_VERSION,
        operations={
            OPNUM_NETR_SHARE_ENUM: lambda stub: share_enum(describe(), stub),
            OPNUM_NETR_SERVER_GET_INFO: lambda stub: server_get_info(describe(), stub),
        },
        pipe_name="srvsvc",
    )
