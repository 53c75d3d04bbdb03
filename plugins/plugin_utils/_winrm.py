# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A WinRM target and a one-shell session to it, for the collection's controller-side Windows work.

This is a private plugin_utils file: its API may change without notice.

A ``WinRMTarget`` is built from the host's connection variables (the ones the ``winrm`` and ``psrp``
connection plugins read) or from explicit module options (``winrm_*``, which win). ``WinRMSession`` opens
exactly one shell per task and runs commands in it. It refuses to work when the messages would cross plain
HTTP unencrypted, and turns pywinrm's and requests' exceptions into one ``WinRMError`` whose message names
the endpoint and what to do, never a secret.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from ansible_collections.smb.alternative_ports.plugins.module_utils._ports import is_port

try:
    import requests
    import winrm
    from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError
    from winrm.exceptions import WinRMError as PyWinRMError

    HAS_PYWINRM = True
    PYWINRM_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - exercised only without pywinrm
    HAS_PYWINRM = False
    PYWINRM_IMPORT_ERROR = import_error

TRANSPORTS = ("ntlm", "basic", "kerberos", "credssp", "certificate")
# Transports that can encrypt the messages themselves (so plain HTTP is acceptable).
_ENCRYPTING_TRANSPORTS = ("ntlm", "kerberos", "credssp")
_TRANSPORT_ALIASES = {"plaintext": "basic", "ssl": "basic", "negotiate": "ntlm"}
_ENCRYPTED_CONTENT_TYPE = "multipart/encrypted"
# Seconds a command may run before the session gives up on it (the executor normally answers in well under one).
COMMAND_DEADLINE = 120
# stdin bytes per Send: base64 makes 256 KiB about 342 KiB, well under MaxEnvelopeSizekb's default of 500.
STDIN_CHUNK = 256 * 1024

# Explicit module options: option name -> WinRMTarget field. Documented in doc_fragments/_winrm.py.
OPTION_FIELDS = {
    "winrm_host": "host",
    "winrm_port": "port",
    "winrm_user": "user",
    "winrm_password": "password",
    "winrm_scheme": "scheme",
    "winrm_transport": "transport",
    "winrm_cert_validation": "cert_validation",
    "winrm_ca_trust_path": "ca_trust_path",
    "winrm_message_encryption": "message_encryption",
    "winrm_operation_timeout": "operation_timeout",
}
OPTION_NAMES = frozenset(OPTION_FIELDS)

# Host variables, most specific first: the winrm plugin's names, the psrp plugin's, then the generic ones.
HOST_VARIABLES = {
    "host": ("ansible_winrm_host", "ansible_psrp_host", "ansible_host"),
    "port": ("ansible_winrm_port", "ansible_psrp_port", "ansible_port"),
    "user": ("ansible_winrm_user", "ansible_psrp_user", "ansible_user"),
    "password": (
        "ansible_winrm_password",
        "ansible_winrm_pass",
        "ansible_psrp_password",
        "ansible_psrp_pass",
        "ansible_password",
    ),
    "scheme": ("ansible_winrm_scheme", "ansible_psrp_protocol"),
    "transport": ("ansible_winrm_transport", "ansible_psrp_auth"),
    "cert_validation": ("ansible_winrm_server_cert_validation", "ansible_psrp_cert_validation"),
    "ca_trust_path": ("ansible_winrm_ca_trust_path", "ansible_psrp_ca_cert"),
    "message_encryption": ("ansible_winrm_message_encryption", "ansible_psrp_message_encryption"),
    "operation_timeout": ("ansible_winrm_operation_timeout_sec", "ansible_psrp_operation_timeout"),
}


class WinRMError(Exception):
    """Anything that kept a WinRM exchange from completing; the message is safe to show."""


class WinRMAuthenticationError(WinRMError):
    """The host rejected the user name or password."""


