"""The pysmbd runtime: asyncio transport adapters, listeners with hitless reload, limits and status.

The protocol itself lives in :mod:`pysmbd.core`; nothing here parses SMB. An adapter feeds the bytes
of one connection to a core connection object, writes what it returns and reacts to its events.
"""

from __future__ import annotations
