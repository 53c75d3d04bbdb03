# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide whether a QUIC server's certificate is trusted: chain to a CA file, and the name the client asked for.

This is a private module_utils file: its API may change without notice.

Why not leave it to qh3's handshake: qh3 sorts a CA file into trust anchors and drops every self-signed
certificate that carries a TLS extended key usage, so the self-signed certificate of a lab server (pysmbd's
``gen-cert``, Windows' ``New-SelfSignedCertificate``) given as the CA file is never trusted, though OpenSSL
and Windows trust such a certificate once it sits in their store. So the QUIC client lets the handshake
check only the server's proof of its key (CertificateVerify, which qh3 checks whatever the verify mode), and
calls this module before it sends a byte of SMB: every certificate of the CA file is an anchor, and qh3's
own verifier (rustls-webpki, the one its handshake uses) checks the chain, the dates and the name.
"""

from __future__ import annotations

import ssl
from typing import List, Optional, Sequence

try:
    from qh3._hazmat import ServerVerifier  # qh3's path builder; _hazmat is not semver-stable, hence qh3<3
except ImportError:  # _probe_quic reports the missing library
    ServerVerifier = None

_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"


def load_anchors(cafile: str) -> List[bytes]:
    """The DER form of every certificate in the PEM file ``cafile``; ValueError when there is none."""
    with open(cafile, encoding="ascii", errors="replace") as handle:
        text = handle.read()
    anchors = []
    start = text.find(_PEM_BEGIN)
    while start != -1:
        end = text.find(_PEM_END, start)
        if end == -1:
            break
        anchors.append(ssl.PEM_cert_to_DER_cert(text[start : end + len(_PEM_END)]))
        start = text.find(_PEM_BEGIN, end)
    if not anchors:
        raise ValueError("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)" % cafile)
    return anchors


def _verifies(anchors: Sequence[bytes], leaf: bytes, chain: Sequence[bytes], server_name: str) -> Optional[str]:
    """None when ``leaf`` (with the ``chain`` the server sent) chains to ``anchors`` for ``server_name``."""
    try:
        ServerVerifier(list(anchors)).verify(leaf, list(chain), server_name, b"")
    except Exception as exc:  # qh3 raises one class per reason (unacceptable, expired, self-signed, ...)
        return str(exc.args[0]) if exc.args else type(exc).__name__
    return None


def certificate_names(leaf: bytes) -> List[str]:
    """The DNS names and IP addresses in the certificate's subjectAltName (what a client may call it)."""
    from cryptography import x509

    try:
        names = x509.load_der_x509_certificate(leaf).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ValueError, x509.ExtensionNotFound):
        return []
    return [str(name) for name in names.value.get_values_for_type(x509.DNSName)] + [
        str(address) for address in names.value.get_values_for_type(x509.IPAddress)
    ]


def untrusted_reason(
    leaf: bytes, chain: Sequence[bytes], anchors: Sequence[bytes], server_name: str, source: str
) -> Optional[str]:
    """None when the certificate is trusted; otherwise why not, in words that point at the fix.

    ``source`` names the CA file in the message, which also lists the names the certificate carries,
    since a wrong CA file and a wrong name look alike to the verifier.
    """
    reason = _verifies(anchors, leaf, chain, server_name)
    if reason is None:
        return None
    names = certificate_names(leaf)
    return "the certificate (names: %s) is not trusted for the name %r by the CAs in %s: %s" % (
        ", ".join(names) if names else "none",
        server_name,
        source,
        reason,
    )
