"""Unit tests of how verify's SMB over QUIC client cuts the stream into messages (``_StreamBuffer``).

qh3 hands the stream over in pieces of any size, cut anywhere; smbprotocol asks for a 4-byte length, then for a
message of that length. Whatever the cuts, every message must come out whole and in order, also when a wait for one
ends early (a timeout) and it is asked for again.
"""

from __future__ import annotations

import random
import struct

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._smb_over_quic import _StreamBuffer


def framed(messages: list) -> bytes:
    return b"".join(struct.pack(">L", len(message)) + message for message in messages)


def test_a_message_already_here_is_joined_and_the_next_one_starts_inside_the_last_piece() -> None:
    stream = _StreamBuffer()
    for piece in (b"abc", b"defgh", b"ij"):
        stream.add(piece)
    assert stream.pop(4) == b"abcd"
    assert stream.buffered == 6
    assert stream.pop(6) == b"efghij"
    assert stream.buffered == 0


def test_a_message_asked_for_before_it_arrives_is_assembled_as_it_comes() -> None:
    stream = _StreamBuffer()
    stream.add(b"12")
    stream.expect(10)
    for piece in (b"345", b"6789", b"0NEXT"):
        stream.add(piece)
    message = stream.pop(10)
    assert message == b"1234567890"
    assert isinstance(message, bytearray)  # what smbprotocol's own TCP transport hands it
    assert stream.pop(4) == b"NEXT"


def test_a_wait_that_ends_early_keeps_what_was_assembled_for_the_next_ask() -> None:
    stream = _StreamBuffer()
    stream.expect(8)
    stream.add(b"half")
    stream.abandon()  # the reader timed out
    assert stream.buffered == 4
    stream.add(b"full")
    stream.expect(8)  # everything is here now: nothing to assemble
    assert stream.pop(8) == b"halffull"


@pytest.mark.parametrize("seed", range(20))
def test_any_cuts_and_early_ends_give_back_every_message_whole(seed: int) -> None:
    rng = random.Random(seed)
    messages = [rng.randbytes(rng.choice([0, 1, 63, 64, 65, 1000, 70_000])) for _message in range(12)]
    data = framed(messages)
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 60))))
    pieces = [data[start:end] for start, end in zip([0, *cuts], [*cuts, len(data)])]
    stream = _StreamBuffer()

    def take(count: int):
        """What the driver's ``take`` does, with the network replaced by the list of pieces and a random timeout."""
        while True:
            stream.expect(count)
            while stream.buffered < count and pieces:
                if rng.random() < 0.1:
                    stream.abandon()
                    break
                stream.add(pieces.pop(0))
            else:
                return stream.pop(count) if stream.buffered >= count else None

    received = []
    while True:
        prefix = take(4)
        if prefix is None:
            break
        received.append(bytes(take(struct.unpack(">L", prefix)[0])))
    assert received == messages
    assert stream.buffered == 0
