"""An SMB client session for the tests, made with smbprotocol (a PyPI client independent of pysmbd).

Tests that need a session to stay open while the server changes (a reload, a connection limit, a hostile peer on
the side) hold one of these and later check it still moves data.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from smbprotocol.connection import Connection
    from smbprotocol.open import Open


class SmbSession:
    """One smbprotocol connection + NTLM session + tree on a share (signing required; encryption on request).

    Connecting raises what smbprotocol raises (a refused or dropped connection is an answer the tests check);
    whatever was opened by then is closed first. ``connect`` replaces Direct TCP as the transport (for example
    ``connect_smb_over_quic``): it gets the unconnected smbprotocol Connection and connects it.
    """

    def __init__(
        self,
        port: int,
        user: str,
        password: str,
        *,
        encrypt: bool = False,
        share: str = "data",
        host: str = "127.0.0.1",
        connect: Optional[Callable[[Connection], None]] = None,
    ) -> None:
        # Imported here so that modules importing this one do not pay for smbprotocol unless they connect.
        from smbprotocol.connection import Connection
        from smbprotocol.session import Session
        from smbprotocol.tree import TreeConnect

        self.connection = Connection(uuid.uuid4(), host, port, require_signing=True)
        if connect is None:
            self.connection.connect(timeout=10)
        else:
            connect(self.connection)
        try:
            self.session = Session(self.connection, user, password, require_encryption=encrypt)
            self.session.connect()
            self.tree = TreeConnect(self.session, rf"\\{host}\{share}")
            self.tree.connect()
        except BaseException:
            self.close()
            raise

    def open_file(self, name: str, *, write: bool = True) -> Open:
        """Open the file ``name`` on the share; the caller closes the handle. For reading and writing (created,
        or emptied if it exists), or with ``write=False`` for reading only (it must exist: opening a path the
        server must refuse raises SMBResponseException)."""
        return self._create(name, write=write, share_write=False, create=write)

    def open_shared(self, name: str, *, create: bool = False) -> Open:
        """Open ``name`` for reading and writing while letting others read and write too, as a database does (so
        two users can hold the file); ``create``: created, or emptied if it exists, else it must exist."""
        return self._create(name, write=True, share_write=True, create=create)

    def _create(self, name: str, *, write: bool, share_write: bool, create: bool) -> Open:
        from smbprotocol.open import (
            CreateDisposition,
            CreateOptions,
            FilePipePrinterAccessMask,
            ImpersonationLevel,
            Open,
            ShareAccess,
        )

        access = FilePipePrinterAccessMask.GENERIC_READ
        if write:
            access |= FilePipePrinterAccessMask.GENERIC_WRITE
        share = ShareAccess.FILE_SHARE_READ
        if share_write:
            share |= ShareAccess.FILE_SHARE_WRITE
        handle = Open(self.tree, name)
        handle.create(
            ImpersonationLevel.Impersonation,
            access,
            0,
            share,
            CreateDisposition.FILE_OVERWRITE_IF if create else CreateDisposition.FILE_OPEN,
            CreateOptions.FILE_NON_DIRECTORY_FILE,
        )
        return handle

    def write_and_read(self, name: str, data: bytes) -> bytes:
        """Write ``data`` to the file ``name`` on the share (created or overwritten) and read it back."""
        handle = self.open_file(name)
        try:
            handle.write(data, 0)
            return handle.read(0, len(data))
        finally:
            handle.close()

    def close(self) -> None:
        """Disconnect; quietly, since the server may already have dropped the connection (the tests' assertions
        say whether that was wrong)."""
        try:
            self.connection.disconnect()
        except Exception:
            pass
