"""NDR (DCE/RPC transfer syntax 2.0, little endian) encoding and decoding, only the pieces srvsvc needs.

Alignment is relative to the start of the stub data, which DCE/RPC places 8-byte aligned in the PDU.
Embedded pointers are written as a referent id in place and their targets later, in order ("deferred"):
callers do that ordering themselves, which keeps this module small.
"""

from __future__ import annotations

import struct
from typing import Optional

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


class NDRError(ValueError):
    """The stub data is not what the operation's IDL says (maps to the ``nca_s_fault_ndr`` fault)."""


class NDRWriter:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._next_referent = 0x00020000

    def align(self, boundary: int) -> None:
        self._buffer.extend(b"\x00" * (-len(self._buffer) % boundary))

    def u16(self, value: int) -> None:
        self.align(2)
        self._buffer.extend(_U16.pack(value))

    def u32(self, value: int) -> None:
        self.align(4)
        self._buffer.extend(_U32.pack(value))

    def pointer(self, present: bool = True) -> None:
        """A unique/full pointer's referent id (0 for NULL); the caller writes the target later."""
        if present:
            self.u32(self._next_referent)
            self._next_referent += 4
        else:
            self.u32(0)

    def wide_string(self, text: str) -> None:
        """A conformant varying ``[string] wchar_t*`` target, NUL terminated."""
        encoded = text.encode("utf-16-le") + b"\x00\x00"
        count = len(encoded) // 2
        self.u32(count)  # maximum count
        self.u32(0)  # offset
        self.u32(count)  # actual count
        self._buffer.extend(encoded)

    def getvalue(self) -> bytes:
        return bytes(self._buffer)


class NDRReader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._offset = 0

    def align(self, boundary: int) -> None:
        self._offset += -self._offset % boundary

    def _take(self, size: int) -> memoryview:
        if self._offset + size > len(self._data):
            raise NDRError(f"stub data ends at byte {len(self._data)}, {self._offset + size} needed")
        chunk = self._data[self._offset : self._offset + size]
        self._offset += size
        return chunk

    def u32(self) -> int:
        self.align(4)
        return _U32.unpack(self._take(4))[0]

    def pointer(self) -> bool:
        """Read a referent id; True when the target follows."""
        return self.u32() != 0

    def wide_string(self, max_chars: int = 4096) -> str:
        maximum = self.u32()
        offset = self.u32()
        actual = self.u32()
        if offset != 0 or actual > maximum or actual > max_chars:
            raise NDRError(f"bad string header (max {maximum}, offset {offset}, actual {actual})")
        raw = bytes(self._take(actual * 2))
        try:
            return raw.decode("utf-16-le").rstrip("\x00")
        except UnicodeDecodeError:
            raise NDRError("string is not valid UTF-16") from None

    def optional_wide_string(self) -> Optional[str]:
        return self.wide_string() if self.pointer() else None
