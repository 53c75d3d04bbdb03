"""DCE/RPC over SMB named pipes: just enough (srvsvc) for ``smbclient -L`` to list the shares."""

from __future__ import annotations
