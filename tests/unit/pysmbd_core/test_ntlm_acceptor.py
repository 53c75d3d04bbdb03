"""The NTLM acceptor workaround: Samba-style NTLMv2 responses (no trailing zeros after the blob) log in."""

from __future__ import annotations

import os

import pytest
import spnego
from spnego import _ntlm
from spnego._ntlm_raw.crypto import hmac_md5, ntowfv2
from spnego._ntlm_raw.messages import Authenticate, Challenge, FileTime, NegotiateFlags, NTClientChallengeV2
from spnego.exceptions import InvalidTokenError, SpnegoError

from pysmbd.core import ntlm_acceptor
from pysmbd.core.ntlm_acceptor import AnonymousLogon, NtlmAcceptor
from pysmbd.core.users import nt_hash

USER, DOMAIN, PASSWORD = "alice", "WORKGROUP", "S3cret!"


def lookup(name: str):
    return nt_hash(PASSWORD) if name.lower() == USER else None


def samba_style_authenticate(challenge_token: bytes, password: str, *, user: str = USER) -> tuple[bytes, bytes]:
    """An AUTHENTICATE message built the way Samba's client builds it; returns (token, session key)."""
    challenge = Challenge.unpack(challenge_token)
    blob = NTClientChallengeV2(
        time_stamp=FileTime.now(), client_challenge=os.urandom(8), av_pairs=challenge.target_info
    ).pack()  # no Z(4) after the AV pairs: this is what pyspnego 0.12.4 gets wrong
    key = ntowfv2(user, nt_hash(password), DOMAIN)
    proof = hmac_md5(key, challenge.server_challenge + blob)
    flags = challenge.flags & ~NegotiateFlags.key_exch
    auth = Authenticate(flags, b"\x00" * 24, proof + blob, DOMAIN, user, "CLIENT")
    return auth.pack(), hmac_md5(key, proof)


def exchange_until_authenticate(acceptor: NtlmAcceptor) -> bytes:
    client = spnego.client(USER, PASSWORD, protocol="ntlm")
    return acceptor.step(client.step())


def test_samba_style_response_is_accepted():
    acceptor = NtlmAcceptor(lookup, protocol="ntlm")
    token, session_key = samba_style_authenticate(exchange_until_authenticate(acceptor), PASSWORD)
    acceptor.step(token)
    assert acceptor.complete
    assert acceptor.user == f"{DOMAIN}\\{USER}"
    assert acceptor.session_key == session_key


def test_samba_style_response_with_wrong_password_is_rejected():
    acceptor = NtlmAcceptor(lookup, protocol="ntlm")
    token, _expected = samba_style_authenticate(exchange_until_authenticate(acceptor), "wrong")
    with pytest.raises(InvalidTokenError):
        acceptor.step(token)


def test_unknown_user_is_rejected():
    acceptor = NtlmAcceptor(lookup, protocol="ntlm")
    token, _expected = samba_style_authenticate(exchange_until_authenticate(acceptor), PASSWORD, user="mallory")
    with pytest.raises(SpnegoError):
        acceptor.step(token)


def test_pyspnego_client_still_logs_in_through_spnego():
    acceptor = NtlmAcceptor(lookup)
    client = spnego.client(USER, PASSWORD, protocol="negotiate")
    token = client.step()
    while not (acceptor.complete and client.complete):
        token = acceptor.step(token)
        if token is None:
            break
        token = client.step(token)
        if token is None:
            break
    assert acceptor.complete and client.complete
    assert acceptor.session_key == client.session_key


def test_anonymous_is_reported_separately():
    acceptor = NtlmAcceptor(lookup, protocol="ntlm")
    exchange_until_authenticate(acceptor)
    with pytest.raises(AnonymousLogon):
        acceptor.step(Authenticate(0, b"\x00", b"", "", "", "CLIENT").pack())


def test_patches_are_inert_outside_the_acceptor(tmp_path, monkeypatch):
    """Other users of pyspnego in the process (pywinrm, smbprotocol) see pyspnego's own behaviour."""
    store = tmp_path / "ntlm_users"
    store.write_text(f"{DOMAIN}:{USER}:{PASSWORD}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(store))
    assert _ntlm._get_credential_file() == str(store)
    assert _ntlm._get_credential(str(store), DOMAIN, USER)[3] == nt_hash(PASSWORD)


def test_pyspnego_still_needs_the_workaround(monkeypatch):
    """Fails once pyspnego checks the proof over the blob as received: then delete the workaround."""
    acceptor = NtlmAcceptor(lookup, protocol="ntlm")
    token, _expected = samba_style_authenticate(exchange_until_authenticate(acceptor), PASSWORD)
    monkeypatch.setattr(_ntlm, "compute_response_v2", ntlm_acceptor.ORIGINAL_COMPUTE_RESPONSE_V2)
    with pytest.raises(InvalidTokenError, match="Invalid NTLM response"):
        acceptor.step(token)
