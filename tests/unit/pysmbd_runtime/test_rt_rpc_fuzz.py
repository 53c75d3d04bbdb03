"""Hostile bytes on the srvsvc pipe: whatever a client writes, the pipe answers with PDUs and never raises.

An exception here would surface inside the core's WRITE/IOCTL handling, so the pipe must turn every
malformed input into a DCE/RPC fault (or silence) on its own.
"""

from __future__ import annotations

import struct
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysmbd.core.context import ShareConfig
from pysmbd.rpc.pipes import open_pipe
from tests.support.pysmbd_context import make_context

SRVSVC = uuid.UUID("4b324fc8-1670-01d3-1278-5a47bf6ee188")
NDR32 = uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860")
BIND = (
    struct.pack("<BBBB4sHHI", 5, 0, 11, 3, b"\x10\x00\x00\x00", 72, 0, 1)
    + struct.pack("<HHIBBH", 4280, 4280, 0, 1, 0, 0)
    + struct.pack("<HBB", 0, 1, 0)
    + SRVSVC.bytes_le
    + struct.pack("<HH", 3, 0)
    + NDR32.bytes_le
    + struct.pack("<HH", 2, 0)
)


def new_pipe():
    context = make_context(shares={"data": ShareConfig("data", "/nonexistent", comment="x")})
    return open_pipe("srvsvc", context)


def pdu_types(data: bytes) -> list:
    """Split the pipe's output into PDUs, checking each header is well formed."""
    types = []
    while data:
        assert len(data) >= 16 and data[0] == 5
        (length,) = struct.unpack_from("<H", data, 8)
        assert 16 <= length <= len(data)
        types.append(data[2])
        data = data[length:]
    return types


def feed(pipe, data: bytes, cuts: list) -> bytes:
    out = b""
    start = 0
    for cut in [*sorted({position % (len(data) + 1) for position in cuts}), len(data)]:
        pipe.write(data[start:cut])
        out += pipe.read(1 << 20)
        start = cut
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=6))
def test_random_bytes_never_raise(data, cuts):
    pipe = new_pipe()
    assert set(pdu_types(feed(pipe, data, cuts))) <= {3, 12, 13, 15}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    opnum=st.sampled_from([15, 21, 0, 65535]),
    stub=st.binary(max_size=400),
    flags=st.sampled_from([3, 1, 2, 0x83]),
    cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=4),
)
def test_random_requests_after_a_valid_bind_answer_or_fault(opnum, stub, flags, cuts):
    pipe = new_pipe()
    pipe.write(BIND)
    assert pdu_types(pipe.read(4096)) == [12]
    body = struct.pack("<IHH", len(stub), 0, opnum) + stub
    request = struct.pack("<BBBB4sHHI", 5, 0, 0, flags, b"\x10\x00\x00\x00", 16 + len(body), 0, 2) + body
    answers = pdu_types(feed(pipe, request, cuts))
    assert set(answers) <= {2, 3}
    if flags & 2 and answers:  # a complete call gets exactly one answer: a response (maybe fragmented) or a fault
        assert answers == [3] or set(answers) == {2}
