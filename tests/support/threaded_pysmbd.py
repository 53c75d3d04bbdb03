"""pysmbd's protocol core served from a thread of the test: a private asyncio adapter, for tests only.

The real listeners live in ``pysmbd.server`` (the runtime); this page exists so the core's end-to-end
tests (smbclient, smbprotocol, smbtorture against the core) do not depend on it. It runs a server in a
background thread on 127.0.0.1, port 0. ``serve_core(tmp_path)`` lays out the shares those tests use.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.context import ServerContext
from pysmbd.core.events import ConnectionShouldClose
from pysmbd.core.users import nt_hash
from tests.support.accounts import THREADED_PASSWORD, THREADED_USER
from tests.support.peers import require_tool


class _CoreProtocol(asyncio.Protocol):
    def __init__(self, context: ServerContext) -> None:
        self._context = context
        self._core: SMBServerConnection | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._core = SMBServerConnection(self._context, peer=str(peer))
        # a waiting LOCK ended by another connection's request: send its answer after that request
        self._core.on_output = lambda: asyncio.get_running_loop().call_soon(self._flush)

    def data_received(self, data: bytes) -> None:
        assert self._core is not None and self._transport is not None
        self._core.receive_data(data, time.time())
        self._flush()

    def _flush(self) -> None:
        if self._core is None or self._transport is None or self._transport.is_closing():
            return
        chunks = self._core.data_to_send()
        if chunks:
            self._transport.writelines(chunks)
        while (event := self._core.next_event()) is not None:
            if isinstance(event, ConnectionShouldClose):
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._core is not None:
            self._core.close()


class ThreadedServer:
    """Serve one ServerContext on 127.0.0.1:<free port> from a daemon thread."""

    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            # the core's timers (oplock break and durable handle timeouts) run on this loop, as in the runtime
            self.context.schedule = self._loop.call_later
            self._server = await self._loop.create_server(lambda: _CoreProtocol(self.context), "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test SMB server did not start within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        def stop() -> None:
            assert self._server is not None
            self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(10)


@dataclass
class RunningServer:
    port: int
    share: Path
    read_only_share: Path
    encrypted_share: Path
    workdir: Path

    def smbclient(
        self, *args: str, share: str = "share", timeout: int = 60, anonymous: bool = False
    ) -> subprocess.CompletedProcess:
        """Run Samba's smbclient against this server; returns the finished process (never raises)."""
        command = [require_tool("smbclient", "smbclient"), f"//127.0.0.1/{share}", "-p", str(self.port)]
        command += ["-N"] if anonymous else ["-U", f"{THREADED_USER}%{THREADED_PASSWORD}"]
        command += list(args)
        return subprocess.run(command, cwd=self.workdir, capture_output=True, text=True, timeout=timeout, check=False)


def serve_core(tmp_path: Path, *, guest_share: bool = False) -> Iterator[RunningServer]:
    """Serve shares ``share``, ``ro`` (read-only, with readme.txt) and ``enc`` (encrypted) under ``tmp_path``, and
    with ``guest_share`` a share ``pub`` that allows guests (its directory is ``workdir/../pub``), to the account
    THREADED_USER; yields once, for a fixture."""
    from pysmbd.core.context import ShareConfig
    from pysmbd.rpc.pipes import open_pipe
    from tests.support.pysmbd_context import make_context

    share = tmp_path / "share"
    read_only = tmp_path / "ro"
    encrypted = tmp_path / "enc"
    workdir = tmp_path / "client"
    for directory in (share, read_only, encrypted, workdir):
        directory.mkdir()
    (read_only / "readme.txt").write_text("read me\n")
    users = tmp_path / "users"
    users.write_text(
        f"{THREADED_USER}:1000:{'X' * 32}:{nt_hash(THREADED_PASSWORD).hex().upper()}:[U          ]:LCT-00000000:\n"
    )
    shares = {
        "share": ShareConfig("share", share, comment="test share"),
        "ro": ShareConfig("ro", read_only, read_only=True),
        "enc": ShareConfig("enc", encrypted, encrypt=True),
    }
    if guest_share:
        (tmp_path / "pub").mkdir()
        shares["pub"] = ShareConfig("pub", tmp_path / "pub", guest_ok=True)
    context = make_context(users_file=users, shares=shares)
    context.pipe_factory = lambda name: open_pipe(name, context)
    with ThreadedServer(context) as server:
        yield RunningServer(server.port, share, read_only, encrypted, workdir)


def main() -> None:  # manual use, from the checkout: python -m tests.support.threaded_pysmbd SHARE USERS
    import logging
    import sys

    from pysmbd.core.context import ShareConfig
    from tests.support.pysmbd_context import make_context

    logging.basicConfig(level=logging.DEBUG if "-v" in sys.argv else logging.INFO)
    share_dir, users = Path(sys.argv[1]), Path(sys.argv[2])
    from pysmbd.rpc.pipes import open_pipe

    context = make_context(users_file=users, shares={"share": ShareConfig("share", share_dir, comment="test share")})
    context.pipe_factory = lambda name: open_pipe(name, context)
    with ThreadedServer(context) as server:
        print(server.port, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
