"""Minimal reproducers of the defects the fuzzing found, one test each (see the analysis in each docstring)."""

from __future__ import annotations

import os

from tests.support.fuzz import corpus
from tests.support.fuzz import smb2_wire as wire
from tests.support.fuzz.harness import PropertyViolation

STATUS_INSUFFICIENT_RESOURCES = 0xC000009A

MIB = 1024 * 1024


def _open_file(target, name: str = "big.bin") -> tuple:
    session_id = target.login()
    tree_id = target.tree_connect(session_id)
    (created,) = target.feed_frame(wire.create_request(30, session_id, tree_id, name)).replies
    assert created.status == 0, hex(created.status)
    return session_id, tree_id, created.body[64:80]


def test_compound_of_big_reads_keeps_direct_tcp_framing_valid(new_target):
    """Defect 1a: three 8 MiB READs in one compound give a 24 MiB response frame.

    The Direct TCP header has 24 bits of length (MS-SMB2 2.1); ``wire.frame`` packs the length with ``>I``,
    so any compound response over 16 MiB - 1 gets a non-zero first byte and the client sees garbage framing.
    The core must never build a response frame larger than it would accept itself (max_frame_size).
    """
    with new_target(max_frame_size=8 * MIB + 64 * 1024, max_io_size=8 * MIB) as target:
        session_id, tree_id, file_id = _open_file(target)
        os.truncate(target.context.shares["data"].path / "big.bin", 24 * MIB)  # sparse: costs no disk
        reads = [wire.read_request(40 + i, session_id, tree_id, file_id, 8 * MIB, i * 8 * MIB) for i in range(3)]
        result = target.feed_frame(wire.compound(*reads))  # raises if the server's framing is broken
        assert all(len(frame) <= target.context.max_frame_size for frame in result.frames)


def test_one_request_frame_cannot_make_the_server_buffer_many_frames_of_output(new_target):
    """Defect 1b: READ amplification through compounding (found by test_io_heavy_compounds_stay_within_the_output_bound).

    Eight 49-byte READs of 64 KiB in one 470-byte frame make the core queue 512 KiB at once, four times its
    own frame limit; with the default limits one 8 MiB frame of ~70,000 READs would queue ~70,000 x 8 MiB.
    No credit window stops it (the core grants up to 8192 credits and does not check MessageIds against
    them), and flow control in the adapter cannot help: the output exists before the first byte is written.
    """
    with new_target() as target:
        session_id, tree_id, file_id = _open_file(target)
        os.truncate(target.context.shares["data"].path / "big.bin", MIB)
        reads = [wire.read_request(40 + i, session_id, tree_id, file_id, 64 * 1024, 0) for i in range(8)]
        try:
            target.feed_frame(wire.compound(*reads))
        except PropertyViolation as violation:
            raise AssertionError(f"compound READ amplification: {violation}") from None


def test_named_pipe_output_queue_is_bounded(new_target):
    """Defect 2: a client that writes DCE/RPC requests to srvsvc and never reads grows the server's memory.

    ``RPCEndpoint`` appends every answer to an unbounded list; each 55 KiB WRITE of NetShareEnumAll requests
    (the one smbclient -L sends, from the corpus) queues ~165 KiB of answers. A server must refuse (or hold)
    writes once a pipe's unread output passes a bound, as a full Windows pipe does.
    """
    messages = corpus.after_login(corpus.sessions()["smbclient-list-shares"])
    tree_ipc, create_pipe, ioctl_bind, ioctl_enum = messages[:4]
    bind, enum_shares = ioctl_bind[120:192], ioctl_enum[120:212]  # the IOCTL input buffers: DCE/RPC PDUs
    with new_target() as target:
        session_id = target.login()
        (tree,) = target.feed_frame(corpus.rebind(tree_ipc, session_id)).replies
        (pipe,) = target.feed_frame(corpus.rebind(create_pipe, session_id)).replies
        assert (tree.status, pipe.status) == (0, 0)
        file_id = pipe.body[64:80]
        target.feed_frame(wire.write_request(100, session_id, tree.tree_id, file_id, bind))
        statuses = []
        for index in range(4):
            request = wire.write_request(101 + index, session_id, tree.tree_id, file_id, enum_shares * 600)
            statuses += [reply.status for reply in target.feed_frame(request).replies]
        # Once the unread answers fill the pipe, writes are refused.
        assert set(statuses) == {STATUS_INSUFFICIENT_RESOURCES}, [hex(status) for status in statuses]
        # The answers queued before the bound can be read; that drains the pipe, and it takes requests again.
        drained = 0
        for message_id in range(200, 300):
            (reply,) = target.feed_frame(
                wire.read_request(message_id, session_id, tree.tree_id, file_id, 65536)
            ).replies
            if reply.status != 0:
                break
            drained += 1
        assert drained > 1
        request = wire.write_request(300, session_id, tree.tree_id, file_id, enum_shares)
        assert [reply.status for reply in target.feed_frame(request).replies] == [0]


