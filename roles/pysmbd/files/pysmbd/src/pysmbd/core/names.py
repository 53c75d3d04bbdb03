"""Case-insensitive names as Windows compares them, and a per-directory index to find them without a scan.

Windows compares file names by upper-casing each character on its own (the volume's upcase table): a
character whose upper case would be longer stays as it is, so ``straße`` and ``STRASSE`` are two names, where
``str.casefold`` would make them one (an OVERWRITE_IF of one once truncated the other). Python's per-character
``upper()`` stands for the upcase table here; the two agree on every letter a file name commonly holds
(assumed: NTFS's table is not published as data).

A client that opens a name missing on disk under its exact spelling makes us look for it ignoring case. A
scan per lookup cost 55 ms in a 200,000-entry directory (100 CREATEs of missing names in one compound held
every client for 5.5 s), so each directory looked up this way gets an index, upper-cased name to stored
name, rebuilt only when the directory's modification time moves; the changes pysmbd makes itself are applied
to the index in place, so a client creating, renaming or deleting cannot force a rebuild per request. The
index holds at most ``MAX_INDEXED_DIRECTORIES`` directories, least recently used dropped first.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field

MAX_INDEXED_DIRECTORIES = 32


def windows_upper(name: str) -> str:
    """Upper-case each character alone, keeping those whose upper case is longer (``ß`` stays ``ß``)."""
    upper = name.upper()
    if len(upper) == len(name):  # no character expanded (upper() never shrinks one)
        return upper
    return "".join(char if len(char.upper()) != 1 else char.upper() for char in name)


def same_name(first: str, second: str) -> bool:
    return windows_upper(first) == windows_upper(second)


@dataclass
class _Index:
    mtime_ns: int
    names: dict = field(default_factory=dict)
    """windows_upper(name) -> the name as stored (the first one listed, should two differ only in case)."""


class DirectoryIndex:
    """Upper-cased names of recently searched directories, keyed by (st_dev, st_ino)."""

    def __init__(self, capacity: int = MAX_INDEXED_DIRECTORIES) -> None:
        self._indexes: collections.OrderedDict[tuple[int, int], _Index] = collections.OrderedDict()
        self._capacity = capacity

    def find(self, dir_fd: int, name: str) -> str | None:
        """The stored name equal to ``name`` ignoring case, or None."""
        st = os.fstat(dir_fd)
        key = (st.st_dev, st.st_ino)
        index = self._indexes.get(key)
        if index is None or index.mtime_ns != st.st_mtime_ns:
            index = _Index(st.st_mtime_ns)
            for entry in os.listdir(dir_fd):
                index.names.setdefault(windows_upper(entry), entry)
            self._indexes[key] = index
            while len(self._indexes) > self._capacity:
                self._indexes.popitem(last=False)
        self._indexes.move_to_end(key)
        return index.names.get(windows_upper(name))

    def changed(self, dir_fd: int, *, added: str | None = None, removed: str | None = None) -> None:
        """Apply a change pysmbd itself made in a directory, so that its new time does not force a rebuild."""
        st = os.fstat(dir_fd)
        index = self._indexes.get((st.st_dev, st.st_ino))
        if index is None:
            return
        if removed is not None and index.names.get(windows_upper(removed)) == removed:
            del index.names[windows_upper(removed)]
        if added is not None:
            index.names.setdefault(windows_upper(added), added)
        index.mtime_ns = st.st_mtime_ns


directories = DirectoryIndex()
"""The process's index (the core is single-threaded: every lookup runs on the event loop)."""
