"""The sans-IO SMB2/3 protocol core.

Nothing in this package touches a socket, a thread or an event loop: a transport adapter feeds
received bytes to :class:`~pysmbd.core.connection.SMBServerConnection`, writes what
``data_to_send()`` returns, and drains ``next_event()``.
"""

from __future__ import annotations
