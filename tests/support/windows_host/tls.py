"""A self-signed certificate for the HTTPS listener, made at start with ``cryptography``.

The certificate names ``localhost`` and the listening address, so a client that trusts it (pywinrm's
``ca_trust_path``) validates the connection, and one that does not gets an SSLError, as against a
Windows host with a self-signed WinRM certificate.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertificateFiles:
    """PEM files of the certificate and key, and the certificate's SHA-256 over DER (for channel binding)."""

    cert_path: Path
    key_path: Path
    der_sha256: bytes


def generate_certificate(directory: Path, address: str, common_name: str = "localhost") -> CertificateFiles:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    alt_names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        bound = ipaddress.ip_address(address)
        if str(bound) not in ("127.0.0.1", "0.0.0.0", "::"):
            alt_names.append(x509.IPAddress(bound))
    except ValueError:
        alt_names.append(x509.DNSName(address))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "winrm-cert.pem"
    key_path = directory / "winrm-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    der_sha256 = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    return CertificateFiles(cert_path, key_path, der_sha256)
