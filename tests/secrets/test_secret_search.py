"""The searcher itself: it must find a secret in every encoding it claims, wherever the secret sits."""

from __future__ import annotations

import base64

import pytest

from tests.secrets.secret_search import distinctive_password, search


@pytest.mark.parametrize("prefix", ["", "x", "xy", "xyz", "Basic "])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le"])
def test_base64_of_a_secret_inside_other_text_is_found_at_every_alignment(prefix, encoding):
    password = distinctive_password("Probe")
    blob = base64.b64encode(f"{prefix}user:{password}!".encode(encoding))
    findings = search({"password": password}, {"log": b"header " + blob + b" trailer"})
    assert findings and findings[0].form.startswith(f"base64({encoding.replace('-le', 'le')})")


@pytest.mark.parametrize(
    ("leak", "form"),
    [
        (lambda p: p.encode(), "plain"),
        (lambda p: p.encode("utf-16-le"), "utf-16le"),
        (lambda p: p.encode().hex().encode(), "hex"),
    ],
)
def test_plain_utf16_and_hex_leaks_are_found(leak, form):
    password = distinctive_password("Probe")
    findings = search({"password": password}, {"log": b"..." + leak(password) + b"..."})
    assert [f.form for f in findings] == [form]
    assert password not in str(findings[0])  # the report itself does not repeat the secret


def test_text_without_the_secret_gives_no_finding():
    password = distinctive_password("Probe")
    other = distinctive_password("Probe")
    assert search({"password": password}, {"log": other.encode() + base64.b64encode(other.encode())}) == []
