"""srvsvc over DCE/RPC: hand-made PDUs in, and the answers decoded by Samba's own NDR code (python3-samba)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import uuid
from pathlib import Path

import pytest

from pysmbd.core.context import ShareConfig
from pysmbd.rpc.pipes import open_pipe
from tests.support.pysmbd_context import make_context

SRVSVC = uuid.UUID("4b324fc8-1670-01d3-1278-5a47bf6ee188")
NDR32 = uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860")
NDR64 = uuid.UUID("71710533-beba-4937-8319-b5dbef9ccc36")
SYSTEM_PYTHON = "/usr/bin/python3"

# Run by the system Python, where Debian's python3-samba lives (the venv's Python cannot import it).
SAMBA_NDR_HELPER = r"""
import json, sys
from samba import ndr
from samba.dcerpc import srvsvc
job = json.loads(sys.stdin.read())
if job["op"] == "pack_share_enum":
    r = srvsvc.NetShareEnumAll()
    r.in_server_unc = "\\\\127.0.0.1"
    ctr = srvsvc.NetShareInfoCtr()
    ctr.level = job["level"]
    ctr.ctr = srvsvc.NetShareCtr1() if job["level"] == 1 else srvsvc.NetShareCtr0()
    r.in_info_ctr = ctr
    r.in_max_buffer = 0xFFFFFFFF
    r.in_resume_handle = 0
    print(json.dumps({"stub": ndr.ndr_pack_in(r).hex()}))
elif job["op"] == "unpack_share_enum":
    r = srvsvc.NetShareEnumAll()
    r.in_info_ctr = srvsvc.NetShareInfoCtr()
    ndr.ndr_unpack_out(r, bytes.fromhex(job["stub"]))
    shares = [[s.name, getattr(s, "type", None), getattr(s, "comment", None)] for s in (r.out_info_ctr.ctr.array or [])]
    print(json.dumps({"level": r.out_info_ctr.level, "total": r.out_totalentries, "shares": shares,
                      "result": r.result[0]}))
elif job["op"] == "pack_server_info":
    r = srvsvc.NetSrvGetInfo()
    r.in_server_unc = "\\\\127.0.0.1"
    r.in_level = job["level"]
    print(json.dumps({"stub": ndr.ndr_pack_in(r).hex()}))
elif job["op"] == "unpack_server_info":
    r = srvsvc.NetSrvGetInfo()
    r.in_level = job["level"]
    ndr.ndr_unpack_out(r, bytes.fromhex(job["stub"]))
    i = r.out_info
    print(json.dumps({"name": i.server_name, "comment": i.comment, "platform": i.platform_id,
                      "type": i.server_type, "result": r.result[0]}))
