"""Direct TCP framing on the receive side: cut the byte stream into frames with few copies.

The adapter asks for a buffer (``get_buffer``), reads into it (``recv_into``) and says how much it
got (``buffer_updated``), as an ``asyncio.BufferedProtocol`` does. Small frames are gathered in a
staging buffer and copied out one by one; once a frame's header says it is bigger than what has
arrived, the frame gets a buffer of its own and the rest of it is read straight into that buffer,
so an 8 MiB WRITE costs no copy at all on the way in. The staging buffer exists only while bytes wait
in it, so an idle connection holds none; between reads it goes back to a small process-wide spare list
(``_spare_staging``), since zeroing a fresh 64 KiB for every small request cost more than the request's checks.

Every frame buffer has ``TAG_ROOM`` spare bytes behind the frame: decryption puts the transform
header's tag there, so ciphertext and tag are contiguous without joining them into a new buffer.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

STAGING_SIZE = 64 * 1024  # below glibc's mmap threshold: reused from the heap, cheap to get again
TAG_ROOM = 16
SPARE_STAGING_KEEP = 8
_spare_staging: list[bytearray] = []
"""Staging buffers no connection holds now (their content is garbage); at most ``SPARE_STAGING_KEEP``."""


def _take_staging(size: int) -> bytearray:
    if size == STAGING_SIZE and _spare_staging:
        return _spare_staging.pop()
    return bytearray(size)


def _give_staging(buffer: bytearray) -> None:
    if len(buffer) == STAGING_SIZE and len(_spare_staging) < SPARE_STAGING_KEEP:
        _spare_staging.append(buffer)


class BufferPool:
    """A few large buffers kept for reuse by one connection.

    A fresh 8 MiB buffer costs 2048 page faults and a memset each time (about as much as decrypting it);
    during a bulk transfer each frame and each decrypted message can reuse the buffer of one before.
    ``clear`` gives the memory back when the transfer is over.
    """

    KEEP = 3

    def __init__(self) -> None:
        self._free: list[bytearray] = []
        self.kept = 0
        """Bytes of the buffers kept (counted in the connection's memory)."""

    def take(self, size: int) -> bytearray:
        """A buffer of at least ``size`` bytes (its content is garbage)."""
        for index, buffer in enumerate(self._free):
            if len(buffer) >= size:
                self.kept -= len(buffer)
                return self._free.pop(index)
        return bytearray(size)

    def give(self, buffer: bytearray) -> None:
        """Take back a buffer nobody refers to any more."""
        if len(self._free) < self.KEEP:
            self._free.append(buffer)
            self.kept += len(buffer)

    def clear(self) -> None:
        self._free.clear()
        self.kept = 0


class FramingError(Exception):
    """The stream is not Direct TCP framing, or announces a frame above the limit."""


class FrameTooLarge(FramingError):
    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"frame of {length} bytes exceeds the limit of {limit} bytes")
        self.length = length
        self.limit = limit


class Frame(NamedTuple):
    buffer: bytearray
    """``length`` bytes of frame, then at least ``TAG_ROOM`` spare bytes."""
    length: int


class FrameReceiver:
    """Assembles frames from reads of any size; the 4-byte Direct TCP header is checked and dropped."""

    def __init__(self, pool: BufferPool, staging_size: int = STAGING_SIZE) -> None:
        self._pool = pool
        self._staging_size = staging_size
        self._staging: Optional[bytearray] = None
        self._start = 0
        self._end = 0
        self._frame: Optional[bytearray] = None  # the big frame being filled, when there is one
        self._frame_length = 0
        self._frame_filled = 0

    @property
    def buffered(self) -> int:
        """Bytes received and not yet handed out as a frame."""
        return self._end - self._start + self._frame_filled

    @property
    def allocated(self) -> int:
        """Bytes of receive buffers held: the staging buffer, and a large frame's whole buffer from its header on."""
        staging = len(self._staging) if self._staging is not None else 0
        return staging + (len(self._frame) if self._frame is not None else 0)

    def get_buffer(self) -> memoryview:
        """Where the next read may write (never past the end of a big frame)."""
        if self._frame is not None:
            return memoryview(self._frame)[self._frame_filled : self._frame_length]
        if self._staging is None:
            self._staging = _take_staging(self._staging_size)
        elif self._start:
            # Only a partial frame header (< 4 bytes) can be left here: move it to the front.
            left = self._end - self._start
            self._staging[:left] = self._staging[self._start : self._end]
            self._start, self._end = 0, left
        return memoryview(self._staging)[self._end :]

    def buffer_updated(self, count: int) -> None:
        """``count`` bytes were written at the start of the last ``get_buffer()``."""
        if self._frame is not None:
            self._frame_filled += count
        else:
            self._end += count

    def next_frame(self, limit: int) -> Optional[Frame]:
        """The next complete frame, or None until more bytes arrive; FramingError when the stream is broken."""
        if self._frame is not None:
            if self._frame_filled < self._frame_length:
                return None
            done = Frame(self._frame, self._frame_length)
            self._frame, self._frame_length, self._frame_filled = None, 0, 0
            return done
        available = self._end - self._start
        staging = self._staging
        if available < 4 or staging is None:
            if not available:
                self._drop_staging()
                self._start = self._end = 0
            return None
        start = self._start
        if staging[start] != 0:
            raise FramingError("malformed Direct TCP framing (first byte is not zero)")
        length = int.from_bytes(staging[start + 1 : start + 4], "big")
        if length > limit:
            raise FrameTooLarge(length, limit)
        have = min(available - 4, length)
        if have == length:
            buffer = bytearray(length + TAG_ROOM)
            buffer[:have] = memoryview(staging)[start + 4 : start + 4 + have]
            self._start = start + 4 + length
            if self._start == self._end:
                self._start = self._end = 0
                self._drop_staging()
            return Frame(buffer, length)
        # Everything staged belongs to this frame: the rest goes straight into its own (possibly larger) buffer.
        buffer = self._pool.take(length + TAG_ROOM)
        buffer[:have] = memoryview(staging)[start + 4 : start + 4 + have]
        self._start = self._end = 0
        self._drop_staging()
        self._frame, self._frame_length, self._frame_filled = buffer, length, have
        return None

    def _drop_staging(self) -> None:
        if self._staging is not None:
            _give_staging(self._staging)
            self._staging = None

    def clear(self) -> None:
        self._start = self._end = 0
        self._drop_staging()
        self._frame, self._frame_length, self._frame_filled = None, 0, 0
