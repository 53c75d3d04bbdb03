"""``EmulatedWindowsHost``: the WS-Management endpoint, the cmdlet model and what tests observe.

Typical use in a test::

    host = EmulatedWindowsHost(users=[HostUser("vagrant", "secret")], tls=False)
    host.start()
    try:
        session = winrm.Session(host.url, auth=("vagrant", "secret"), transport="ntlm")
        ...
        assert host.counters["executions"] == 1
        assert host.state.alternative_ports == [...]
    finally:
        host.stop()

Fault injection (counted over the host's life, 1-based):

- ``fail_after_commands=N``: every command after the Nth executor run fails with a WS-Man fault
  ("The process terminated unexpectedly.");
- ``drop_connection_during_command=N``: the Nth executor run applies the first half of its changing calls, then
  the host closes the TCP connection without answering the Send that started it.

``serve_smb=True``: the host serves real SMB over QUIC (the bundled pysmbd) on its QUIC alternative ports while
``EnableSMBQUIC`` is on and a certificate mapping exists (``smb_service.py``); ``host.smb.fingerprint_sha256`` is
its certificate's, ``host.smb.share_path`` the directory of its share ``data``.

WinRM configuration, at Windows Server 2025's defaults unless told: ``basic_auth=False``
(``winrm/config/service/auth`` Basic), ``max_envelope_kb=500`` (``MaxEnvelopeSizekb``). UAC remote
restrictions follow the registry value ``LocalAccountTokenFilterPolicy`` of the host's state.
"""

from __future__ import annotations

import json
import math
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

from .auth import HostUser, find_user, write_ntlm_store
from .http_server import WinRMHTTPServer
from .observer import Observer
from .powershell_process import REFUSAL_PREFIX, ProcessResult, check_command_line, run_executor
from .request_runner import CallRecord
from .shells import STDIN_IDLE_LIMIT, CommandRun, ShellManager
from .smb_service import SmbService, served_quic_ports
from .state import TOKEN_FILTER_KEY, WindowsState
from .tls import CertificateFiles, generate_certificate
from .wsman_messages import FAULT_PROCESS_ABORTED, WsmanFault
from .wsman_service import WsmanService


