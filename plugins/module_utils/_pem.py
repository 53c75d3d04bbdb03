# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to this collection: a PEM certificate's SHA-256 fingerprint, with the standard library only.

Its own small file so that a module needing only this (``pysmbd_host``) does not carry a whole backend.
"""

from __future__ import annotations

import base64
import hashlib
import re


def pem_certificate_sha256(text: str) -> str:
    """The SHA-256 fingerprint of the first certificate of a PEM text, as ``openssl x509 -fingerprint`` prints it."""
    match = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", text, re.S)
    if not match:
        raise ValueError("no PEM certificate")
    digest = hashlib.sha256(base64.b64decode("".join(match.group(1).split()), validate=True)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
