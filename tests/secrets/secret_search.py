"""Look for a secret in everything a run left behind: plain, and in the encodings a leak would likely take.

A password can leak as itself, JSON- or shell-escaped (still contains itself for the passwords we generate,
which use only letters, digits, ``-`` and ``_``), URL-encoded (same), base64 of its UTF-8 or UTF-16LE bytes (a
PowerShell ``-EncodedCommand``, a Basic auth header, an NTLM blob dumped at -vvv), raw UTF-16LE bytes (a
binary log), or hex. Base64 of a substring depends on where it starts in the encoded stream, so each of the
three alignments is searched (without the characters at the edges, which depend on the neighbours).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List


def distinctive_password(label: str) -> str:
    """A password no other text here contains: letters, digits and '-' only, so escaping cannot hide it."""
    return f"{label}-{secrets.token_hex(6)}-Zq{secrets.token_hex(6)}"


def _base64_forms(data: bytes) -> List[bytes]:
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data)
        # Drop the characters that mix in bytes from before (the shift) or after (the end) the secret.
        start = (shift * 4 + 2) // 3
        stop = len(encoded) - 4  # the last quantum may include padding or the next byte
        if stop - start >= 8:
            forms.append(encoded[start:stop])
    return forms


def secret_forms(secret: str) -> Dict[str, bytes]:
    """Every byte string that would reveal ``secret``, by a name that says which encoding it is."""
    utf8 = secret.encode()
    utf16 = secret.encode("utf-16-le")
    forms = {"plain": utf8, "utf-16le": utf16, "hex": utf8.hex().encode(), "HEX": utf8.hex().upper().encode()}
    for index, form in enumerate(_base64_forms(utf8)):
        forms[f"base64(utf-8)@{index}"] = form
    for index, form in enumerate(_base64_forms(utf16)):
        forms[f"base64(utf-16le)@{index}"] = form
    return forms


@dataclass
class Finding:
    secret_name: str
    form: str
    where: str
    context: str

    def __str__(self) -> str:
        return f"{self.secret_name} found as {self.form} in {self.where}: ...{self.context}..."


def search(secrets_by_name: Dict[str, str], texts: Dict[str, bytes]) -> List[Finding]:
    """Every occurrence of every form of every secret in ``texts`` (name -> content)."""
    findings = []
    for secret_name, secret in secrets_by_name.items():
        for form_name, form in secret_forms(secret).items():
            for where, content in texts.items():
                at = content.find(form)
                if at >= 0:
                    context = content[max(0, at - 60) : at + len(form) + 20].decode("utf-8", "replace")
                    findings.append(Finding(secret_name, form_name, where, context.replace(secret, "<SECRET>")))
    return findings


def tasks_holding(results: Dict[str, Dict[str, dict]], secret: str) -> List[str]:
    """``task name: result keys`` for each task result (as a callback receives it) that holds ``secret``."""
    holders = []
    for task, hosts in results.items():
        for host, result in hosts.items():
            keys = sorted(key for key, value in result.items() if secret in json.dumps(value, default=str))
            if keys:
                holders.append(f"{task} [{host}]: {', '.join(keys)}")
    return holders


def read_tree(root: Path, skip: Iterable[Path] = ()) -> Dict[str, bytes]:
    """The content of every regular file under ``root`` except ``skip`` (the inputs that must hold the secret)."""
    skipped = {Path(p).resolve() for p in skip}
    texts = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.resolve() not in skipped:
            texts[str(path)] = path.read_bytes()
    return texts