@dataclass(frozen=True)
class WinRMTarget:
    """Where and how to reach one Windows host over WinRM."""

    host: str
    port: int = 5986
    user: str = ""
    password: str = field(default="", repr=False)
    scheme: str = "https"
    """``http`` or ``https``."""
    transport: str = "ntlm"
    """pywinrm's auth: ``ntlm``, ``basic``, ``kerberos``, ``credssp`` or ``certificate``."""
    cert_validation: str = "validate"
    """``validate`` or ``ignore`` (HTTPS only)."""
    ca_trust_path: Optional[str] = None
    message_encryption: str = "auto"
    """``auto``, ``always`` or ``never``: pywinrm's message encryption over HTTP."""
    operation_timeout: int = 20

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/wsman"

    @property
    def label(self) -> str:
        """``user@host:port``, the way every message names the target."""
        return f"{self.user}@{self.host}:{self.port}"

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> WinRMTarget:
        """Build a target from field values (missing ones default), checking each one."""
        host = str(values.get("host") or "").strip()
        if not host:
            raise WinRMError("no WinRM host: set ansible_host (or the winrm_host option)")
        port = _as_port(values.get("port"))
        scheme = str(values.get("scheme") or ("http" if port == 5985 else "https")).lower()
        if port is None:
            port = 5985 if scheme == "http" else 5986
        if scheme not in ("http", "https"):
            raise WinRMError(f"WinRM scheme {scheme!r} for {host}: use http or https")
        transport = str(values.get("transport") or "ntlm").lower()
        transport = _TRANSPORT_ALIASES.get(transport, transport)
        if transport not in TRANSPORTS:
            raise WinRMError(f"WinRM transport {transport!r} for {host}: use one of {', '.join(TRANSPORTS)}")
        cert_validation = str(values.get("cert_validation") or "validate").lower()
        if cert_validation not in ("validate", "ignore"):
            raise WinRMError(f"server certificate validation {cert_validation!r} for {host}: use validate or ignore")
        encryption = str(values.get("message_encryption") or "auto").lower()
        if encryption not in ("auto", "always", "never"):
            raise WinRMError(f"message encryption {encryption!r} for {host}: use auto, always or never")
        timeout = int(values.get("operation_timeout") or 20)
        return cls(
            host=host,
            port=port,
            user=str(values.get("user") or ""),
            password=str(values.get("password") or ""),
            scheme=scheme,
            transport=transport,
            cert_validation=cert_validation,
            ca_trust_path=str(values["ca_trust_path"]) if values.get("ca_trust_path") else None,
            message_encryption=encryption,
            operation_timeout=timeout,
        )

    @classmethod
    def from_host_vars(cls, host_vars: Mapping[str, Any], options: Optional[Mapping[str, Any]] = None) -> WinRMTarget:
        """Build a target from a host's (already templated) variables, overridden by explicit ``winrm_*`` options."""
        values: dict = {}
        for name, variables in HOST_VARIABLES.items():
            for variable in variables:
                if host_vars.get(variable) not in (None, ""):
                    values[name] = host_vars[variable]
                    break
        values.setdefault("host", host_vars.get("inventory_hostname"))
        for option, name in OPTION_FIELDS.items():
            if options and options.get(option) not in (None, ""):
                values[name] = options[option]
        return cls.from_values(values)

    def with_password(self, password: str) -> WinRMTarget:
        return dataclasses.replace(self, password=password)

    def refuse_unencrypted(self) -> None:
        """Refuse a target whose messages would cross plain HTTP in the clear."""
        if self.scheme == "https":
            return
        if self.transport not in _ENCRYPTING_TRANSPORTS or self.message_encryption == "never":
            raise WinRMError(
                f"refusing to talk to {self.label} over plain HTTP without message encryption "
                f"(transport {self.transport}, message encryption {self.message_encryption}): "
                "use HTTPS (ansible_winrm_scheme=https, port 5986) or ntlm/kerberos/credssp with message encryption"
            )


def target_from_task(
    task_vars: Mapping[str, Any], options: Mapping[str, Any], template: Callable[[Any], Any]
) -> WinRMTarget:
    """The target of an action plugin's task: its host's connection variables, templated, then ``winrm_*`` options."""
    wanted = {variable for variables in HOST_VARIABLES.values() for variable in variables}
    wanted.add("inventory_hostname")
    host_vars = {name: template(task_vars[name]) for name in wanted if name in task_vars}
    return WinRMTarget.from_host_vars(host_vars, options)


@dataclass
class CommandOutput:
    stdout: bytes
    stderr: bytes
    exit_code: int


