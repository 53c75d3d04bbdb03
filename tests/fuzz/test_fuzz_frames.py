"""Fuzzing the core before login: recorded frames whole, split, truncated, flipped and re-fielded.

Seeds are the frames of real smbclient and smbprotocol sessions (``corpus/``). The harness checks the
properties after every call (see ``harness.py``): no escaping exception, no hang, bounded memory, only
documented events, no internal error, and an answer or a close for every complete request frame.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.fuzz import corpus
from tests.support.fuzz import smb2_wire as wire

from . import mutations
from .budget import fuzz

SESSIONS = corpus.sessions()
ALL_FRAMES = corpus.all_frames()
LOGIN_PREFIXES = {name: corpus.login_prefix(frames) for name, frames in SESSIONS.items()}
STATUS_LOGON_FAILURE = 0xC000006D


def _outcome(result) -> list:
    return [(reply.command, reply.status) for reply in result.replies] + [type(e).__name__ for e in result.events]


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_recorded_session_replays_up_to_the_login_then_is_refused(new_target, name):
    """A replayed login answers another server's challenge: the core must refuse it, not crash or go quiet."""
    frames = SESSIONS[name]
    outcomes = []
    session_id = 0
    with new_target() as target:
        for frame in frames:
            # Point the recorded frames at the session this core handed out, so the refusal is about the proof.
            result = target.feed(wire.framed(corpus.rebind(frame[4:], session_id)) if session_id else frame)
            session_id = session_id or next((r.session_id for r in result.replies if r.session_id), 0)
            outcomes.append(_outcome(result))
    assert outcomes[0][0] == (wire.NEGOTIATE, 0), outcomes[0]
    setups = [o for f, o in zip(frames, outcomes) if corpus.first_command(f) == wire.SESSION_SETUP]
    assert setups[0] == [(wire.SESSION_SETUP, wire.STATUS_MORE_PROCESSING_REQUIRED)]
    # refused, and reported to the adapter, which counts it against the client's address
    assert setups[1] == [(wire.SESSION_SETUP, STATUS_LOGON_FAILURE), "LoginFailed"]
    # Everything after the refused login is refused too (no session), or ends the connection (encrypted frames).
    for outcome in outcomes[len(LOGIN_PREFIXES[name]) + 1 :]:
        assert (
            outcome == [] or outcome == ["ConnectionShouldClose"] or all(status != 0 for _command, status in outcome)
        ), outcome


@fuzz(40)
@given(name=st.sampled_from(sorted(LOGIN_PREFIXES)), data=st.data())
def test_any_split_of_the_stream_gives_the_same_answers(new_target, name, data):
    stream = b"".join(LOGIN_PREFIXES[name])
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1), max_size=40), label="cuts"))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    with new_target() as whole:
        expected = [_outcome(whole.feed(frame)) for frame in LOGIN_PREFIXES[name]]
    with new_target() as split:
        got = [o for piece in pieces for o in _outcome(split.feed(piece))]
    assert got == [o for outcome in expected for o in outcome]


def test_byte_by_byte_feeding_answers_like_whole_frames(new_target):
    prefix = LOGIN_PREFIXES["smbclient-smb3-sign"]
    with new_target() as whole:
        expected = [o for frame in prefix for o in _outcome(whole.feed(frame))]
    with new_target() as trickle:
        got = [o for byte in b"".join(prefix) for o in _outcome(trickle.feed(bytes([byte])))]
    assert got == expected and expected[0] == (wire.NEGOTIATE, 0)


@fuzz(500)
@given(data=st.data())
def test_mutated_recorded_frame_after_a_valid_prefix(new_target, data):
    """A real NEGOTIATE (+ first SESSION_SETUP) prefix, then one damaged recorded frame, with its length fixed."""
    name = data.draw(st.sampled_from(sorted(SESSIONS)), label="session")
    prefix = LOGIN_PREFIXES[name][: data.draw(st.integers(0, len(LOGIN_PREFIXES[name])), label="prefix length")]
    victim = data.draw(st.sampled_from(SESSIONS[name]), label="victim")[4:]
    damaged = data.draw(mutations.mutated(victim, [f[4:] for f in ALL_FRAMES]), label="damaged")
    # SMB over QUIC carries the same frames but refuses SMB1 and anything below 3.1.1.
    with new_target(transport=data.draw(st.sampled_from(["tcp", "quic"]), label="transport")) as target:
        for frame in prefix:
            target.feed(frame)
        result = target.feed(wire.framed(damaged))
        if target.closed is None:  # still open: it must go on answering a valid request
            echo = target.feed_frame(wire.header(wire.ECHO, 900) + b"\x04\x00\x00\x00")
            assert echo.replies or echo.events, "the core went silent after a malformed frame"
    assert result is not None


@fuzz(150)
@given(frame=st.sampled_from(ALL_FRAMES), keep=st.integers(0, 200), claimed=st.integers(0, 0xFFFFFF))
def test_truncated_frames_and_lying_length_prefixes(new_target, frame, keep, claimed):
    """A frame cut short under a length prefix that says more: the core must wait or close, never answer early.

    Any frame up to 64 KiB is waited for (the smallest limit, before login, is a little above that); a bigger
    one may be refused at once, and then the reason must say so.
    """
    body = frame[4 : 4 + keep]
    with new_target() as target:
        result = target.feed(b"\x00" + claimed.to_bytes(3, "big") + body)
        if claimed > len(body):
            assert not result.frames
            if claimed <= 64 * 1024:
                assert target.closed is None  # still waiting for the rest of the frame
            elif target.closed is not None:
                assert "exceeds max_frame_size" in target.closed, target.closed


@fuzz(150)
@given(stream=st.binary(max_size=600), chunk=st.integers(1, 64))
def test_random_bytes_in_random_chunks(new_target, stream, chunk):
    with new_target() as target:
        for start in range(0, len(stream), chunk):
            target.feed(stream[start : start + chunk])
            if target.closed is not None:
                break


@fuzz(100)
@given(data=st.data())
def test_many_frames_in_one_read(new_target, data):
    """Several recorded frames (some damaged) arriving in a single read, as after a stall on the network."""
    frames = data.draw(st.lists(st.sampled_from(ALL_FRAMES), min_size=2, max_size=12), label="frames")
    if data.draw(st.booleans(), label="damage one"):
        index = data.draw(st.integers(0, len(frames) - 1), label="index")
        frames[index] = wire.framed(data.draw(mutations.mutated(frames[index][4:], [f[4:] for f in frames])))
    with new_target() as target:
        target.feed(b"".join(frames))
