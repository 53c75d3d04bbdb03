"""What a connection remembers about its clients: sessions and their tree connects.

Kept apart from the handlers (``session.py``) so that ``request.py``, which carries a request's session and
tree, and the handlers can both name these types without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from . import crypto
from .context import ShareConfig
from .ntlm_acceptor import NtlmAcceptor


@dataclass
class Tree:
    """One TREE_CONNECT: a share (``None`` for IPC$) seen through one session."""

    tree_id: int
    name: str
    share: Optional[ShareConfig]
    encrypt: bool
    user_read_only: bool = False
    """The session's user is in the share's ``read_only_users``."""

    @property
    def is_ipc(self) -> bool:
        return self.share is None

    @property
    def read_only(self) -> bool:
        return self.share is None or self.share.read_only or self.user_read_only


@dataclass
class Session:
    """One SMB2 session: authentication state, keys and tree connects."""

    session_id: int
    preauth_hash: bytes
    acceptor: Optional[NtlmAcceptor] = None
    valid: bool = False
    user: str = ""
    is_guest: bool = False
    signer: Optional[crypto.Signer] = None
    encryptor: Optional[crypto.Cipher] = None
    decryptor: Optional[crypto.Cipher] = None
    signing_required: bool = False
    encrypt_data: bool = False
    trees: dict[int, Tree] = field(default_factory=dict)
    next_tree_id: int = 1
    open_count: int = 0
    """Files, directories and pipes this session holds open (capped by ``max_opens_per_session``)."""
