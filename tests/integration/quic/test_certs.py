"""``pysmbd.server.certs``: the self-signed pair the role and the tests give a QUIC listener, checked with openssl."""

from __future__ import annotations

import shutil
import stat
import subprocess

import pytest

from pysmbd.server.certs import generate_self_signed


def openssl(*args: str) -> str:
    tool = shutil.which("openssl")
    if tool is None:
        pytest.fail("openssl is missing: install the Debian package openssl (apt-get install openssl)")
    done = subprocess.run([tool, *args], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_generated_pair_is_valid_private_and_pinnable(tmp_path) -> None:
    pair = generate_self_signed(tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem", ["files.lab", "10.0.0.5"])
    assert stat.S_IMODE(pair.private_key.stat().st_mode) == 0o600
    # openssl trusts it as its own CA, for the names it was made for.
    cafile = str(pair.certificate)
    assert "OK" in openssl("verify", "-CAfile", cafile, "-verify_hostname", "files.lab", cafile)
    assert "OK" in openssl("verify", "-CAfile", cafile, "-verify_ip", "10.0.0.5", cafile)
    text = openssl("x509", "-in", cafile, "-noout", "-text")
    assert "DNS:files.lab" in text and "IP Address:10.0.0.5" in text
    assert "TLS Web Server Authentication" in text
    # The fingerprint we return is the one openssl prints (the form admins paste into fingerprint_sha256).
    printed = openssl("x509", "-in", cafile, "-noout", "-fingerprint", "-sha256").strip().split("=", 1)[1]
    assert printed.lower() == pair.fingerprint_sha256
    # The key belongs to the certificate.
    assert openssl("pkey", "-in", str(pair.private_key), "-pubout") == openssl(
        "x509", "-in", cafile, "-noout", "-pubkey"
    )


def test_a_name_the_certificate_does_not_carry_fails_openssl(tmp_path) -> None:
    pair = generate_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem", ["files.lab"])
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(pair.certificate), "-verify_hostname", "other.lab", str(pair.certificate)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "hostname mismatch" in (done.stdout + done.stderr)


def test_no_names_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="at least one host name"):
        generate_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem", [])