class WinRMSession:
    """One WinRM shell, opened on ``__enter__`` and deleted on ``__exit__``.

    ``protocol_factory`` exists for tests that want to count or break requests; it defaults to pywinrm's Protocol.
    """

    def __init__(self, target: WinRMTarget, protocol_factory: Optional[Callable[..., Any]] = None) -> None:
        if not HAS_PYWINRM:
            raise WinRMError(
                f"pywinrm is required to reach {target.label}: pip install pywinrm ({PYWINRM_IMPORT_ERROR})"
            )
        target.refuse_unencrypted()
        self.target = target
        self._protocol_factory = protocol_factory or winrm.Protocol
        self._protocol: Any = None
        self._shell_id: Optional[str] = None
        self.commands_run = 0

    def __enter__(self) -> WinRMSession:
        with self._translated_errors("open a shell on"):
            self._protocol = self._protocol_factory(
                endpoint=self.target.endpoint,
                transport=self.target.transport,
                username=self.target.user,
                password=self.target.password,
                server_cert_validation=self.target.cert_validation,
                ca_trust_path=self.target.ca_trust_path or _environment_ca_bundle(),
                message_encryption=self.target.message_encryption,
                operation_timeout_sec=self.target.operation_timeout,
                read_timeout_sec=self.target.operation_timeout + 10,
            )
            self._enforce_encryption()
            # Code page 65001 so that whatever the executor writes arrives as UTF-8.
            self._shell_id = self._protocol.open_shell(codepage=65001, noprofile=True)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._protocol is None:
            return
        try:
            if self._shell_id is not None:
                self._protocol.close_shell(self._shell_id)
        except Exception:
            self._protocol.transport.close_session()
        finally:
            self._shell_id = None

    def run(self, command: str, arguments: tuple = (), stdin: Optional[bytes] = None) -> CommandOutput:
        """Run one command in the shell, feed it ``stdin`` (then end of file) and wait for it to finish."""
        if self._shell_id is None:
            raise WinRMError(f"no open shell on {self.target.label}")
        with self._translated_errors("run a command on"):
            # stdin is a pipe, not a console, when there is stdin to send: as Ansible's winrm connection does.
            command_id = self._protocol.run_command(
                self._shell_id, command, list(arguments), console_mode_stdin=stdin is None
            )
            self.commands_run += 1
            try:
                if stdin is not None:
                    self._send_stdin(command_id, stdin)
                stdout, stderr, exit_code = self._wait_for(command_id)
            finally:
                try:
                    self._protocol.cleanup_command(self._shell_id, command_id)
                except (PyWinRMError, requests.RequestException):
                    pass  # the command has finished; the shell's deletion cleans up the rest
        return CommandOutput(stdout=stdout, stderr=stderr, exit_code=exit_code)

    def _send_stdin(self, command_id: str, stdin: bytes) -> None:
        """Send stdin in pieces that keep every envelope under Windows' default MaxEnvelopeSizekb (500)."""
        pieces = [stdin[start : start + STDIN_CHUNK] for start in range(0, len(stdin), STDIN_CHUNK)] or [b""]
        for index, piece in enumerate(pieces):
            self._protocol.send_command_input(self._shell_id, command_id, piece, end=index == len(pieces) - 1)

    def _wait_for(self, command_id: str):
        """Collect the command's output until it is done; unlike pywinrm's own loop, give up at a deadline."""
        limit = max(COMMAND_DEADLINE, 6 * self.target.operation_timeout)
        deadline = time.monotonic() + limit
        stdout, stderr = [], []
        while True:
            try:
                out, err, exit_code, done = self._protocol.get_command_output_raw(self._shell_id, command_id)
            except WinRMOperationTimeoutError:
                out, err, exit_code, done = b"", b"", -1, False  # nothing yet: the host held the Receive
            stdout.append(out)
            stderr.append(err)
            if done:
                return b"".join(stdout), b"".join(stderr), exit_code
            if time.monotonic() > deadline:
                raise WinRMError(
                    f"the PowerShell command on {self.target.label} did not finish within {limit} s; "
                    "check the host (a hung cmdlet, or a blocked SMB service)"
                )

    def _enforce_encryption(self) -> None:
        """Over HTTP, make sure pywinrm set up encryption and reject any reply that comes back in the clear."""
        if self.target.scheme == "https":
            return
        transport = self._protocol.transport
        session = transport.build_session()  # authenticates and sets up the encryption context
        if transport.encryption is None:
            raise WinRMError(
                f"refusing to talk to {self.target.label} over plain HTTP: message encryption could not be set up "
                f"with transport {self.target.transport}; use HTTPS or an encrypting transport (ntlm)"
            )
        session.hooks["response"].append(self._reject_plaintext_reply)

    def _reject_plaintext_reply(self, response, *args, **kwargs):
        content_type = response.headers.get("Content-Type", "")
        if response.status_code != 401 and response.content and not content_type.startswith(_ENCRYPTED_CONTENT_TYPE):
            raise WinRMError(
                f"{self.target.label} answered an encrypted WinRM request in plain text (Content-Type {content_type!r}); "
                "refusing to go on unencrypted over HTTP: check the endpoint, or use HTTPS"
            )
        return response

    def _translated_errors(self, doing: str):
        return _ErrorTranslation(self.target, doing)