class EmulatedWindowsHost:
    """A WinRM endpoint backed by the SMB cmdlet model. Not started until :meth:`start`."""

    def __init__(
        self,
        users: list[HostUser],
        *,
        tls: bool = False,
        address: str = "127.0.0.1",
        port: int = 0,
        initial_state: WindowsState | None = None,
        state_file: str | Path | None = None,
        work_dir: str | Path | None = None,
        fail_after_commands: int | None = None,
        drop_connection_during_command: int | None = None,
        channel_binding: str = "relaxed",
        stdin_idle_limit: float = STDIN_IDLE_LIMIT,
        basic_auth: bool = False,
        max_envelope_kb: int = 500,
        serve_smb: bool = False,
    ) -> None:
        if not users:
            raise ValueError("the emulated host needs at least one user")
        self.users = list(users)
        self.tls = tls
        self._bind = (address, port)
        self.state = initial_state or WindowsState()
        self._state_lock = threading.Lock()
        self._own_dir = tempfile.TemporaryDirectory(prefix="windows-host-") if work_dir is None else None
        self.work_dir = Path(work_dir) if work_dir is not None else Path(self._own_dir.name)  # type: ignore[union-attr]
        self.observer = Observer(self._snapshot, Path(state_file) if state_file else None)
        self.fail_after_commands = fail_after_commands
        self.drop_connection_during_command = drop_connection_during_command
        self._channel_binding = channel_binding
        self.basic_auth = basic_auth
        self.max_envelope_kb = max_envelope_kb
        self.certificate: CertificateFiles | None = None
        self._server: WinRMHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._shells = ShellManager(self, stdin_idle_limit=stdin_idle_limit)
        self.serve_smb = serve_smb
        self.smb: SmbService | None = None  # with serve_smb, once started: the real SMB over QUIC server
        self._smb_lock = threading.Lock()

    # -- observation ------------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the endpoint listens on."""
        if self._server is None:
            raise RuntimeError("the emulated host is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"{'https' if self.tls else 'http'}://{host}:{port}/wsman"

    @property
    def cert_path(self) -> Path | None:
        """The self-signed certificate (PEM) to pass as ``ca_trust_path``; None over HTTP."""
        return self.certificate.cert_path if self.certificate else None

    @property
    def calls(self) -> list[dict[str, Any]]:
        return self.observer.calls

    @property
    def counters(self) -> dict[str, Any]:
        return self.observer.counters

    def _snapshot(self) -> dict[str, Any]:
        with self._state_lock:
            return self.state.to_json()

    def in_process_service(self, url: str = "http://windows-host.example:5985/wsman") -> WsmanService:
        """The WS-Man service of this host without HTTP (for tests that feed it SOAP envelopes directly)."""
        return WsmanService(self._shells, self.observer, url)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> EmulatedWindowsHost:
        store = self.work_dir / "ntlm-users"
        write_ntlm_store(self.users, store)
        context = None
        der_sha256 = None
        if self.tls:
            self.certificate = generate_certificate(self.work_dir, self._bind[0])
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(self.certificate.cert_path, self.certificate.key_path)
            der_sha256 = self.certificate.der_sha256
        service = WsmanService(self._shells, self.observer, "")
        self._server = WinRMHTTPServer(
            self._bind,
            service,
            self.users,
            store,
            context,
            der_sha256,
            cbt_mode=self._channel_binding,
            basic_auth=self.basic_auth,
            max_envelope_kb=self.max_envelope_kb,
            authorize=self._authorize,
        )
        service.url = self.url
        self.observer.url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="windows-host", daemon=True
        )
        self._thread.start()
        if self.serve_smb:
            self.smb = SmbService(self.work_dir, self._bind[0], self.users)
            self._sync_smb()
        self.observer.write_state_file()
        return self

    def _sync_smb(self) -> None:
        """Serve SMB over QUIC on the ports the model says Windows serves now (smb_service.py)."""
        if self.smb is None:
            return
        with self._state_lock:
            wanted = served_quic_ports(self.state)
        with self._smb_lock:
            self.smb.sync(wanted)

    def stop(self) -> None:
        if self.smb is not None:
            self.smb.stop()
            self.smb = None
        if self._server is not None:
            self._server.shutdown()
            self._shells.close()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None

    def __enter__(self) -> EmulatedWindowsHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authorize(self, principal: str) -> str | None:
        """Why ``principal`` may not administer the host remotely, or None (UAC remote restrictions)."""
        user = find_user(self.users, principal)
        if user is None or not user.is_filtered_local_admin:
            return None
        with self._state_lock:
            key = self.state.find_key(TOKEN_FILTER_KEY)
            value = key.values.get("localaccounttokenfilterpolicy") if key else None
        if value is not None and value.get("data") == 1:
            return None
        return (
            f"{principal} is a local administrator other than the built-in one and "
            "LocalAccountTokenFilterPolicy is not 1: its network logon gets a filtered token"
        )

    # -- CommandRunner (called by the ShellManager) -------------------------------------------------
    def start_command(self, run: CommandRun) -> ProcessResult | None:
        self.observer.count(run.user, "commands")
        if run.options.get("WINRS_CONSOLEMODE_STDIN", "").upper() == "TRUE":
            self.observer.count(run.user, "console_mode_stdin")
        executions = self.observer.counters["executions"]
        if self.fail_after_commands is not None and executions >= self.fail_after_commands:
            raise WsmanFault(
                FAULT_PROCESS_ABORTED,
                f"The process terminated unexpectedly. (fault injected after {self.fail_after_commands} commands)",
                subcode="w:InternalError",
                value="s:Receiver",
            )
        refusal = check_command_line(run.command, run.arguments)
        if refusal is not None:
            self.observer.count(run.user, "refused")
            self.observer.write_state_file()
        return refusal

    def finish_command(self, run: CommandRun) -> ProcessResult:
        number = self.observer.count(run.user, "executions")
        max_calls = None
        if number == self.drop_connection_during_command:
            run.drop_connection = True
            max_calls = self._half_of_calls(run.stdin)

        def record(call: CallRecord) -> None:
            call.user = run.user
            call.extra = {**call.extra, "execution": number}
            self.observer.record_call(call)

        with self._state_lock:
            result = run_executor(bytes(run.stdin), self.state, record, max_calls=max_calls)
        if result.stderr.startswith(REFUSAL_PREFIX):
            self.observer.count(run.user, "refused")
        self.observer.write_state_file()
        # Before the command's answer, as a cmdlet returns once the server applied it (assumed).
        self._sync_smb()
        return result

    @staticmethod
    def _half_of_calls(stdin: bytes) -> int:
        """Half of the request's changing calls (they come first; the read-back after them is not counted)."""
        try:
            calls = json.loads(stdin.partition(b"\x00\x00\x00\x00")[2]).get("calls", [])
        except (ValueError, AttributeError):
            return 0
        changing = [call for call in calls if not str(call.get("command", "")).startswith(("Get-", "Test-"))]
        return math.ceil(len(changing) / 2)
