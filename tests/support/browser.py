"""Look at a page the way a person does: Debian's Chromium, headless, and the colours of its screenshot.

``chromium`` must be installed (Debian package ``chromium``); a test that needs it fails with that name when it is
missing, never skips. Every run gets its own profile directory and the flags that keep Chromium off the network
(no component updates, sync, QUIC or background requests), so the page is shown exactly as it is on disk.
"""

from __future__ import annotations

import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from tests.support.peers import require_tool

_FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _chromium(page: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    chromium = require_tool("chromium", "chromium")
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        done = subprocess.run(
            [chromium, *_FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    assert done.returncode == 0, f"chromium failed on {page}:\n{done.stderr[-3000:]}"
    return done


def dump_dom(page: Path) -> str:
    """The DOM after Chromium loaded and laid out ``page``, serialized (``--dump-dom``)."""
    return _chromium(page, "--dump-dom").stdout


def screenshot(page: Path, out: Path, size: Tuple[int, int] = (1100, 800)) -> Path:
    """A PNG of ``page`` at ``size`` pixels, written to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    _chromium(page, f"--window-size={size[0]},{size[1]}", f"--screenshot={out}")
    assert out.exists() and out.stat().st_size > 0, f"chromium wrote no screenshot to {out}"
    return out


class _ElementCollector(HTMLParser):
    """Every start tag with its attributes, in document order, and the text inside each one."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: List[Dict[str, Optional[str]]] = []
        self._open: List[int] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.elements.append({"tag": tag, **dict(attrs), "_text": "", "_parents": list(self._open)})
        if tag not in ("meta", "br", "img", "link", "input"):
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag) -> None:
        while self._open:
            if self.elements[self._open.pop()]["tag"] == tag:
                break

    def handle_data(self, data) -> None:
        for index in self._open:
            self.elements[index]["_text"] += data


def elements(dom: str) -> List[Dict[str, Optional[str]]]:
    """The elements of a serialized DOM as dicts: ``tag``, its attributes, ``_text`` and ``_parents`` (indexes)."""
    collector = _ElementCollector()
    collector.feed(dom)
    return collector.elements


def png_colours(path: Path) -> Counter:
    """How many pixels of each (r, g, b) colour an 8-bit RGB or RGBA, non-interlaced PNG has (what Chromium
    writes). Enough of a decoder to ask "does the page show this colour, and about how much of it"."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    offset, header, idat = 8, None, b""
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, colour_type, _compression, _filter, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, f"unsupported PNG layout {header}"
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    counts: Counter = Counter()
    for row in range(height):
        start = row * (stride + 1)
        line = bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(raw[start], line, previous, channels)
        for x in range(0, stride, channels):
            counts[(line[x], line[x + 1], line[x + 2])] += 1
        previous = line
    return counts


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        upper_left = previous[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            estimate = left + up - upper_left
            distances = (abs(estimate - left), abs(estimate - up), abs(estimate - upper_left))
            nearest = (left, up, upper_left)[distances.index(min(distances))]
            line[i] = (line[i] + nearest) & 0xFF


def hex_colour(text: str) -> Tuple[int, int, int]:
    """``#b7e1b0`` as (183, 225, 176)."""
    text = text.lstrip("#")
    return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
