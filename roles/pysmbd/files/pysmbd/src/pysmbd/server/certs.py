"""Self-signed certificates for SMB over QUIC (``pysmbd gen-cert``, the role and the tests).

SMB over QUIC always runs TLS 1.3, so a QUIC listener needs a certificate and its private key. A
production server should use one its clients trust (an internal CA); this file makes a self-signed
pair for labs, CI and first runs. Clients then trust it by its CA file (the certificate itself) or by
its SHA-256 fingerprint, which ``generate_self_signed`` returns so a caller can pin it.

The key is ECDSA P-256 (small and fast, accepted by every TLS 1.3 stack) and the certificate names
every host name and address it is given in its subjectAltName, as TLS clients check that and not the CN.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, List, Tuple, Union

if TYPE_CHECKING:
    from cryptography import x509

# cryptography is imported in the functions that use it: `pysmbd` starts for every check-config and reload of a
# port change, and importing cryptography would cost those commands more than all the rest of their work.

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
DEFAULT_DAYS = 825  # the longest validity Apple and browsers accept for a leaf; plenty for a lab


@dataclass(frozen=True)
class GeneratedCertificate:
    """Where a generated pair was written and how clients can pin it."""

    certificate: Path
    private_key: Path
    fingerprint_sha256: str
    """SHA-256 of the certificate (DER), lower-case hex with ``:`` between bytes."""


def _alt_name(name: str) -> Union[x509.DNSName, x509.IPAddress]:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def fingerprint_sha256(certificate_der: bytes) -> str:
    """The usual ``aa:bb:...`` form of a certificate's SHA-256 fingerprint."""
    return ":".join("%02x" % byte for byte in hashlib.sha256(certificate_der).digest())


def build_self_signed(names: Iterable[str] = DEFAULT_NAMES, *, days: int = DEFAULT_DAYS, key=None) -> tuple:
    """Return ``(certificate, private_key)`` objects for ``names`` (first one is the CN); nothing is written.

    ``key`` (a ``cryptography`` private key) is made, ECDSA P-256, when not given.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    name_list: List[str] = [name for name in names if name]
    if not name_list:
        raise ValueError("give at least one host name or address for the certificate")
    if key is None:
        key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name_list[0][:64])])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate a little clock skew
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([_alt_name(name) for name in name_list]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def generate_self_signed(
    certificate_path: Path, private_key_path: Path, names: Iterable[str] = DEFAULT_NAMES, *, days: int = DEFAULT_DAYS
) -> GeneratedCertificate:
    """Write a self-signed certificate and its key (mode 0600) as PEM files; return their fingerprint."""
    from cryptography.hazmat.primitives import serialization

    certificate, key = build_self_signed(names, days=days)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private_key_path.parent.mkdir(parents=True, exist_ok=True)
    certificate_path.parent.mkdir(parents=True, exist_ok=True)
    # Create the key file with its final mode, so it is never readable by others, not even for a moment.
    descriptor = os.open(private_key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_pem)
    os.chmod(private_key_path, 0o600)
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return GeneratedCertificate(
        certificate=certificate_path,
        private_key=private_key_path,
        fingerprint_sha256=fingerprint_sha256(certificate.public_bytes(serialization.Encoding.DER)),
    )


def read_pem_pair(certificate: Path, private_key: Path) -> Tuple[bytes, bytes]:
    """A listener's certificate chain and key as PEM, checked here: the chain as given, the key as unencrypted PKCS#8.

    qh3 reads PKCS#8 keys best and aborts the process on some malformed input (a Rust panic, which is not an
    Exception), so the files are parsed with ``cryptography`` first: a bad file raises ``ValueError`` (or
    ``TypeError`` for a key with a password, ``OSError`` for a missing file) that the listener reports.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    chain = certificate.read_bytes()
    x509.load_pem_x509_certificates(chain)  # ValueError when there is no PEM certificate
    key = serialization.load_pem_private_key(private_key.read_bytes(), password=None)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise ValueError(f"a {type(key).__name__} cannot sign TLS 1.3 here; use an ECDSA, RSA or Ed25519 key")
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, pkcs8


def add_gen_cert_parser(commands: argparse._SubParsersAction) -> None:
    """The ``pysmbd gen-cert`` verb, for ``cli.build_parser`` to register."""
    parser = commands.add_parser("gen-cert", help="write a self-signed certificate and key for QUIC listeners")
    parser.add_argument("--cert", required=True, type=Path, help="where to write the certificate (PEM)")
    parser.add_argument("--key", required=True, type=Path, help="where to write the private key (PEM, mode 0600)")
    parser.add_argument(
        "--name",
        action="append",
        dest="names",
        metavar="NAME",
        help="a host name or address clients use (repeat it); default: localhost, 127.0.0.1, ::1",
    )
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"validity in days (default {DEFAULT_DAYS})")
    parser.add_argument("--force", action="store_true", help="replace files that already exist")


def command_gen_cert(args: argparse.Namespace) -> int:
    """Write the pair; print its SHA-256 fingerprint (for verify's fingerprint_sha256). Exit 2 on bad input."""
    existing = [path for path in (args.cert, args.key) if path.exists()]
    if existing and not args.force:
        print(
            f"pysmbd gen-cert: {', '.join(map(str, existing))} already exists; pass --force to replace it",
            file=sys.stderr,
        )
        return 2
    if args.days < 1:
        print(f"pysmbd gen-cert: --days {args.days} must be at least 1", file=sys.stderr)
        return 2
    try:
        pair = generate_self_signed(args.cert, args.key, args.names or DEFAULT_NAMES, days=args.days)
    except ValueError as exc:
        print(f"pysmbd gen-cert: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pysmbd gen-cert: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"certificate {pair.certificate}\nprivate_key {pair.private_key}\nsha256 {pair.fingerprint_sha256}")
    return 0


__all__ = [
    "DEFAULT_NAMES",
    "GeneratedCertificate",
    "add_gen_cert_parser",
    "build_self_signed",
    "command_gen_cert",
    "fingerprint_sha256",
    "generate_self_signed",
]
