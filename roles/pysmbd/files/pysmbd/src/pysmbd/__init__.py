"""pysmbd: a small SMB2/3 file server whose protocol core does no IO."""

from __future__ import annotations

__version__ = "0.1.0"
