"""The QUIC client's certificate decision: a CA-signed chain, a self-signed server certificate given as the CA
file (what lab servers use), the wrong CA, the wrong name, an expired certificate. Certificates are made here
with ``cryptography``; the verifier is qh3's own."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import List, Optional, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.smb.alternative_ports.plugins.module_utils._quic_trust import (
    certificate_names,
    load_anchors,
    untrusted_reason,
)

NOW = datetime.datetime.now(datetime.timezone.utc)


def _certificate(
    subject: str,
    *,
    names: List[str],
    issuer: Optional[Tuple[x509.Certificate, ec.EllipticCurvePrivateKey]] = None,
    ca: bool = False,
    days: Tuple[int, int] = (-1, 30),
) -> Tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signing_key = (issuer[0].subject, issuer[1]) if issuer else (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + datetime.timedelta(days=days[0]))
        .not_valid_after(NOW + datetime.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        alt = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names]
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256()), key


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


def _pem_file(path: Path, *certificates: x509.Certificate) -> str:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certificates))
    return str(path)


@pytest.fixture(scope="module")
def ca():
    return _certificate("Test Root CA", names=[], ca=True)


def test_a_leaf_signed_by_the_ca_in_the_file_is_trusted(tmp_path, ca) -> None:
    leaf, _key = _certificate("files", names=["files.example", "10.0.0.5"], issuer=ca)
    anchors = load_anchors(_pem_file(tmp_path / "ca.pem", ca[0]))
    assert untrusted_reason(_der(leaf), [], anchors, "files.example", "ca.pem") is None
    assert untrusted_reason(_der(leaf), [], anchors, "10.0.0.5", "ca.pem") is None


def test_a_self_signed_server_certificate_given_as_the_ca_file_is_trusted(tmp_path) -> None:
    # What pysmbd's gen-cert and New-SelfSignedCertificate make: not a CA, TLS server EKU. qh3's handshake
    # would drop it from the trust store; the client trusts it, as OpenSSL and Windows do.
    leaf, _key = _certificate("files", names=["files.example"])
    anchors = load_anchors(_pem_file(tmp_path / "cert.pem", leaf))
    assert untrusted_reason(_der(leaf), [], anchors, "files.example", "cert.pem") is None


def test_a_leaf_from_another_ca_is_refused_naming_the_file_and_the_names(tmp_path, ca) -> None:
    other = _certificate("Other CA", names=[], ca=True)
    leaf, _key = _certificate("files", names=["files.example"], issuer=other)
    anchors = load_anchors(_pem_file(tmp_path / "ca.pem", ca[0]))
    reason = untrusted_reason(_der(leaf), [], anchors, "files.example", "/etc/smb/ca.pem")
    assert reason is not None
    assert "/etc/smb/ca.pem" in reason and "names: files.example" in reason


def test_the_wrong_name_is_refused_even_from_the_right_ca(tmp_path, ca) -> None:
    leaf, _key = _certificate("files", names=["files.example"], issuer=ca)
    anchors = load_anchors(_pem_file(tmp_path / "ca.pem", ca[0]))
    reason = untrusted_reason(_der(leaf), [], anchors, "backup.example", "ca.pem")
    assert reason is not None and "'backup.example'" in reason


def test_an_expired_certificate_is_refused(tmp_path, ca) -> None:
    leaf, _key = _certificate("files", names=["files.example"], issuer=ca, days=(-30, -1))
    anchors = load_anchors(_pem_file(tmp_path / "ca.pem", ca[0]))
    assert untrusted_reason(_der(leaf), [], anchors, "files.example", "ca.pem") is not None


def test_an_intermediate_sent_by_the_server_completes_the_chain(tmp_path, ca) -> None:
    intermediate = _certificate("Issuing CA", names=[], issuer=ca, ca=True)
    leaf, _key = _certificate("files", names=["files.example"], issuer=intermediate)
    anchors = load_anchors(_pem_file(tmp_path / "ca.pem", ca[0]))
    assert untrusted_reason(_der(leaf), [], anchors, "files.example", "ca.pem") is not None
    assert untrusted_reason(_der(leaf), [_der(intermediate[0])], anchors, "files.example", "ca.pem") is None


def test_every_certificate_of_a_bundle_is_loaded(tmp_path, ca) -> None:
    other = _certificate("Other CA", names=[], ca=True)
    path = tmp_path / "bundle.pem"
    path.write_bytes(b"# a comment line\n" + ca[0].public_bytes(Encoding.PEM) + other[0].public_bytes(Encoding.PEM))
    assert load_anchors(str(path)) == [_der(ca[0]), _der(other[0])]


def test_a_file_without_a_certificate_is_an_error_naming_it(tmp_path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ValueError, match=r"key\.pem holds no PEM certificate"):
        load_anchors(str(path))


def test_certificate_names_lists_dns_names_and_addresses(ca) -> None:
    leaf, _key = _certificate("files", names=["files.example", "10.0.0.5"], issuer=ca)
    assert certificate_names(_der(leaf)) == ["files.example", "10.0.0.5"]
    assert certificate_names(_der(ca[0])) == []
