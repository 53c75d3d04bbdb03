"""QUERY_DIRECTORY, QUERY_INFO and SET_INFO requests that once cost the server or lied to the client."""

from __future__ import annotations

import struct

from pysmbd.core.context import DEFAULT_MAX_FRAME_SIZE

from .test_locks_and_sharing import FULL
from .wire_helpers import compound, framed, header, read_request, responses

STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_NOT_SUPPORTED = 0xC00000BB
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
DIRECTORY = 0x1


def query_directory_request(message_id, sid, tid, file_id, out_length, pattern="*"):
    encoded = pattern.encode("utf-16-le")
    body = struct.pack("<HBBI16sHHI", 33, 37, 0x1, 0, file_id, 96, len(encoded), out_length) + encoded
    return header(0x0E, message_id, session_id=sid, tree_id=tid) + body


def set_info_request(message_id, sid, tid, file_id, info_type, info_class, data):
    body = struct.pack("<HBBIHHI16s", 33, info_type, info_class, len(data), 96, 0, 0, file_id) + data
    return header(0x11, message_id, session_id=sid, tree_id=tid) + body


def rename_request(message_id, sid, tid, file_id, target):
    encoded = target.encode("utf-16-le")
    data = struct.pack("<B7xQI", 0, 0, len(encoded)) + encoded
    return set_info_request(message_id, sid, tid, file_id, 1, 10, data)


def test_a_directory_query_larger_than_max_transact_size_is_refused(clients):
    """OutputBufferLength 0xFFFFFFFF once built a 25 MB answer that no frame could carry."""
    first, _second = clients
    first.conn.context.max_frame_size = DEFAULT_MAX_FRAME_SIZE
    root = first.conn.context.shares["share"].path
    for index in range(300):
        (root / f"f{index:04}").write_bytes(b"")
    status, directory = first.open("", disposition=1, access=0x00100081, options=DIRECTORY)
    assert status == 0
    assert first.send(query_directory_request, directory, 0xFFFFFFFF).status == STATUS_INVALID_PARAMETER
    answer = first.send(query_directory_request, directory, 64 * 1024)
    assert answer.status == 0 and len(answer.raw) <= 64 * 1024 + 200


def test_end_of_file_beyond_the_largest_file_is_refused(clients):
    first, _second = clients
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    eof = first.send(set_info_request, mine, 1, 20, struct.pack("<Q", 1 << 62))
    assert eof.status == STATUS_INVALID_PARAMETER
    assert (first.conn.context.shares["share"].path / "data.bin").stat().st_size == 1000


def test_setting_a_security_descriptor_is_refused_not_pretended(clients):
    first, _second = clients
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    descriptor = struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 0)
    assert first.send(set_info_request, mine, 3, 0, descriptor).status == STATUS_NOT_SUPPORTED


def test_a_rename_through_a_handle_moves_the_open_file(clients):
    """Another client renamed the file, and a new one took its old name: the rename moves the open file."""
    first, second = clients
    root = first.conn.context.shares["share"].path
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    theirs = second.open("data.bin", disposition=1, access=FULL)[1]
    assert second.send(rename_request, theirs, "moved.bin").status == 0
    (root / "data.bin").write_bytes(b"newcomer")
    assert first.send(rename_request, mine, "final.bin").status == 0
    assert (root / "final.bin").stat().st_size == 1000
    assert (root / "data.bin").read_bytes() == b"newcomer"
    assert not (root / "moved.bin").exists()


def test_a_rename_never_moves_another_file_put_at_the_old_path(clients):
    first, _second = clients
    root = first.conn.context.shares["share"].path
    mine = first.open("data.bin", disposition=1, access=FULL)[1]
    (root / "data.bin").rename(root / "elsewhere.bin")  # on the server itself, unseen by pysmbd
    (root / "data.bin").write_bytes(b"newcomer")
    assert first.send(rename_request, mine, "final.bin").status == STATUS_OBJECT_NAME_NOT_FOUND
    assert (root / "data.bin").read_bytes() == b"newcomer"
    assert not (root / "final.bin").exists()


def position_request(message_id, sid, tid, file_id):
    """QUERY_INFO FilePositionInformation (MS-FSCC 2.4.35): where the last READ ended."""
    body = struct.pack("<HBBIHHIII16s", 41, 1, 14, 8, 0, 0, 0, 0, 0, file_id) + b"\x00"
    return header(0x10, message_id, session_id=sid, tree_id=tid) + body


def test_a_compound_of_reads_is_refused_past_its_budget_before_reading(clients):
    """A compound whose answers would overflow one frame: the READs past the budget fail at once, unread."""
    first, _second = clients
    (first.conn.context.shares["share"].path / "big.bin").write_bytes(bytes(4 << 20))
    handle = first.open("big.bin", disposition=1, access=FULL)[1]
    budget = first.conn.context.max_frame_size  # 1 MiB in these tests
    count = 2 * budget // 65536
    reads = [
        read_request(first.message_id + 1 + index, first.session_id, first.tree_id, handle, 65536, index * 65536)
        for index in range(count)
    ]
    first.message_id += count
    first.conn.receive_data(framed(compound(*reads)), now=5.0)
    statuses = [answer.status for answer in responses(first.conn)]
    answered = statuses.count(0)
    assert 0 < answered < count
    assert statuses == [0] * answered + [STATUS_INSUFFICIENT_RESOURCES] * (count - answered)
    position = first.send(position_request, handle)
    assert struct.unpack_from("<Q", position.body, 8)[0] == answered * 65536  # the refused READs never ran


def test_credit_charge_must_pay_for_the_payload(clients):
    """MS-SMB2 3.3.5.2.5: a 128 KiB READ costs two credits; charging one is INVALID_PARAMETER."""
    first, _second = clients
    (first.conn.context.shares["share"].path / "big.bin").write_bytes(bytes(1 << 20))
    handle = first.open("big.bin", disposition=1, access=FULL)[1]

    def charged_read(charge):
        def build(message_id, session_id, tree_id):
            message = bytearray(read_request(message_id, session_id, tree_id, handle, 128 * 1024))
            struct.pack_into("<H", message, 6, charge)
            return bytes(message)

        return build

    assert first.send(charged_read(1)).status == STATUS_INVALID_PARAMETER
    first.message_id += 1
    answer = first.send(charged_read(2))
    assert answer.status == 0 and len(answer.raw) > 128 * 1024