def test_odd_length_utf16_names_are_refused_not_internal_errors(new_target):
    """Defect 3 (found by atheris, ``bench/fuzz/atheris_core.py``): a name with an odd byte length.

    CREATE's NameLength, TREE_CONNECT's PathLength and QUERY_DIRECTORY's FileNameLength are byte counts of
    UTF-16LE text; an odd count makes ``wire.from_utf16`` raise UnicodeDecodeError, which only the core's
    catch-all stops: the client gets STATUS_INTERNAL_ERROR and the server logs a traceback. A malformed
    name is the client's error: STATUS_INVALID_PARAMETER (or OBJECT_NAME_INVALID), without a traceback.
    """
    with new_target() as target:
        session_id = target.login()
        tree_id = target.tree_connect(session_id)
        odd_create = bytearray(wire.create_request(40, session_id, tree_id, "ab"))
        odd_create[64 + 46 : 64 + 48] = (3).to_bytes(2, "little")  # NameLength 3 of the 4 bytes present
        odd_tree = bytearray(wire.tree_connect_request(41, session_id, "\\\\fuzz\\data"))
        odd_tree[64 + 6 : 64 + 8] = (len(odd_tree) - 72 - 1).to_bytes(2, "little")
        for request in (bytes(odd_create), bytes(odd_tree)):
            try:
                (reply,) = target.feed_frame(request).replies
            except PropertyViolation as violation:
                raise AssertionError(f"odd-length name: {violation}") from None
            assert reply.status in (0xC000000D, 0xC0000033), hex(reply.status)


def test_search_patterns_leave_no_memory_behind(new_target):
    """Defect 4 (found reading ``info._matches`` while choosing fuzz targets): search patterns are cached forever.

    QUERY_DIRECTORY matches names with ``fnmatch.fnmatchcase``, which compiles each distinct pattern once and
    keeps it in a process-wide LRU cache of 32,768 entries. A FileName of ~30 KB (15,000 characters, legal in
    the 16-bit FileNameLength) costs ~50 ms of CPU and ~0.25 MiB that stays after the connection closes; 32,768
    such requests pin ~8 GiB in the server, shared by every connection. A name component is at most 255
    characters, so a longer pattern can be refused (STATUS_OBJECT_NAME_INVALID) before any matching.
    Measured here as compiled regular expressions of the client's patterns still alive after the close.
    """
    import gc
    import re

    with new_target() as target:
        session_id = target.login()
        tree_id = target.tree_connect(session_id)
        directory = wire.create_request(30, session_id, tree_id, "", access=0x00100081, disposition=1, options=0x1)
        (opened,) = target.feed_frame(directory).replies
        assert opened.status == 0, hex(opened.status)
        file_id = opened.body[64:80]
        for index in range(5):
            pattern = f"*{index}QZ" * 300
            target.feed_frame(wire.query_directory_request(40 + index, session_id, tree_id, file_id, pattern))
        target.conn.close()
    gc.collect()
    left = [
        o
        for o in gc.get_objects()
        if isinstance(o, re.Pattern)
        and isinstance(o.pattern, str)
        and "qz" in o.pattern.lower()
        and len(o.pattern) > 900
    ]
    assert not left, f"{len(left)} compiled search patterns of a closed connection are still in memory"


def test_unpaired_surrogate_in_a_name_is_refused_not_an_internal_error(new_target):
    """Defect 5 (found by atheris): a CREATE name holding an unpaired UTF-16 surrogate (``fuzz\\ud97a.bin``).

    ``from_utf16`` decodes with ``surrogatepass``, so the lone surrogate survives into the str; ``fs.find_entry``
    then hands it to ``os.stat``, whose UTF-8 encoding (surrogateescape only covers U+DC80..U+DCFF) raises
    UnicodeEncodeError: STATUS_INTERNAL_ERROR and a traceback in the log. Such a name cannot exist on this
    filesystem: STATUS_OBJECT_NAME_INVALID (or OBJECT_NAME_NOT_FOUND for a plain open) is the answer.
    """
    with new_target() as target:
        session_id = target.login()
        tree_id = target.tree_connect(session_id)
        request = bytearray(wire.create_request(40, session_id, tree_id, "fuzzZ.bin"))
        request[120 + 8 : 120 + 10] = b"\x7a\xd9"  # the "Z" becomes U+D97A, a high surrogate with no partner
        try:
            (reply,) = target.feed_frame(bytes(request)).replies
        except PropertyViolation as violation:
            raise AssertionError(f"unpaired surrogate: {violation}") from None
        assert reply.status in (0xC0000033, 0xC0000034), hex(reply.status)


def test_a_file_name_that_is_not_utf8_does_not_hide_the_directory(new_target):
    """Defect 6 (found while checking defect 5 from the other side): a name on disk that is not UTF-8.

    ``os.listdir`` returns ``caf\\udce9.txt`` (surrogateescape) for a file created as ``b"caf\\xe9.txt"`` by any
    local program; encoding it to UTF-16 for the reply raises UnicodeEncodeError, so every QUERY_DIRECTORY of
    that directory fails with STATUS_INTERNAL_ERROR. Against a running pysmbd, ``smbclient -c ls`` prints
    ``NT_STATUS_NO_SUCH_FILE listing \\*``: one stray file makes the whole directory look empty. The other
    entries must still be listed (skipping or mangling the undecodable name, as Samba mangles it).
    """
    with new_target() as target:
        share = target.context.shares["data"].path
        os.close(os.open(os.path.join(os.fsencode(share), b"caf\xe9.txt"), os.O_CREAT | os.O_WRONLY, 0o644))
        session_id = target.login()
        tree_id = target.tree_connect(session_id)
        directory = wire.create_request(30, session_id, tree_id, "", access=0x00100081, disposition=1, options=0x1)
        (opened,) = target.feed_frame(directory).replies
        try:
            (listing,) = target.feed_frame(
                wire.query_directory_request(31, session_id, tree_id, opened.body[64:80], "*")
            ).replies
        except PropertyViolation as violation:
            raise AssertionError(f"undecodable file name: {violation}") from None
        assert listing.status == 0, hex(listing.status)
        assert "seed.txt".encode("utf-16-le") in listing.body
