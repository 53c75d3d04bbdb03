"""A pysmbd ``ServerContext`` for tests that drive the protocol core without a config file or a runtime."""

from __future__ import annotations

import time
from pathlib import Path

from pysmbd.core.context import DEFAULT_MAX_FRAME_SIZE, ServerContext, new_server_guid


def make_context(**overrides) -> ServerContext:
    """A context with test-friendly defaults; every field can be overridden by keyword."""
    values = {
        "server_name": "PYSMBD",
        "workgroup": "WORKGROUP",
        "server_guid": new_server_guid(),
        "users_file": Path("/nonexistent"),
        "require_signing": True,
        "max_frame_size": DEFAULT_MAX_FRAME_SIZE,
        "shares": {},
        "start_time": time.time(),
    }
    values.update(overrides)
    return ServerContext(**values)
