"""Coverage-guided fuzzing of pysmbd's protocol core with atheris (libFuzzer), for long runs.

Same target and properties as the hypothesis tests (``tests/support/fuzz/harness.py``): an exception, a hang
(5 s per call), unbounded memory, an internal error, bad framing or silence is a crash, and libFuzzer
saves the input as ``crash-<sha1>``.

Input layout: byte 0 chooses the mode (bit 0: log in first with a real in-process NTLM session and point
every SMB2 frame at it; bits 1-3: feed the rest in chunks of 2**n bytes, 0 = all at once); the rest is the
client's byte stream (Direct TCP framed). Seeds come from the recorded corpus::

    .venv/bin/pip install atheris
    .venv/bin/python bench/fuzz/atheris_core.py --make-seeds .tmp/atheris-seeds
    .venv/bin/python bench/fuzz/atheris_core.py .tmp/atheris-corpus .tmp/atheris-seeds \\
        -max_total_time=3600 -rss_limit_mb=2048 -timeout=30 -artifact_prefix=.tmp/atheris-

Replay one crash: ``.venv/bin/python bench/fuzz/atheris_core.py .tmp/atheris-crash-<sha1>``.

While a found defect awaits its fix, ``PYSMBD_FUZZ_KNOWN="UnicodeDecodeError;bytes of output"`` (substrings of
the failure text, ``;``-separated) lets a long run go on past it instead of stopping at the same crash again.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import atheris  # noqa: E402

with atheris.instrument_imports(include=["pysmbd"]):
    from tests.support.fuzz import corpus
    from tests.support.fuzz import smb2_wire as wire
    from tests.support.fuzz.harness import FuzzTarget, fuzz_context

WORK = Path(tempfile.mkdtemp(prefix="pysmbd-atheris-"))
KNOWN = [text for text in os.environ.get("PYSMBD_FUZZ_KNOWN", "").split(";") if text]
LOGIN = 0x01


def split_frames(stream: bytes) -> list:
    """Cut the input on Direct TCP framing; a trailing partial frame is kept as it is."""
    frames = []
    while len(stream) >= 4:
        end = 4 + int.from_bytes(stream[1:4], "big")
        frames.append(stream[:end])
        stream = stream[end:]
    if stream:
        frames.append(stream)
    return frames


def one_input(data: bytes) -> None:
    try:
        _run(data)
    except AssertionError as failure:
        if not any(text in str(failure) for text in KNOWN):
            raise


def _run(data: bytes) -> None:
    if not data:
        return
    mode, stream = data[0], data[1:]
    root = Path(tempfile.mkdtemp(dir=WORK))
    try:
        (root / "share").mkdir()
        with FuzzTarget(fuzz_context(root)) as target:
            if mode & LOGIN:
                session_id = target.login()
                target.tree_connect(session_id)
                rebound = []
                for frame in split_frames(stream):
                    body = frame[4:]
                    is_whole = len(frame) >= 4 and len(body) == int.from_bytes(frame[1:4], "big")
                    if is_whole:  # numbered after the login's MessageIds, which the core checks (MS-SMB2 3.3.5.2.3)
                        frame = wire.framed(target.number(corpus.rebind(body, session_id)))
                    rebound.append(frame)
                stream = b"".join(rebound)
            chunk = 1 << ((mode >> 1) & 0x7) if mode & 0x0E else len(stream) or 1
            for start in range(0, len(stream), chunk):
                target.feed(stream[start : start + chunk])
                if target.closed is not None:
                    break
    finally:
        shutil.rmtree(root, ignore_errors=True)


def make_seeds(directory: Path) -> None:
    """One seed per recorded session (its whole stream, pre-auth) and per post-login request (login mode)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frames in corpus.sessions().items():
        (directory / f"{name}.stream").write_bytes(b"\x00" + b"".join(frames))
        for index, message in enumerate(corpus.after_login(frames)):
            (directory / f"{name}-{index:03d}.login").write_bytes(bytes([LOGIN]) + wire.framed(message))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--make-seeds":
        make_seeds(Path(sys.argv[2]))
        return
    atheris.Setup(sys.argv, one_input)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
