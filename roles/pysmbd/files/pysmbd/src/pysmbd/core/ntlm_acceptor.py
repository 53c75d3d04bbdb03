"""NTLM acceptance through pyspnego, with the one workaround pyspnego 0.12 needs for Samba clients.

Why this file exists: pyspnego's acceptor (``NTLMProxy._step_accept_authenticate``) does not check the
client's NTProofStr over the NTLMv2 blob it received. It unpacks the blob, packs it again and appends
4 zero bytes, then compares whole responses. Samba's smbclient sends no trailing zeros (a 214-byte
blob where pyspnego builds 218), so every smbclient login fails with "Invalid NTLM response from
initiator", even with the right password.

The fix, kept here and nowhere else: while our acceptor processes an AUTHENTICATE message, a context
variable holds the blob exactly as received and ``compute_response_v2`` computes the proof over it
(MS-NLMP 3.3.2: NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp), temp as sent).
The same context variable supplies the user's NT hash from our users file instead of pyspnego's
``NTLM_USER_FILE`` environment variable (process-wide, and strict about the client's domain).
Outside our acceptor both patched functions behave exactly as pyspnego's own.

A MIC that the client's MsvAvFlags announce is required (pyspnego checks it only when present). Two
smaller adjustments live here too: anonymous (null session) logons, which pyspnego refuses, are
reported as ``AnonymousLogon`` so the caller can grant a guest session where a share allows it; and the
"request-mic" state pyspnego puts in its first answer is softened (see ``_without_mic_request``).

``tests/unit/pysmbd_core/test_ntlm_acceptor.py`` proves the unpatched pyspnego still has the bug; when it
fails, pyspnego is fixed and this module can shrink to a plain ``spnego.server`` call.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import spnego
from spnego import _ntlm
from spnego._ntlm_raw.crypto import hmac_md5
from spnego._ntlm_raw.messages import Authenticate, AvFlags, AvId, NTClientChallengeV2
from spnego._spnego import NegState, NegTokenResp, unpack_token
from spnego.exceptions import ErrorCode, InvalidTokenError, SpnegoError

NtHashLookup = Callable[[str], Optional[bytes]]


class AnonymousLogon(Exception):
    """The client sent an anonymous (null session) AUTHENTICATE message."""

    def __init__(self, flags: int = 0, encrypted_session_key: bytes = b"") -> None:
        super().__init__("anonymous logon")
        self.flags = flags
        self.encrypted_session_key = encrypted_session_key


@dataclass
class _AcceptState:
    lookup: NtHashLookup
    raw_blob: Optional[bytes] = None
    user: str = ""
    domain: str = ""


_STATE: contextvars.ContextVar[Optional[_AcceptState]] = contextvars.ContextVar("pysmbd_ntlm_accept", default=None)

ORIGINAL_GET_CREDENTIAL_FILE = _ntlm._get_credential_file
ORIGINAL_GET_CREDENTIAL = _ntlm._get_credential
ORIGINAL_COMPUTE_RESPONSE_V2 = _ntlm.compute_response_v2
ORIGINAL_STEP_ACCEPT_AUTHENTICATE = _ntlm.NTLMProxy._step_accept_authenticate


def _get_credential_file():
    if _STATE.get() is None:
        return ORIGINAL_GET_CREDENTIAL_FILE()
    return "pysmbd-users-file"  # a marker: _get_credential below reads our users file instead


def _get_credential(store, domain=None, username=None):
    state = _STATE.get()
    if state is None:
        return ORIGINAL_GET_CREDENTIAL(store, domain, username)
    nt = state.lookup(username or "")
    if nt is None:
        raise SpnegoError(ErrorCode.failure, context_msg="unknown user")
    return domain, username, b"\x00" * 16, nt


def _compute_response_v2(nt_hash, server_challenge, client_challenge, time, av_pairs):
    state = _STATE.get()
    if state is None or state.raw_blob is None:
        return ORIGINAL_COMPUTE_RESPONSE_V2(nt_hash, server_challenge, client_challenge, time, av_pairs)
    blob = state.raw_blob
    nt_proof = hmac_md5(nt_hash, server_challenge + blob)
    lm_response = hmac_md5(nt_hash, server_challenge + client_challenge) + client_challenge
    return nt_proof + blob, lm_response, hmac_md5(nt_hash, nt_proof)


def _step_accept_authenticate(self, token, channel_bindings):
    state = _STATE.get()
    if state is not None:
        auth = Authenticate.unpack(token)
        state.user = auth.user_name or ""
        state.domain = auth.domain_name or ""
        nt_response = auth.nt_challenge_response or b""
        if not state.user and len(nt_response) == 0:
            raise AnonymousLogon(auth.flags, auth.encrypted_random_session_key or b"")
        if len(nt_response) <= 24:  # LM and NTLMv1 are too weak to accept
            raise InvalidTokenError(context_msg="only NTLMv2 responses are accepted")
        state.raw_blob = nt_response[16:] if len(nt_response) > 24 else None
        _require_announced_mic(auth, state.raw_blob)
    return ORIGINAL_STEP_ACCEPT_AUTHENTICATE(self, token, channel_bindings)


def _require_announced_mic(auth: Authenticate, blob: bytes) -> None:
    """A client whose MsvAvFlags say "MIC provided" must send one (MS-NLMP 3.2.5.1.2): without this check an
    attacker who strips the MIC from a relayed AUTHENTICATE passes, since pyspnego verifies only a MIC present."""
    try:
        av_pairs = NTClientChallengeV2.unpack(blob).av_pairs
    except Exception as error:  # a blob we cannot read cannot authenticate either
        raise InvalidTokenError(context_msg="malformed NTLMv2 response") from error
    if av_pairs.get(AvId.flags, 0) & AvFlags.mic and not (auth.mic and any(auth.mic)):
        raise InvalidTokenError(context_msg="the MIC announced in MsvAvFlags is missing")


_ntlm._get_credential_file = _get_credential_file
_ntlm._get_credential = _get_credential
_ntlm.compute_response_v2 = _compute_response_v2
_ntlm.NTLMProxy._step_accept_authenticate = _step_accept_authenticate


@contextlib.contextmanager
def _accepting(state: _AcceptState) -> Iterator[None]:
    token = _STATE.set(state)
    try:
        yield
    finally:
        _STATE.reset(token)


def _without_mic_request(answer: Optional[bytes]) -> Optional[bytes]:
    """Turn pyspnego's "request-mic" into "accept-incomplete".

    pyspnego asks for a mechListMIC whenever NTLM is chosen; a client that then logs in anonymously
    (smbclient -N) insists on a MIC back, which a null session has no key to compute. Clients that
    can compute one (NTLMv2 with a MIC in AUTHENTICATE) still exchange MICs without being asked.
    """
    if not answer:
        return answer
    try:
        response = unpack_token(answer)
    except Exception:
        return answer
    if isinstance(response, NegTokenResp) and response.neg_state == NegState.request_mic:
        response.neg_state = NegState.accept_incomplete
        return response.pack()
    return answer


class NtlmAcceptor:
    """One SPNEGO/NTLM server exchange for one SESSION_SETUP sequence."""

    def __init__(self, lookup: NtHashLookup, protocol: str = "negotiate") -> None:
        self._state = _AcceptState(lookup=lookup)
        with _accepting(self._state):
            self._context = spnego.server(protocol=protocol)

    def step(self, token: bytes) -> Optional[bytes]:
        """Feed the client's token; returns the answer token. Raises ``SpnegoError`` or ``AnonymousLogon``."""
        with _accepting(self._state):
            answer = self._context.step(token)
        return _without_mic_request(answer)

    def anonymous_completion(self, logon: AnonymousLogon) -> bytes:
        """The final SPNEGO answer to an anonymous NTLM logon, which pyspnego does not implement.

        It carries no mechListMIC: a null session has no key to compute one with. Clients that insist on
        a MIC after pyspnego's "request-mic" (Samba's smbclient -N does) refuse this answer; see the
        project notes on guest access.
        """
        return NegTokenResp(neg_state=NegState.accept_complete).pack()

    @property
    def complete(self) -> bool:
        return self._context.complete

    @property
    def session_key(self) -> bytes:
        return self._context.session_key

    @property
    def user(self) -> str:
        """``DOMAIN\\user`` as the client sent it (``user`` when it sent no domain)."""
        if self._state.domain:
            return f"{self._state.domain}\\{self._state.user}"
        return self._state.user