"""


def samba_ndr(**job) -> dict:
    if not Path(SYSTEM_PYTHON).exists() or shutil.which("smbd") is None:
        pytest.fail("Samba's NDR code is needed as a peer: apt-get install samba python3-samba")
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", SAMBA_NDR_HELPER],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"python3-samba failed (apt-get install python3-samba): {done.stderr}")
    return json.loads(done.stdout)


# Hand-made PDUs (C706 chapter 12), independent of pysmbd.rpc.dcerpc.


def header(ptype: int, flags: int, body: bytes, call_id: int = 1) -> bytes:
    return struct.pack("<BBBB4sHHI", 5, 0, ptype, flags, b"\x10\x00\x00\x00", 16 + len(body), 0, call_id) + body


def syntax(ident: uuid.UUID, major: int, minor: int = 0) -> bytes:
    return ident.bytes_le + struct.pack("<HH", major, minor)


def bind(contexts, max_recv: int = 4280, ptype: int = 11) -> bytes:
    body = struct.pack("<HHIBBH", 4280, max_recv, 0, len(contexts), 0, 0)
    for context_id, abstract, transfers in contexts:
        body += struct.pack("<HBB", context_id, len(transfers), 0) + abstract + b"".join(transfers)
    return header(ptype, 3, body)


def request(opnum: int, stub: bytes, context_id: int = 0, call_id: int = 2, flags: int = 3) -> bytes:
    return header(0, flags, struct.pack("<IHH", len(stub), context_id, opnum) + stub, call_id)


def parse_pdus(data: bytes) -> list:
    pdus = []
    while data:
        ptype, flags = data[2], data[3]
        (length,) = struct.unpack_from("<H", data, 8)
        pdus.append((ptype, flags, data[:length]))
        data = data[length:]
    return pdus


def bind_results(pdu: bytes) -> list:
    (port_length,) = struct.unpack_from("<H", pdu, 24)
    offset = 26 + port_length
    offset += -offset % 4
    count = pdu[offset]
    results = []
    for index in range(count):
        result, reason = struct.unpack_from("<HH", pdu, offset + 4 + 24 * index)
        results.append((result, reason, pdu[offset + 8 + 24 * index : offset + 28 + 24 * index]))
    return results


@pytest.fixture
def context(tmp_path):
    shares = {
        "data": ShareConfig("data", tmp_path, comment="Team data"),
        "pub": ShareConfig("pub", tmp_path, read_only=True),
    }
    return make_context(server_name="FILES1", shares=shares)


@pytest.fixture
def pipe(context):
    handler = open_pipe("srvsvc", context)
    handler.write(bind([(0, syntax(SRVSVC, 3), [syntax(NDR32, 2)])]))
    ((ptype, _flags, pdu),) = parse_pdus(handler.read(65536))
    assert ptype == 12 and bind_results(pdu)[0][0] == 0
    return handler


def call(pipe, opnum: int, stub: bytes) -> bytes:
    """Send one request through FSCTL_PIPE_TRANSCEIVE and reassemble the response stub."""
    data = pipe.transact(request(opnum, stub), 4280)
    data += pipe.read(1 << 20)
    stub_out = b""
    for ptype, _flags, pdu in parse_pdus(data):
        assert ptype == 2, f"expected a RESPONSE, got PDU type {ptype}"
        stub_out += pdu[24:]
    return stub_out


def test_bind_ack_accepts_srvsvc_with_ndr32_and_names_the_pipe(context):
    handler = open_pipe("\\PIPE\\srvsvc", context)
    handler.write(bind([(0, syntax(SRVSVC, 3), [syntax(NDR64, 1), syntax(NDR32, 2)])]))
    ((ptype, flags, pdu),) = parse_pdus(handler.read(4096))
    assert (ptype, flags) == (12, 3)
    assert pdu[26 : 26 + 13] == b"\\PIPE\\srvsvc\x00"
    assert bind_results(pdu) == [(0, 0, syntax(NDR32, 2))]


def test_bind_rejects_other_interfaces_and_ndr64_only(context):
    handler = open_pipe("srvsvc", context)
    samr = uuid.UUID("12345778-1234-abcd-ef00-0123456789ac")
    handler.write(bind([(0, syntax(samr, 1), [syntax(NDR32, 2)]), (1, syntax(SRVSVC, 3), [syntax(NDR64, 1)])]))
    ((_ptype, _flags, pdu),) = parse_pdus(handler.read(4096))
    assert [(result, reason) for result, reason, _syntax in bind_results(pdu)] == [(2, 1), (2, 2)]
    # Neither context was accepted, so a request on it faults with nca_s_unknown_if.
    handler.write(request(15, b"", context_id=1))
    ((ptype, _flags, fault),) = parse_pdus(handler.read(4096))
    assert ptype == 3 and struct.unpack_from("<I", fault, 24)[0] == 0x1C010003


def test_only_srvsvc_is_served(context):
    assert open_pipe("samr", context) is None
    assert open_pipe("lsarpc", context) is None


@pytest.mark.parametrize("level", [0, 1])
def test_share_enum_decoded_by_samba_lists_shares_and_ipc(pipe, level):
    stub = bytes.fromhex(samba_ndr(op="pack_share_enum", level=level)["stub"])
    answer = samba_ndr(op="unpack_share_enum", stub=call(pipe, 15, stub).hex())
    assert answer["result"] == 0 and answer["level"] == level and answer["total"] == 3
    if level == 1:
        assert answer["shares"] == [
            ["data", 0, "Team data"],
            ["pub", 0, ""],
            ["IPC$", 0x80000003, "IPC Service (pysmbd on FILES1)"],
        ]
    else:
        assert [share[0] for share in answer["shares"]] == ["data", "pub", "IPC$"]


def test_share_list_follows_the_live_context(pipe, context, tmp_path):
    context.shares = {"other": ShareConfig("other", tmp_path)}
    stub = bytes.fromhex(samba_ndr(op="pack_share_enum", level=1)["stub"])
    answer = samba_ndr(op="unpack_share_enum", stub=call(pipe, 15, stub).hex())
    assert [share[0] for share in answer["shares"]] == ["other", "IPC$"]


def test_server_get_info_101_decoded_by_samba(pipe):
    stub = bytes.fromhex(samba_ndr(op="pack_server_info", level=101)["stub"])
    answer = samba_ndr(op="unpack_server_info", level=101, stub=call(pipe, 21, stub).hex())
    assert answer == {"name": "FILES1", "comment": "pysmbd on FILES1", "platform": 500, "type": 0x8003, "result": 0}


def test_level_502_is_refused_with_access_denied(pipe):
    stub = bytes.fromhex(samba_ndr(op="pack_share_enum", level=1)["stub"])
    stub = stub.replace(b"\x01\x00\x00\x00\x01\x00\x00\x00", struct.pack("<II", 502, 502), 1)
    answer = call(pipe, 15, stub)
    assert struct.unpack_from("<I", answer, len(answer) - 4)[0] == 5  # WERR_ACCESS_DENIED


def test_many_shares_are_fragmented_to_the_client_receive_size(context, tmp_path):
    context.shares = {
        f"share{index:03d}": ShareConfig(f"share{index:03d}", tmp_path, comment="x" * 40) for index in range(200)
    }
    handler = open_pipe("srvsvc", context)
    handler.write(bind([(0, syntax(SRVSVC, 3), [syntax(NDR32, 2)])], max_recv=1024))
    handler.read(4096)
    stub = bytes.fromhex(samba_ndr(op="pack_share_enum", level=1)["stub"])
    data = handler.transact(request(15, stub), 1024)
    assert len(data) == 1024  # one fragment fills the transceive; the rest waits for READs
    while True:
        chunk = handler.read(700)  # a read smaller than a fragment still makes progress
        if not chunk:
            break
        data += chunk
    pdus = parse_pdus(data)
    assert len(pdus) > 10 and all(len(pdu) <= 1024 for _ptype, _flags, pdu in pdus)
    assert pdus[0][1] & 1 and pdus[-1][1] & 2 and not any(flags & 2 for _ptype, flags, _pdu in pdus[:-1])
    answer = samba_ndr(op="unpack_share_enum", stub=b"".join(pdu[24:] for _ptype, _flags, pdu in pdus).hex())
    assert answer["total"] == 201 and answer["shares"][-1][0] == "IPC$"


def test_fragmented_request_fed_byte_by_byte(pipe):
    stub = bytes.fromhex(samba_ndr(op="pack_share_enum", level=1)["stub"])
    pdus = request(15, stub[:24], flags=1, call_id=7) + request(15, stub[24:], flags=2, call_id=7)
    for index in range(len(pdus)):
        pipe.write(pdus[index : index + 1])
    data = pipe.read(1 << 20)
    ((ptype, _flags, pdu),) = parse_pdus(data)
    assert ptype == 2 and struct.unpack_from("<I", pdu, 12)[0] == 7
    assert samba_ndr(op="unpack_share_enum", stub=pdu[24:].hex())["total"] == 3


@pytest.mark.parametrize(
    ("opnum", "stub", "status"),
    [
        (99, b"", 0x1C010002),  # nca_s_op_rng_error
        (15, b"\x00\x00", 0x000006F7),  # truncated stub: nca_s_fault_ndr
        (21, b"\x01\x00\x02\x00" + b"\xff" * 12, 0x000006F7),  # absurd string header
    ],
)
def test_bad_requests_fault_and_the_pipe_keeps_working(pipe, opnum, stub, status):
    pipe.write(request(opnum, stub))
    ((ptype, _flags, pdu),) = parse_pdus(pipe.read(4096))
    assert ptype == 3 and struct.unpack_from("<I", pdu, 24)[0] == status
    good = bytes.fromhex(samba_ndr(op="pack_server_info", level=100)["stub"])
    assert call(pipe, 21, good)[-4:] == b"\x00\x00\x00\x00"


@pytest.mark.parametrize("garbage", [b"\xff" * 64, b"\x05\x00\x00\x03\x10\x00\x00\x00\x04\x00", bytes(range(256))])
def test_garbage_answers_a_protocol_error_fault(context, garbage):
    handler = open_pipe("srvsvc", context)
    handler.write(garbage)
    data = handler.read(4096)
    assert data == b"" or parse_pdus(data)[0][0] == 3
