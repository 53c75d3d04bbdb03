"""The NTLM acceptor workaround: Samba-style NTLMv2 responses (no trailing zeros after the blob) log in."""

from __future__ import annotations

import os
import struct

import pytest
import spnego
from spnego import _ntlm
from spnego._ntlm_raw.crypto import hmac_md5, ntowfv2
from spnego._ntlm_raw.messages import (
    Authenticate,
    AvFlags,
    AvId,
    Challenge,
    FileTime,
    NegotiateFlags,
    NTClientChallengeV2,
)
from spnego.exceptions import InvalidTokenError, SpnegoError

from pysmbd.core import ntlm_acceptor
from pysmbd.core.ntlm_acceptor import AnonymousLogon, NtlmAcceptor
from pysmbd.core.users import nt_hash

USER, DOMAIN, PASSWORD = "alice", "WORKGROUP", "S3cret!"


def lookup(name: str):
    return nt_hash(PASSWORD) if name.lower() == USER else None


def samba_style_authenticate(
    challenge_token: bytes, password: str, *, user: str = USER, announce_mic: bool = False
) -> tuple[bytes, bytes]:
    """An AUTHENTICATE message built the way Samba's client builds it; returns (token, session key).
    ``announce_mic`` sets "MIC provided" in MsvAvFlags but leaves the MIC out of the message (what an attacker
    relaying a login does: MS-NLMP 3.2.5.1.2)."""
    challenge = Challenge.unpack(challenge_token)
    av_pairs = challenge.target_info
    if announce_mic:
        av_pairs[AvId.flags] = AvFlags.mic
    blob = NTClientChallengeV2(
        time_stamp=FileTime.now(), client_challenge=os.urandom(8), av_pairs=av_pairs
    ).pack()  # no Z(4) after the AV pairs: this is what pyspnego 0.12.4 gets wrong
    key = ntowfv2(user, nt_hash(password), DOMAIN)
    proof = hmac_md5(key, challenge.server_challenge + blob)
    flags = challenge.flags & ~NegotiateFlags.key_exch
    auth = Authenticate(flags, b"\x00" * 24, proof + blob, DOMAIN, user, "CLIENT")
    token = _without_mic_field(auth.pack()) if announce_mic else auth.pack()
    return token, hmac_md5(key, proof)


def _without_mic_field(token: bytes) -> bytes:
    """The same AUTHENTICATE message laid out with no Version and no MIC field: payload from byte 64."""
    auth = Authenticate.unpack(token)
    encoding = "utf-16-le"
    payload = [
        auth.lm_challenge_response or b"",
        auth.nt_challenge_response or b"",
        (auth.domain_name or "").encode(encoding),
        (auth.user_name or "").encode(encoding),
        (auth.workstation or "").encode(encoding),
        b"",
    ]
    fields, offset = b"", 64
    for value in payload:
        fields += struct.pack("<HHI", len(value), len(value), offset)
        offset += len(value)
    return b"NTLMSSP\x00" + struct.pack("<I", 3) + fields + struct.pack("<I", auth.flags) + b"".join(payload)


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


def test_a_mic_announced_but_missing_is_rejected_even_with_the_right_password():
    acceptor = NtlmAcceptor(lookup, protocol="ntlm")
    token, _expected = samba_style_authenticate(exchange_until_authenticate(acceptor), PASSWORD, announce_mic=True)
    with pytest.raises(InvalidTokenError, match="MIC"):
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
