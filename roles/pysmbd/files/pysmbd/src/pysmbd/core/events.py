"""Events the protocol core reports to its transport adapter (drained with ``next_event()``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Base class of every core event."""


@dataclass(frozen=True)
class SessionEstablished(Event):
    """A SESSION_SETUP finished successfully."""

    session_id: int
    """The SMB2 SessionId the client now uses."""
    user: str
    """The authenticated user as ``DOMAIN\\user`` (or ``user`` with no domain); empty for guest."""


@dataclass(frozen=True)
class SessionClosed(Event):
    """A session ended (LOGOFF, or the connection closed)."""

    session_id: int
    """The SMB2 SessionId that no longer exists."""


@dataclass(frozen=True)
class TreeConnected(Event):
    """A TREE_CONNECT to a share succeeded."""

    session_id: int
    """The session that connected."""
    tree_id: int
    """The TreeId the client now uses."""
    share: str
    """The share name, lower case (``ipc$`` for the IPC share)."""


@dataclass(frozen=True)
class ConnectionShouldClose(Event):
    """The peer broke the framing or spoke a protocol we refuse: write pending data, then close the socket."""

    reason: str
    """Why, in words fit for a log line (never contains secrets)."""


@dataclass(frozen=True)
class LoginFailed(Event):
    """A SESSION_SETUP failed to authenticate (wrong password, unknown user, malformed token)."""

    user: str
    """The user the client claimed (``DOMAIN\\user``), empty when the token named none; never a password."""


@dataclass(frozen=True)
class LoginDelayed(Event):
    """A new SESSION_SETUP waits before it is handled: its client address failed too many logins lately."""

    seconds: float
    """How long it waits."""
