"""Record the client->server SMB2 frames of real smbclient and smbprotocol sessions against pysmbd.

A recording TCP proxy sits on loopback between each client and a pysmbd started for the occasion; it cuts the
client's byte stream on Direct TCP framing (4-byte big-endian length) and stores every frame, length prefix
included, as ``<output>/<session>/<NNN>.bin``. These files seed the hypothesis tests in ``tests/fuzz`` and the
atheris harness. Not a test: run it by hand when the core learns new commands, then commit the frames::

    .venv/bin/python bench/fuzz/record_corpus.py --output tests/fuzz/corpus

The frames hold an NTLM login of a throw-away user (``corpus``/``Corpus-Passw0rd``), nothing else secret.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, List

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import pytest

from tests.support.net import free_port
from tests.support.pysmbd_server import PysmbdServer
from tests.support.pysmbd_server import start_pysmbd as start_pysmbd_server

USER, PASSWORD = "corpus", "Corpus-Passw0rd"


class RecordingProxy:
    """Forwards one loopback port to pysmbd and keeps every client->server frame of each connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frames: List[bytes] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
            for source, target, record in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pipe, args=(source, target), kwargs={"record": record}, daemon=True
                ).start()

    def _pipe(self, source: socket.socket, target: socket.socket, *, record: bool) -> None:
        """Copy ``source`` to ``target`` until either side closes; with ``record``, keep each whole frame."""
        pending = b""
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                target.close()
                return
            try:
                target.sendall(data)
            except OSError:
                return
            if record:
                pending = self._keep_frames(pending + data)

    def _keep_frames(self, pending: bytes) -> bytes:
        """Store the whole Direct TCP frames at the front of ``pending``; return the incomplete rest."""
        while len(pending) >= 4:
            length = int.from_bytes(pending[1:4], "big")
            if len(pending) < 4 + length:
                break
            with self._lock:
                self.frames.append(pending[: 4 + length])
            pending = pending[4 + length :]
        return pending

    def take(self) -> List[bytes]:
        time.sleep(0.3)  # let the last frames of a closed connection reach us
        with self._lock:
            taken, self.frames = self.frames, []
        return taken

    def close(self) -> None:
        self.listener.close()


def start_pysmbd(work: Path) -> PysmbdServer:
    """pysmbd (as the tests start it) with the share ``data`` and an encrypted share ``secure`` on the same files."""
    share = work / "share"
    share.mkdir()
    (share / "seed.txt").write_text("corpus seed file\n")
    encrypted = f'[[shares]]\nname = "secure"\npath = "{share}"\nencrypt = true\n'
    try:
        return start_pysmbd_server(
            work, USER, PASSWORD, [free_port()], server_settings="require_signing = false", more_shares=encrypted
        )
    except pytest.fail.Exception as error:  # a benchmark reports and exits, it has no test to fail
        sys.exit(f"pysmbd: {error}")


def smbclient_session(*options: str, commands: str = "") -> Callable[[int], None]:
    """smbclient on the "data" share running ``commands``; without commands it lists the shares (-L, srvsvc)."""
    binary = shutil.which("smbclient")
    if binary is None:
        sys.exit("smbclient is missing: apt-get install smbclient")

    def run(port: int) -> None:
        target = ["//127.0.0.1/data", "-c", commands] if commands else ["-L", "//127.0.0.1"]
        done = subprocess.run(
            [binary, *target, "-p", str(port), "-U", f"{USER}%{PASSWORD}", *options],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": "/nonexistent"},
            check=False,
        )
        if done.returncode != 0:
            print(
                f"smbclient {' '.join(options)} exited {done.returncode}: {done.stdout}{done.stderr}", file=sys.stderr
            )

    return run


def smbprotocol_session(*, encrypt: bool, dialect: int | None = None) -> Callable[[int], None]:
    def run(port: int) -> None:
        from smbprotocol.connection import Connection
        from smbprotocol.open import (
            CreateDisposition,
            CreateOptions,
            DirectoryAccessMask,
            FileAttributes,
            FilePipePrinterAccessMask,
            ImpersonationLevel,
            Open,
            ShareAccess,
        )
        from smbprotocol.query_info import FileInformationClass
        from smbprotocol.session import Session
        from smbprotocol.tree import TreeConnect

        connection = Connection(uuid.uuid4(), "127.0.0.1", port, require_signing=True)
        connection.connect(dialect=dialect, timeout=10)
        try:
            session = Session(connection, USER, PASSWORD, require_encryption=encrypt)
            session.connect()
            tree = TreeConnect(session, r"\\127.0.0.1\data")
            tree.connect()
            handle = Open(tree, "fuzz.bin")
            handle.create(
                ImpersonationLevel.Impersonation,
                FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
                FileAttributes.FILE_ATTRIBUTE_NORMAL,
                ShareAccess.FILE_SHARE_READ,
                CreateDisposition.FILE_OVERWRITE_IF,
                CreateOptions.FILE_NON_DIRECTORY_FILE,
            )
            handle.write(b"x" * 3000, 0)
            handle.read(0, 3000)
            handle.flush()
            handle.close()
            directory = Open(tree, "")
            directory.create(
                ImpersonationLevel.Impersonation,
                DirectoryAccessMask.FILE_LIST_DIRECTORY,
                FileAttributes.FILE_ATTRIBUTE_DIRECTORY,
                ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE,
                CreateDisposition.FILE_OPEN,
                CreateOptions.FILE_DIRECTORY_FILE,
            )
            directory.query_directory("*", FileInformationClass.FILE_ID_BOTH_DIRECTORY_INFORMATION)
            directory.close()
            tree.disconnect()
            session.disconnect()
        finally:
            connection.disconnect()

    return run


SESSIONS = {
    "smbclient-smb3-sign": smbclient_session(
        "-m",
        "SMB3",
        "--client-protection=sign",
        commands="ls; put /etc/hostname host.txt; get seed.txt /dev/null; mkdir sub; rmdir sub; allinfo seed.txt; del host.txt",
    ),
    "smbclient-smb2": smbclient_session("-m", "SMB2", commands="ls; get seed.txt /dev/null; allinfo seed.txt"),
    "smbclient-smb3-encrypt": smbclient_session(
        "-m", "SMB3", "--client-protection=encrypt", commands="ls; get seed.txt /dev/null"
    ),
    # Offers SMB1 dialects too, so it opens with an SMB1 NEGOTIATE that the core upgrades to SMB2.
    "smbclient-smb1-upgrade": smbclient_session(
        "--option=client min protocol=NT1", "-m", "SMB3", commands="ls; get seed.txt /dev/null"
    ),
    "smbclient-list-shares": smbclient_session("-m", "SMB3", "--client-protection=sign"),
    "smbprotocol-311-sign": smbprotocol_session(encrypt=False),
    "smbprotocol-210-sign": smbprotocol_session(encrypt=False, dialect=0x0210),
    "smbprotocol-311-encrypt": smbprotocol_session(encrypt=True),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("tests/fuzz/corpus"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pysmbd-corpus-") as temp:
        server = start_pysmbd(Path(temp))
        proxy = RecordingProxy(server.tcp_port)
        try:
            for name, session in SESSIONS.items():
                session(proxy.port)
                frames = proxy.take()
                target = args.output / name
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir(parents=True)
                for index, data in enumerate(frames):
                    (target / f"{index:03d}.bin").write_bytes(data)
                print(f"{name}: {len(frames)} frames")
        finally:
            proxy.close()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
