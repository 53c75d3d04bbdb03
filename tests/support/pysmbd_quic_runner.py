"""Run pysmbd's own server with the QUIC adapter registered, until ``pysmbd serve`` registers it itself.

    python tests/support/pysmbd_quic_runner.py --config pysmbd.toml

This is ``PysmbdServer`` (config loader, Runtime and its ServerContext, listener manager, SIGHUP reload,
status file, SIGTERM) with one change: ``_make_listener`` returns ``pysmbd.server.quic.QUICListener`` for
``transport = "quic"``, which is the hook the runtime leaves for it. It prints ``READY`` once every listener
is bound (or ``FAILED: ...`` and exits 1) and ``RELOADED ok`` / ``RELOADED failed: ...`` after each SIGHUP.
The tests and ``bench/quic`` run it as a subprocess, so the server never shares a GIL with the client.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import List, Optional

from pysmbd.config import ListenerConfig, load_config
from pysmbd.server import eventlog
from pysmbd.server.app import PysmbdServer
from pysmbd.server.listeners import Listener, ListenerStatus
from pysmbd.server.quic import QUICListener


class QuicEnabledServer(PysmbdServer):
    def _make_listener(self, config: ListenerConfig) -> Listener:
        if config.transport == "quic":
            return QUICListener(config, self.runtime, self.config.quic)
        return super()._make_listener(config)

    async def reload(self) -> List[ListenerStatus]:
        failures = await super().reload()
        detail = "; ".join(f"{row.config.describe()}: {row.error}" for row in failures)
        errors = (self._last_reload or {}).get("errors") or []
        ok = not failures and not errors
        print("RELOADED ok" if ok else f"RELOADED failed: {detail or '; '.join(errors)}", flush=True)
        return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    config = load_config(parser.parse_args().config)
    config.server.state_dir.mkdir(parents=True, exist_ok=True)
    eventlog.configure_logging(None, "info")  # JSON lines on stderr, which the tests keep in server.log

    def ready(error: Optional[str]) -> None:
        print(f"FAILED: {error}" if error else "READY", flush=True)

    return asyncio.run(QuicEnabledServer(config).run(ready))


if __name__ == "__main__":
    sys.exit(main())
