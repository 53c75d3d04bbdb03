"""Fuzzing the core after a real login: every command handler sees damaged requests from real clients.

The login is real NTLM, done in process by pyspnego's client against the core (no sockets). The recorded
sessions' later requests are then replayed against that session (their SessionId rewritten, signatures
dropped: the fuzz context does not require signing), one of them damaged, and the rest replayed after it.
"""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from tests.support.fuzz import corpus
from tests.support.fuzz import smb2_wire as wire

from . import mutations
from .budget import fuzz

# Sessions whose requests are readable (not encrypted) after the login.
SESSIONS = {name: frames for name, frames in corpus.sessions().items() if corpus.after_login(frames)}
MIB = 1024 * 1024
LARGE = 256 * 1024  # pysmbd.core.files.LARGE_IO: the size from which the core hands IO to the executor
TEMPLATES = [message for frames in SESSIONS.values() for message in corpus.after_login(frames)]


def test_recorded_requests_replay_cleanly_after_an_in_process_login(new_target):
    """The baseline the fuzzing starts from: every recorded request of every session succeeds or fails politely."""
    for name, frames in SESSIONS.items():
        # The recordings were made against a server offering 8 MiB transfers: against the fuzz context's 64 KiB,
        # their 8 MiB QUERY_DIRECTORY would rightly be refused (OutputBufferLength above MaxTransactSize).
        with new_target(max_io_size=8 * MIB, max_frame_size=8 * MIB + 64 * 1024) as target:
            session_id = target.login(negotiate=corpus.negotiates(frames))
            statuses = [
                reply.status
                for message in corpus.after_login(frames)
                for reply in target.feed_frame(corpus.rebind(message, session_id)).replies
            ]
            assert target.closed is None, (name, target.closed)
            assert statuses.count(0) >= len(statuses) - 2, (name, [hex(s) for s in statuses])


@fuzz(400)
@given(data=st.data())
def test_one_damaged_request_in_a_real_session(new_target, data):
    name = data.draw(st.sampled_from(sorted(SESSIONS)), label="session")
    messages = corpus.after_login(SESSIONS[name])
    index = data.draw(st.integers(0, len(messages) - 1), label="damaged index")
    with new_target() as target:
        session_id = target.login(negotiate=corpus.negotiates(SESSIONS[name]))
        rebound = [corpus.rebind(m, session_id) for m in messages]
        damaged = data.draw(mutations.mutated(rebound[index], TEMPLATES), label="damaged")
        for message in rebound[:index]:
            target.feed_frame(message)
        target.feed_frame(damaged)
        for message in rebound[index + 1 :]:
            if target.closed is not None:
                break
            target.feed_frame(message)


@fuzz(250)
@given(data=st.data())
def test_random_compounds_of_real_requests(new_target, data):
    """Chains of recorded requests with random related flags and NextCommand values, some damaged."""
    with new_target() as target:
        session_id = target.login()
        target.tree_connect(session_id)
        count = data.draw(st.integers(2, 8), label="members")
        members = []
        for _member in range(count):
            message = corpus.rebind(data.draw(st.sampled_from(TEMPLATES), label="member"), session_id)
            if data.draw(st.integers(0, 3), label="damage?") == 0:
                message = data.draw(mutations.field_overwrites(message), label="damaged member")
            if data.draw(st.booleans(), label="related"):
                message = message[:16] + bytes([message[16] | wire.FLAG_RELATED]) + message[17:]
            members.append(message)
        target.feed_frame(wire.compound(*members))


