"""Who may use the host: the users file, NTLM (pyspnego's acceptor) and Basic.

The users file has one ``DOMAIN:user:password`` line per account (``NTLM_USER_FILE``'s format; an
empty DOMAIN is an account a client names without a domain, e.g. ``:vagrant:secret``). Blank lines
and lines starting with ``#`` are ignored; the password may contain colons.

pyspnego's NTLM acceptor reads its credentials from the file named by the process-wide
``NTLM_USER_FILE`` environment variable. Several hosts may run in one test process, each with its
own users, so every acceptor step runs under one lock with the variable pointing at this host's
file (written in smbpasswd form, so any password works).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import spnego
from spnego._ntlm_raw.crypto import ntowfv1  # the NT hash; hashlib's md4 is gone from OpenSSL 3
from spnego._ntlm_raw.messages import Authenticate, AvId, NTClientChallengeV2
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

_NTLM_ENV_LOCK = threading.Lock()


@dataclass(frozen=True)
class HostUser:
    """An account on the emulated host.

    ``upn_suffix`` (``corp.example.com``) lets a domain account also sign in as ``user@corp.example.com``.
    A local account is the built-in Administrator (RID 500) when it is named Administrator; any other local
    account is a local administrator whose network logons UAC filters (LocalAccountTokenFilterPolicy).
    """

    name: str
    password: str
    domain: str = ""
    upn_suffix: str = ""

    @property
    def principal(self) -> str:
        return f"{self.domain}\\{self.name}" if self.domain else self.name

    @property
    def upn(self) -> str:
        return f"{self.name}@{self.upn_suffix}" if self.upn_suffix else ""

    @property
    def is_filtered_local_admin(self) -> bool:
        """A local administrator other than the built-in one: remote admin needs LocalAccountTokenFilterPolicy=1."""
        return not self.domain and self.name.lower() != "administrator"


class AuthenticationFailed(Exception):
    """Bad credentials, an unknown user or a broken token: answered with 401."""


def parse_users(text: str, source: str = "users file") -> list[HostUser]:
    users = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(":", 2)
        if len(fields) != 3 or not fields[1]:
            raise ValueError(f"{source}:{number}: expected DOMAIN:user:password (DOMAIN may be empty)")
        users.append(HostUser(name=fields[1], password=fields[2], domain=fields[0]))
    if not users:
        raise ValueError(f"{source}: no users; add a line such as ':vagrant:secret'")
    return users


def load_users(path: str | Path) -> list[HostUser]:
    return parse_users(Path(path).read_text(encoding="utf-8"), str(path))


def write_ntlm_store(users: list[HostUser], path: Path) -> None:
    """Write the acceptor's credential store (smbpasswd lines: name:uid:LM:NT:flags:LCT)."""
    lines = []
    for uid, user in enumerate(users, start=1000):
        nt_hash = ntowfv1(user.password).hex().upper()
        # A local account also answers to ".\user", the Windows spelling of "this machine's account".
        names = [user.principal] if user.domain else [user.name, f".\\{user.name}"]
        if user.upn:
            names.append(user.upn)  # pyspnego's client sends a UPN as the user name with an empty domain
        lines.extend(f"{name}:{uid}:{'0' * 32}:{nt_hash}:[U          ]:LCT-00000000" for name in names)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


@contextlib.contextmanager
def _user_store(path: Path) -> Iterator[None]:
    with _NTLM_ENV_LOCK:
        previous = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = str(path)
        try:
            yield
        finally:
            if previous is None:
                del os.environ["NTLM_USER_FILE"]
            else:
                os.environ["NTLM_USER_FILE"] = previous


CBT_MODES = ("relaxed", "strict", "none")


def sends_channel_bindings(token: bytes) -> bool:
    """True when an NTLM AUTHENTICATE message carries a channel-bindings hash (MsvAvChannelBindings)."""
    try:
        auth = Authenticate.unpack(token)
        response = auth.nt_challenge_response or b""
        if len(response) <= 24:
            return False  # NTLMv1: no AV pairs at all
        pairs = NTClientChallengeV2.unpack(response[16:]).av_pairs
    except (ValueError, TypeError, IndexError, KeyError, struct.error):
        return True  # not a well-formed AUTHENTICATE message: let the acceptor judge it strictly
    return AvId.channel_bindings in pairs and pairs[AvId.channel_bindings] != b"\x00" * 16


class NtlmAcceptor:
    """One NTLM handshake and, once complete, the message-encryption context of one TCP connection.

    Channel binding over HTTPS follows Windows' ``CbtHardeningLevel``: ``relaxed`` (Windows' default)
    checks the binding a client sends and accepts a client that sends none; ``strict`` requires it;
    ``none`` ignores it.
    """

    def __init__(self, store: Path, channel_bindings: GssChannelBindings | None, cbt_mode: str = "relaxed") -> None:
        if cbt_mode not in CBT_MODES:
            raise ValueError(f"channel binding mode {cbt_mode!r}: use one of {', '.join(CBT_MODES)}")
        self._store = store
        self._bindings = None if cbt_mode == "none" else channel_bindings
        self._strict = cbt_mode == "strict"
        with _user_store(store):
            self._context = spnego.server(protocol="ntlm")

    @property
    def complete(self) -> bool:
        return self._context.complete

    @property
    def user(self) -> str:
        return self._context.client_principal or ""

    def step(self, token: bytes) -> bytes | None:
        """Feed a client token; return the token to send back (a challenge) or None when done."""
        bindings = self._bindings
        if bindings is not None and not self._strict and not sends_channel_bindings(token):
            bindings = None
        try:
            with _user_store(self._store):
                return self._context.step(token, channel_bindings=bindings)
        except (SpnegoError, ValueError, TypeError, IndexError, KeyError, struct.error) as error:
            # pyspnego raises plain parsing errors for tokens that are not NTLM at all
            raise AuthenticationFailed(f"NTLM authentication failed: {error}") from None

    def unwrap(self, signature: bytes, data: bytes) -> bytes:
        return self._context.unwrap_winrm(signature, data)

    def wrap(self, data: bytes) -> tuple[bytes, bytes]:
        wrapped = self._context.wrap_winrm(data)
        return wrapped.header, wrapped.data


def check_basic(users: list[HostUser], header_value: str) -> str:
    """Check an ``Authorization: Basic`` value; return the user's principal."""
    try:
        decoded = base64.b64decode(header_value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("malformed Basic credentials") from None
    name, _colon, password = decoded.partition(":")
    domain, _backslash, bare = name.rpartition("\\")
    for user in users:
        if user.upn and not domain and bare.lower() == user.upn.lower():
            if hmac.compare_digest(user.password.encode(), password.encode()):
                return user.principal
            continue
        local_alias = domain == "." and not user.domain
        if user.name.lower() == bare.lower() and (not domain or local_alias or user.domain.lower() == domain.lower()):
            if hmac.compare_digest(user.password.encode(), password.encode()):
                return user.principal
    raise AuthenticationFailed("wrong user name or password")


def find_user(users: list[HostUser], principal: str) -> HostUser | None:
    """The account an authenticated principal (``DOMAIN\\user``, ``user``, ``.\\user`` or a UPN) names."""
    wanted = principal.lower()
    for user in users:
        names = {user.principal.lower(), user.upn.lower()}
        if not user.domain:
            names.add(f".\\{user.name}".lower())
        if wanted in names - {""}:
            return user
    return None
