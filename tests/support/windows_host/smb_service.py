"""The emulated host's SMB server: real SMB over QUIC on its alternative ports, served by the bundled pysmbd.

Windows Server 2025 serves SMB over QUIC on each QUIC alternative port (``New-SmbServerAlternativePort
-TransportType QUIC``) once ``EnableSMBQUIC`` is on and a certificate mapping exists. With ``serve_smb=True`` the
emulated host does the same with a real server, so that ``verify`` proves a port by SMB over QUIC and a removed
port by its silence, instead of trusting the cmdlet model: after every executor run that changed the table, the
setting or the mappings, it runs ``pysmbd serve`` (a child process) with one QUIC listener per alternative port on
the host's address, reloads it when the set changes (pysmbd opens new listeners and closes removed ones without
dropping sessions on the others, as Windows does: assumed, Microsoft does not say), and stops it when no port is
left to serve.

What it does not model, on purpose: the standard listeners (TCP 445, UDP 443) are not served, since they are
privileged and shared on a test machine; one self-signed certificate (for the host's address and ``localhost``,
its SHA-256 in ``fingerprint_sha256``) stands for every certificate mapping; the accounts are the host's users
(NTLM), and the one share is ``data``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .auth import HostUser
from .state import WindowsState

START_TIMEOUT = 30.0
SHARE = "data"


def served_quic_ports(state: WindowsState) -> list[int]:
    """The QUIC alternative ports Windows would serve in ``state``: none without SMB over QUIC on and a mapping."""
    if not state.server_configuration.get("EnableSMBQUIC", True) or not state.certificate_mappings:
        return []
    return sorted({int(e["Port"]) for e in state.alternative_ports if str(e["TransportType"]).lower() == "quic"})


def _pysmbd() -> str:
    found = shutil.which("pysmbd") or str(Path(sys.executable).parent / "pysmbd")
    if not Path(found).exists():
        raise RuntimeError("serve_smb needs the bundled pysmbd in this Python's environment: run `make venv`")
    return found


class SmbService:
    """A pysmbd child serving SMB over QUIC on the ports :func:`served_quic_ports` gives; see the module docstring."""

    def __init__(self, work_dir: Path, address: str, users: list[HostUser]) -> None:
        from pysmbd.core.users import nt_hash  # pysmbd is imported only by hosts that serve SMB
        from pysmbd.server.certs import generate_self_signed

        self.address = address
        self.root = work_dir / "smb-server"
        (self.root / SHARE).mkdir(parents=True, exist_ok=True)
        self.config = self.root / "pysmbd.toml"
        self.log = self.root / "pysmbd.log"
        self.users_file = self.root / "users"
        self.users_file.write_text(
            "".join(
                f"{u.name}:1000:{'X' * 32}:{nt_hash(u.password).hex().upper()}:[U          ]:LCT-00000000:\n"
                for u in users
            )
        )
        self.users_file.chmod(0o600)
        certificate = generate_self_signed(
            self.root / "cert.pem", self.root / "key.pem", sorted({"localhost", "127.0.0.1", address})
        )
        self._certificate = certificate
        self.fingerprint_sha256: str = certificate.fingerprint_sha256
        self.ports: list[int] = []
        self.errors: list[str] = []
        self._process: subprocess.Popen | None = None

    @property
    def share_path(self) -> Path:
        return self.root / SHARE

    def sync(self, wanted: list[int]) -> None:
        """Serve SMB over QUIC on exactly ``wanted`` (see :func:`served_quic_ports`); a failure is kept in ``errors``
        and printed, and the ports then stay closed, which is what verify reports."""
        if wanted == self.ports:
            return
        try:
            if not wanted:
                self.stop()
            else:
                self._write_config(wanted)
                self._reload() if self._running() else self._start()
            self.ports = wanted
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            self.errors.append(f"serving SMB over QUIC on {wanted}: {error}")
            print(f"windows host: {self.errors[-1]}", file=sys.stderr, flush=True)

    def _write_config(self, ports: list[int]) -> None:
        listeners = "".join(
            f'[[listeners]]\ntransport = "quic"\naddress = "{self.address}"\nport = {port}\n\n' for port in ports
        )
        self.config.write_text(
            f'[server]\nname = "WIN-EMULATED"\nusers_file = "{self.users_file}"\nstate_dir = "{self.root / "state"}"\n\n'
            f"{listeners}"
            f'[quic]\ncertificate = "{self._certificate.certificate}"\nprivate_key = "{self._certificate.private_key}"\n\n'
            f'[[shares]]\nname = "{SHARE}"\npath = "{self.share_path}"\nread_only = false\n'
        )

    @property
    def pid(self) -> int | None:
        """The pysmbd child's pid while it runs (a reload keeps it; a restart would not)."""
        return self._process.pid if self._running() else None

    def _running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _status(self) -> dict[str, Any]:
        done = subprocess.run(
            [_pysmbd(), "status", "--config", str(self.config), "--json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def _start(self) -> None:
        with open(self.log, "a") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(
                [_pysmbd(), "serve", "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._status().get("running"):
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"pysmbd did not start: {tail}")
            time.sleep(0.1)

    def _reload(self) -> None:
        done = subprocess.run(
            [_pysmbd(), "reload", "--config", str(self.config), "--timeout", "20"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pysmbd reload failed: {done.stdout}{done.stderr}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            self._process = None
        self.ports = []
