"""The recorded corpus (``tests/fuzz/corpus/<session>/NNN.bin``, written by ``bench/fuzz/record_corpus.py``).

Each file is one client->server frame, Direct TCP length prefix included, in the order the client sent it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Dict, List

from . import smb2_wire as wire

CORPUS_DIR = Path(__file__).resolve().parents[2] / "fuzz" / "corpus"  # tests/fuzz/corpus
ALL_FF_SESSION = 0xFFFFFFFFFFFFFFFF


def sessions() -> Dict[str, List[bytes]]:
    """Every recorded session's frames, framed, in order."""
    found = {
        directory.name: [path.read_bytes() for path in sorted(directory.glob("*.bin"))]
        for directory in sorted(CORPUS_DIR.iterdir())
        if directory.is_dir()
    }
    if not found or not all(found.values()):
        raise AssertionError(f"the fuzz corpus in {CORPUS_DIR} is missing; run bench/fuzz/record_corpus.py")
    return found


def all_frames() -> List[bytes]:
    return [frame for frames in sessions().values() for frame in frames]


def first_command(framed: bytes) -> int:
    payload = framed[4:]
    return wire.HEADER.unpack_from(payload)[4] if payload[:4] == wire.SMB2_MAGIC else -1


def negotiates(frames: List[bytes]) -> List[bytes]:
    """The leading NEGOTIATE messages of a session (an SMB1 one first when the client offered SMB1), unframed."""
    out = []
    for framed in frames:
        if first_command(framed) not in (wire.NEGOTIATE, -1) or framed[4:8] == wire.TRANSFORM_MAGIC:
            break
        out.append(framed[4:])
    return out


def login_prefix(frames: List[bytes]) -> List[bytes]:
    """The frames up to the core's acceptance point: NEGOTIATE (and SMB1 NEGOTIATE) and the first SESSION_SETUP.

    The recorded second SESSION_SETUP answers another server's challenge, so the core rightly refuses it.
    """
    prefix: List[bytes] = []
    for framed in frames:
        command = first_command(framed)
        prefix.append(framed)
        if command == wire.SESSION_SETUP:
            return prefix
        if command not in (wire.NEGOTIATE, -1):
            break
    return prefix


def after_login(frames: List[bytes]) -> List[bytes]:
    """The unencrypted messages (no length prefix) that follow the last SESSION_SETUP of a session."""
    last_setup = max((i for i, f in enumerate(frames) if first_command(f) == wire.SESSION_SETUP), default=-1)
    return [f[4:] for f in frames[last_setup + 1 :] if f[4:8] == wire.SMB2_MAGIC]


def rebind(message: bytes, session_id: int) -> bytes:
    """Point every member of a (compound) message at our session and drop its signature.

    Tree and file ids need no rewriting: the core hands them out in order, as it did when recording.
    """
    out = bytearray(message)
    offset = 0
    while len(out) - offset >= wire.HEADER_SIZE and out[offset : offset + 4] == wire.SMB2_MAGIC:
        flags, next_command = struct.unpack_from("<II", out, offset + 16)
        (recorded,) = struct.unpack_from("<Q", out, offset + 40)
        if recorded not in (0, ALL_FF_SESSION):
            struct.pack_into("<Q", out, offset + 40, session_id)
        struct.pack_into("<I", out, offset + 16, flags & ~wire.FLAG_SIGNED)
        out[offset + 48 : offset + 64] = bytes(16)
        if not next_command or offset + next_command >= len(out):
            break
        offset += next_command
    return bytes(out)