@fuzz(120)
@given(
    reads=st.integers(1, 64),
    length=st.sampled_from((0, 1, 4096, 32 * 1024, 64 * 1024, 64 * 1024 + 1)),
    offset=st.sampled_from((0, 1, 60_000, 2**31, 2**63 - 1)),
    writes=st.integers(0, 3),
)
def test_io_heavy_compounds_stay_within_the_output_bound(new_target, reads, length, offset, writes):
    """READs and WRITEs of every size in one compound: the answer must stay well framed and bounded."""
    with new_target() as target:
        session_id = target.login()
        tree_id = target.tree_connect(session_id)
        (created,) = target.feed_frame(wire.create_request(30, session_id, tree_id, "big.bin")).replies
        assert created.status == 0, hex(created.status)
        file_id = created.body[64:80]
        target.feed_frame(wire.write_request(31, session_id, tree_id, file_id, b"z" * 60_000, offset=70_000))
        chain = [wire.write_request(40 + i, session_id, tree_id, file_id, b"w" * 1000, 1000 * i) for i in range(writes)]
        chain += [wire.read_request(50 + i, session_id, tree_id, file_id, length, offset) for i in range(reads)]
        target.feed_frame(wire.compound(*chain))


@fuzz(60)
@given(
    names=st.lists(
        st.sampled_from(
            [
                "..",
                "..\\outside.txt",
                "../outside.txt",
                "a\\..\\..\\x",
                "\\\\?\\c:",
                "",
                "x:y",
                "seed.txt:s",
                "con",
                "a" * 300,
                "\x00",
                "sub\\..\\..\\outside.txt",
            ]
        ),
        min_size=1,
        max_size=6,
    )
)
def test_create_names_never_reach_outside_the_share(new_target, names):
    """Hostile names in CREATE: the fixture fails if anything outside the share appears, vanishes or changes."""
    with new_target() as target:
        session_id = target.login()
        tree_id = target.tree_connect(session_id)
        for index, name in enumerate(names):
            request = bytearray(wire.create_request(60 + index, session_id, tree_id, name))
            struct.pack_into("<I", request, 64 + 40, 5)  # FILE_OVERWRITE_IF: as destructive as a create gets
            target.feed_frame(bytes(request))


def test_half_open_sessions_and_opens_stay_within_the_limits(new_target):
    """A client that starts sessions and never finishes them, and opens files without closing them."""
    import spnego

    with new_target() as target:
        session_id = target.login()
        tree_id = target.tree_connect(session_id)
        first_leg = spnego.client("x", "y", protocol="negotiate").step()
        half_open = [
            target.feed_frame(wire.session_setup_request(100 + i, 0, first_leg)).replies[0].status for i in range(20)
        ]
        limit = target.context.max_sessions_per_connection
        assert half_open[: limit - 1] == [wire.STATUS_MORE_PROCESSING_REQUIRED] * (limit - 1)
        assert all(status not in (0, wire.STATUS_MORE_PROCESSING_REQUIRED) for status in half_open[limit - 1 :])
        opened = [
            target.feed_frame(wire.create_request(200 + i, session_id, tree_id, f"f{i}")).replies[0].status
            for i in range(target.context.max_opens_per_connection + 5)
        ]
        assert opened.count(0) == target.context.max_opens_per_connection
        assert opened[-1] == 0xC000009A  # STATUS_INSUFFICIENT_RESOURCES


ENCRYPTED = [f[4:] for frames in corpus.sessions().values() for f in frames if f[4:8] == wire.TRANSFORM_MAGIC]


@fuzz(100)
@given(data=st.data())
def test_damaged_transforms_for_a_live_session_close_the_connection(new_target, data):
    """Encrypted frames (recorded, so under another key) aimed at a real session: never decrypted, never silent."""
    transform = bytearray(data.draw(st.sampled_from(ENCRYPTED), label="transform"))
    with new_target() as target:
        session_id = target.login()
        struct.pack_into("<Q", transform, 44, session_id)  # SMB2 TRANSFORM_HEADER.SessionId
        damaged = data.draw(mutations.mutated(bytes(transform), ENCRYPTED), label="damaged")
        result = target.feed_frame(damaged)
        assert target.closed is not None or result.replies, "a transform frame got no answer and no close"