class _ErrorTranslation:
    """Context manager that turns pywinrm/requests exceptions into a WinRMError naming the target."""

    def __init__(self, target: WinRMTarget, doing: str) -> None:
        self.target = target
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or isinstance(exc, WinRMError):
            return False
        target = self.target
        if isinstance(exc, InvalidCredentialsError):
            raise WinRMAuthenticationError(
                f"authentication failed for {target.label} (transport {target.transport}): "
                f"check ansible_user and ansible_password{_rejection_hints(target)}"
            ) from None
        if isinstance(exc, requests.exceptions.SSLError):
            raise WinRMError(
                f"cannot {self.doing} {target.label}: the TLS certificate of {target.endpoint} was not accepted "
                f"({_first_line(exc)}); set ansible_winrm_ca_trust_path to the CA that signed it"
            ) from None
        if isinstance(exc, requests.exceptions.ConnectionError) and self.doing == "run a command on":
            raise WinRMError(
                f"the WinRM connection to {target.label} broke while a command ran ({_first_line(exc)}); "
                "its changes may be partly applied: run the task again, it reads the host's state first"
            ) from None
        if isinstance(exc, requests.exceptions.ConnectionError):
            raise WinRMError(
                f"cannot {self.doing} {target.label}: no WinRM answer at {target.endpoint} ({_first_line(exc)}); "
                "check ansible_host, ansible_port and that WinRM listens there"
            ) from None
        if isinstance(exc, requests.exceptions.Timeout):
            raise WinRMError(f"cannot {self.doing} {target.label}: {target.endpoint} timed out") from None
        if isinstance(exc, WinRMOperationTimeoutError):
            raise WinRMError(f"cannot {self.doing} {target.label}: the operation timed out") from None
        if isinstance(exc, WSManFaultError):
            raise WinRMError(f"cannot {self.doing} {target.label}: WS-Management fault: {exc.reason}") from None
        if isinstance(exc, (PyWinRMError, requests.RequestException)):
            raise WinRMError(f"cannot {self.doing} {target.label}: {_first_line(exc)}") from None
        return False


def _rejection_hints(target: WinRMTarget) -> str:
    """What else makes Windows answer 401 to a right password, for the user and transport given."""
    hints = []
    if target.transport == "basic":
        hints.append(
            "Basic authentication is off on a default Windows host: use ntlm, or turn it on for HTTPS "
            "(Set-Item WSMan:\\localhost\\Service\\Auth\\Basic $true)"
        )
    user = target.user
    local = "@" not in user and ("\\" not in user or user.startswith(".\\"))
    if local and user.split("\\")[-1].lower() != "administrator":
        hints.append(
            f"{user} looks like a local account: a local administrator other than the built-in Administrator is "
            "refused over WinRM by UAC remote restrictions unless HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion"
            "\\Policies\\System\\LocalAccountTokenFilterPolicy is 1 (see the README's Windows prerequisites); "
            "or use a domain account"
        )
    return "; or: " + "; or: ".join(hints) if hints else ""


def _environment_ca_bundle() -> Optional[str]:
    """The CA bundle requests would take from the environment, passed explicitly (pywinrm deprecates reading it)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _as_port(value: Any) -> Optional[int]:
    if value in (None, ""):
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise WinRMError(f"WinRM port {value!r} is not a number: set ansible_port to 1-65535") from None
    if not is_port(port):
        raise WinRMError(f"WinRM port {port} is out of range: set ansible_port to 1-65535")
    return port
