"""Names compared as Windows compares them, and found without a directory scan per request."""

from __future__ import annotations

import os

import pytest

from pysmbd.core import names

from .test_locks_and_sharing import FULL
from .wire_helpers import write_request

STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("Report.TXT", "report.txt", True),
        ("ÉTÉ.doc", "été.DOC", True),
        ("straße", "STRASSE", False),  # casefold() would make these one name
        ("straße", "STRAßE", True),
        ("ﬁle", "FILE", False),  # the ligature upper-cases to two letters: kept as it is
    ],
)
def test_names_compare_per_character_upper_case(first, second, same):
    assert names.same_name(first, second) is same


def test_a_casefold_pair_stays_two_files(clients):
    first, _second = clients
    root = first.conn.context.shares["share"].path
    status, street = first.open("straße.txt", disposition=2, access=FULL)
    assert status == 0
    assert first.send(write_request, street, b"kept").status == 0
    status, _other = first.open("STRASSE.txt", disposition=5, access=FULL)  # OVERWRITE_IF
    assert status == 0
    assert (root / "straße.txt").read_bytes() == b"kept"
    assert sorted(path.name for path in root.iterdir() if path.name != "data.bin") == ["STRASSE.txt", "straße.txt"]


def test_missing_names_are_looked_up_without_a_scan_each(clients, monkeypatch):
    """100 CREATEs of missing names once meant 100 scans of the directory (5.5 s at 200,000 entries)."""
    first, _second = clients
    root = first.conn.context.shares["share"].path
    for index in range(500):
        (root / f"entry{index:04}.bin").write_bytes(b"")
    scans = []
    real_listdir = os.listdir
    monkeypatch.setattr(names.os, "listdir", lambda fd: scans.append(fd) or real_listdir(fd))
    for index in range(100):
        assert first.open(f"missing{index}.txt", disposition=1)[0] == STATUS_OBJECT_NAME_NOT_FOUND
    assert first.open("ENTRY0042.BIN", disposition=1)[0] == 0  # found ignoring case
    for index in range(20):  # creating files through pysmbd keeps the index current
        assert first.open(f"New{index}.txt", disposition=2, access=FULL)[0] == 0
        assert first.open(f"NEW{index}.TXT", disposition=1)[0] == 0
    assert len(scans) <= 2


def test_a_file_added_on_the_server_is_found_ignoring_case(clients):
    first, _second = clients
    root = first.conn.context.shares["share"].path
    assert first.open("LATER.TXT", disposition=1)[0] == STATUS_OBJECT_NAME_NOT_FOUND  # indexes the directory
    (root / "later.txt").write_bytes(b"x")
    stamp = os.stat(root).st_mtime_ns
    os.utime(root, ns=(stamp, stamp + 1_000_000_000))  # as a later change would (timestamps are coarse)
    assert first.open("LATER.TXT", disposition=1)[0] == 0