@fuzz(200)
@given(data=st.data())
def test_random_sequences_of_real_requests_across_sessions(new_target, data):
    """Requests out of their order: after LOGOFF, after TREE_DISCONNECT, on a second session, on a closed file."""
    with new_target() as target:
        sessions = [target.login()]
        target.tree_connect(sessions[0])
        for step in range(data.draw(st.integers(3, 25), label="steps")):
            action = data.draw(st.sampled_from(["request", "request", "request", "login", "logoff", "echo"]))
            session_id = data.draw(st.sampled_from(sessions), label="session")
            if action == "login" and len(sessions) < 4:
                sessions.append(target.login_more())
            elif action == "logoff":
                target.feed_frame(wire.header(2, 500 + step, session_id=session_id) + b"\x04\x00\x00\x00")
            elif action == "echo":
                target.feed_frame(wire.header(wire.ECHO, 500 + step, session_id=session_id) + b"\x04\x00\x00\x00")
            else:
                template = data.draw(st.sampled_from(TEMPLATES), label="template")
                target.feed_frame(corpus.rebind(template, session_id))
            if target.closed is not None:
                break


@fuzz(150)
@given(data=st.data())
def test_deferred_io_with_requests_arriving_meanwhile(new_target, data):
    """The adapter's worker-thread IO: READ/WRITE finish later, other (some damaged) requests queue behind them.

    Every request must still be answered exactly once when the IO has finished, and nothing may be lost.
    """
    # READ/WRITE from 256 KiB on are deferred (files.LARGE_IO), so this test allows 1 MiB IO.
    with new_target(deferred_io=True, max_io_size=MIB, max_frame_size=MIB + 64 * 1024) as target:
        session_id = target.login()
        tree_id = target.tree_connect(session_id)
        (created,) = target.feed_frame(wire.create_request(30, session_id, tree_id, "io.bin")).replies
        file_id = created.body[64:80]
        for step in range(data.draw(st.integers(1, 12), label="steps")):
            kind = data.draw(st.sampled_from(["read", "write", "template", "complete"]), label="kind")
            if kind == "complete":
                target.complete_io()
                continue
            if kind == "read":
                size = data.draw(st.sampled_from((0, 4096, LARGE, LARGE + 1, MIB)), label="read size")
                message = wire.read_request(100 + step, session_id, tree_id, file_id, size)
            elif kind == "write":
                size = data.draw(st.sampled_from((1, LARGE, MIB)), label="write size")
                message = wire.write_request(100 + step, session_id, tree_id, file_id, b"d" * size)
            else:
                message = corpus.rebind(data.draw(st.sampled_from(TEMPLATES), label="template"), session_id)
            if data.draw(st.integers(0, 4), label="damage?") == 0:
                message = data.draw(mutations.mutated(message, TEMPLATES), label="damaged")
            target.feed_frame(message)
            if target.closed is not None:
                return
        target.complete_io()  # the harness fails here if any request is still unanswered


@fuzz(200)
@given(data=st.data())
def test_signed_session_with_damaged_or_forged_requests(new_target, data):
    """A session that requires signing (3.1.1, AES-CMAC): damage before signing (authentic garbage reaches the
    handlers) or after it (a forgery, which must be refused and answered, never executed silently)."""
    name = data.draw(st.sampled_from(sorted(SESSIONS)), label="session")
    messages = corpus.after_login(SESSIONS[name])
    index = data.draw(st.integers(0, len(messages) - 1), label="damaged index")
    forge = data.draw(st.booleans(), label="damage after signing")
    with new_target(require_signing=True) as target:
        session_id = target.login(negotiate=corpus.negotiates(SESSIONS[name]))
        rebound = [corpus.rebind(m, session_id) for m in messages]
        for message in rebound[:index]:
            target.feed_frame(target.sign(message, session_id) if len(message) >= 64 else message)
        victim = rebound[index]
        if forge:
            damaged = data.draw(mutations.mutated(target.sign(victim, session_id), TEMPLATES), label="forged")
        else:
            damaged = data.draw(mutations.mutated(victim, TEMPLATES), label="damaged")
            damaged = target.sign(damaged, session_id) if len(damaged) >= 64 else damaged
        target.feed_frame(damaged)
