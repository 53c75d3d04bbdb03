"""Hypothesis strategies that damage real SMB2 messages the way a hostile or broken client would."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

# Offsets of header fields inside an SMB2 message (MS-SMB2 2.2.1): where a bad value hurts most.
HEADER_FIELDS = {
    "StructureSize": (4, 2),
    "CreditCharge": (6, 2),
    "Command": (12, 2),
    "Credits": (14, 2),
    "Flags": (16, 4),
    "NextCommand": (20, 4),
    "MessageId": (24, 8),
    "TreeId/AsyncId": (32, 8),
    "SessionId": (40, 8),
}
BOUNDARY_VALUES = (0, 1, 2, 3, 7, 8, 63, 64, 65, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0xFFFFFFFF, 2**63, 2**64 - 1)


# Offset/length/count fields of each request body (MS-SMB2 2.2.x), as (offset from the body start, width).
BUFFER_FIELDS = {
    0x00: [(2, 2), (28, 4), (32, 2)],  # NEGOTIATE: DialectCount, NegotiateContextOffset, NegotiateContextCount
    0x01: [(12, 2), (14, 2)],  # SESSION_SETUP: SecurityBufferOffset, SecurityBufferLength
    0x03: [(4, 2), (6, 2)],  # TREE_CONNECT: PathOffset, PathLength
    0x05: [(44, 2), (46, 2), (48, 4), (52, 4)],  # CREATE: NameOffset, NameLength, CreateContextsOffset, Length
    0x08: [(4, 4), (8, 8), (40, 4), (44, 2), (46, 2)],  # READ: Length, Offset, MinimumCount, ReadChannelInfo
    0x09: [(2, 2), (4, 4), (8, 8), (40, 2), (42, 2)],  # WRITE: DataOffset, Length, Offset, WriteChannelInfo
    0x0A: [(2, 2)],  # LOCK: LockCount
    0x0B: [(24, 4), (28, 4), (32, 4), (36, 4), (40, 4), (44, 4)],  # IOCTL: input/output offsets and counts
    0x0E: [(24, 2), (26, 2), (28, 4)],  # QUERY_DIRECTORY: FileNameOffset, FileNameLength, OutputBufferLength
    0x10: [(4, 4), (8, 2), (12, 4)],  # QUERY_INFO: OutputBufferLength, InputBufferOffset, InputBufferLength
    0x11: [(4, 4), (8, 2)],  # SET_INFO: BufferLength, BufferOffset
}


@st.composite
def buffer_field_lies(draw, message: bytes) -> bytes:
    """Make one offset/length/count field of the request's command lie a little (±1, odd) or a lot."""
    out = bytearray(message)
    if len(out) < 64:
        return bytes(out)
    fields = [(64 + at, width) for at, width in BUFFER_FIELDS.get(out[12], []) if 64 + at + width <= len(out)]
    if not fields:
        return bytes(out)
    offset, width = draw(st.sampled_from(fields))
    current = int.from_bytes(out[offset : offset + width], "little")
    limit = 2 ** (8 * width) - 1
    candidates = [current - 1, current + 1, current | 1, current * 2, len(out), len(out) + 1, 0, 1, limit]
    value = draw(st.sampled_from([v for v in candidates if 0 <= v <= limit]))
    out[offset : offset + width] = value.to_bytes(width, "little")
    return bytes(out)


@st.composite
def bit_flips(draw, message: bytes) -> bytes:
    out = bytearray(message)
    for position in draw(st.lists(st.integers(0, len(out) * 8 - 1), min_size=1, max_size=8)):
        out[position // 8] ^= 1 << (position % 8)
    return bytes(out)


@st.composite
def field_overwrites(draw, message: bytes) -> bytes:
    """Overwrite header fields or any little-endian integer in the body (offsets, lengths, counts)."""
    out = bytearray(message)
    for _field in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            offset, width = draw(st.sampled_from(sorted(HEADER_FIELDS.values())))
        else:
            width = draw(st.sampled_from((1, 2, 4, 8)))
            if len(out) < width:
                continue
            offset = draw(st.integers(0, len(out) - width))
        if offset + width > len(out):
            continue
        limit = 2 ** (8 * width) - 1
        near_length = [v for v in (len(out) - 1, len(out), len(out) + 1, len(out) - offset) if 0 <= v <= limit]
        choices = [v for v in BOUNDARY_VALUES if v <= limit] + near_length
        value = draw(st.one_of(st.sampled_from(choices), st.integers(0, limit)))
        out[offset : offset + width] = value.to_bytes(width, "little")
    return bytes(out)


@st.composite
def truncations(draw, message: bytes) -> bytes:
    return message[: draw(st.integers(0, max(len(message) - 1, 0)))]


@st.composite
def splices(draw, message: bytes, others: list) -> bytes:
    """Glue a message to another as a compound with a random NextCommand and random related flags."""
    other = draw(st.sampled_from(others))
    padded = message + bytes(draw(st.integers(0, 16)))
    next_command = draw(st.one_of(st.just(len(padded)), st.integers(0, len(padded) + 64)))
    head = bytearray(padded)
    if len(head) >= 24:
        struct.pack_into("<I", head, 20, next_command & 0xFFFFFFFF)
    tail = bytearray(other)
    if len(tail) >= 20 and draw(st.booleans()):
        tail[16] |= 0x04  # SMB2_FLAGS_RELATED_OPERATIONS
    return bytes(head + tail)


def mutated(message: bytes, others: list) -> st.SearchStrategy[bytes]:
    return st.one_of(
        bit_flips(message),
        field_overwrites(message),
        buffer_field_lies(message),
        truncations(message),
        splices(message, others),
    )
