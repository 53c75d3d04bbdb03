"""WinRS shells and their commands: Create, Command, Send, Receive, Signal, Delete.

A shell belongs to the user who created it. A command starts when Command arrives: the
:class:`CommandRunner` either finishes it at once (a command line it refuses) or lets it wait for
stdin; stdin may come in several Send requests and the command runs when the one marked End arrives.
Receive returns output in chunks (Windows keeps each reply under the envelope size) and reports
``Done`` with the exit code exactly once, in the reply that carries the last chunk. A Receive that
finds nothing waits until something happens or the client's operation timeout passes, then answers
with the timeout fault that makes pywinrm ask again.

A command that waits for stdin which never ends would hang its client for ever (as
``powershell.exe`` reading ``$input`` would on Windows). The host ends such a command once no input has
arrived for ``stdin_idle_limit`` seconds, with exit code 1 and a sentence saying so, so that a test
that forgot ``end=True`` fails quickly and plainly.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from .powershell_process import ProcessResult
from .wsman_messages import (
    FAULT_ACCESS_DENIED,
    FAULT_OPERATION_TIMEOUT,
    FAULT_SHELL_NOT_FOUND,
    WsmanFault,
    unknown_command_fault,
)

RECEIVE_CHUNK = 64 * 1024
STDIN_IDLE_LIMIT = 60.0


@dataclass
class CommandRun:
    """One command in a shell."""

    command_id: str
    shell_id: str
    user: str
    command: str
    arguments: list[str]
    stdin: bytearray = field(default_factory=bytearray)
    stdin_closed: bool = False
    result: ProcessResult | None = None
    stdout_sent: int = 0
    stderr_sent: int = 0
    done_reported: bool = False
    drop_connection: bool = False  # fault injection: the runner asks to drop the client's connection
    options: dict[str, str] = field(default_factory=dict)  # the Command's OptionSet (WINRS_CONSOLEMODE_STDIN, ...)
    last_input: float = field(default_factory=time.monotonic)


class CommandRunner(Protocol):
    """What runs the commands (the host: it checks them and runs the executor)."""

    def start_command(self, run: CommandRun) -> ProcessResult | None:
        """Called on Command: a result ends the command at once; None waits for stdin."""

    def finish_command(self, run: CommandRun) -> ProcessResult:
        """Called when stdin is complete: run the command."""


@dataclass
class Shell:
    shell_id: str
    owner: str
    commands: dict[str, CommandRun] = field(default_factory=dict)


class ShellManager:
    """All shells of the host; thread-safe (one HTTP handler thread per connection)."""

    def __init__(
        self, runner: CommandRunner, chunk: int = RECEIVE_CHUNK, stdin_idle_limit: float = STDIN_IDLE_LIMIT
    ) -> None:
        self._runner = runner
        self._chunk = chunk
        self._stdin_idle_limit = stdin_idle_limit
        self._shells: dict[str, Shell] = {}
        self._changed = threading.Condition()
        self._closed = False

    def create(self, owner: str) -> str:
        shell_id = str(uuid.uuid4()).upper()
        with self._changed:
            self._shells[shell_id] = Shell(shell_id, owner)
        return shell_id

    def _shell(self, owner: str, shell_id: str | None) -> Shell:
        shell = self._shells.get(shell_id or "")
        if shell is None:
            raise WsmanFault(
                FAULT_SHELL_NOT_FOUND,
                f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
                "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
                "exists on the server. Provide the correct ShellId or create a new shell and execute the command "
                "again.",
                subcode="w:InvalidSelectors",
            )
        if shell.owner != owner:
            raise WsmanFault(FAULT_ACCESS_DENIED, "Access is denied.", subcode="w:AccessDenied")
        return shell

    def _command(self, owner: str, shell_id: str | None, command_id: str) -> CommandRun:
        shell = self._shell(owner, shell_id)
        run = shell.commands.get(command_id)
        if run is None:
            raise unknown_command_fault()
        return run

    def delete(self, owner: str, shell_id: str | None) -> None:
        with self._changed:
            shell = self._shell(owner, shell_id)
            del self._shells[shell.shell_id]
            self._changed.notify_all()

    def command(
        self,
        owner: str,
        shell_id: str | None,
        command: str,
        arguments: list[str],
        options: dict[str, str] | None = None,
    ) -> str:
        with self._changed:
            shell = self._shell(owner, shell_id)
        run = CommandRun(
            str(uuid.uuid4()).upper(), shell.shell_id, owner, command, arguments, options=dict(options or {})
        )
        result = self._runner.start_command(run)
        with self._changed:
            run.result = result
            if result is not None:
                run.stdin_closed = True
            shell.commands[run.command_id] = run
            self._changed.notify_all()
        return run.command_id

    def send(self, owner: str, shell_id: str | None, command_id: str, data: bytes, end: bool) -> CommandRun | None:
        """Add stdin; run the command when ``end`` is set. Returns the run when it ran."""
        with self._changed:
            run = self._command(owner, shell_id, command_id)
            if run.stdin_closed:
                if run.result is not None:
                    return None  # input to a command that has already ended is dropped, as WinRS does
                raise WsmanFault(FAULT_SHELL_NOT_FOUND, "The input stream of this command has already been closed.")
            run.stdin.extend(data)
            run.last_input = time.monotonic()
            if not end:
                return None
            run.stdin_closed = True
        # Run outside the lock: other shells keep working meanwhile.
        result = self._runner.finish_command(run)
        with self._changed:
            run.result = result
            self._changed.notify_all()
        return run

    def receive(
        self, owner: str, shell_id: str | None, command_id: str, timeout: float
    ) -> tuple[bytes, bytes, int | None]:
        """(stdout chunk, stderr chunk, exit code once everything is delivered, else None)."""
        with self._changed:
            run = self._command(owner, shell_id, command_id)
            stdin_deadline = run.last_input + self._stdin_idle_limit
            wait = timeout if run.stdin_closed else min(timeout, max(0.0, stdin_deadline - time.monotonic()))
            if not self._changed.wait_for(lambda: run.result is not None or self._closed, timeout=wait):
                if not run.stdin_closed and time.monotonic() >= run.last_input + self._stdin_idle_limit:
                    run.stdin_closed = True
                    run.result = ProcessResult(
                        1,
                        b"",
                        f"emulated host: the command got no input for {self._stdin_idle_limit:g} s and its stdin was "
                        "never ended; send stdin with end=True\r\n".encode(),
                    )
            if run.result is None and not self._closed:
                raise WsmanFault(
                    FAULT_OPERATION_TIMEOUT,
                    "The WS-Management service cannot complete the operation within the time specified in "
                    "OperationTimeout.",
                    subcode="w:TimedOut",
                    value="s:Receiver",
                )
            result = run.result
            if result is None:
                raise WsmanFault(FAULT_SHELL_NOT_FOUND, "The shell was closed because the host is stopping.")
            stdout = result.stdout[run.stdout_sent : run.stdout_sent + self._chunk]
            run.stdout_sent += len(stdout)
            stderr = b""
            if len(stdout) < self._chunk:
                stderr = result.stderr[run.stderr_sent : run.stderr_sent + self._chunk - len(stdout)]
                run.stderr_sent += len(stderr)
            drained = run.stdout_sent >= len(result.stdout) and run.stderr_sent >= len(result.stderr)
            if drained and not run.done_reported:
                run.done_reported = True
                return stdout, stderr, result.exit_code
            return stdout, stderr, None

    def signal(self, owner: str, shell_id: str | None, command_id: str) -> None:
        with self._changed:
            run = self._command(owner, shell_id, command_id)
            if run.result is None:
                run.stdin_closed = True
                run.result = ProcessResult(-1073741510)  # STATUS_CONTROL_C_EXIT: terminated before it ended
            self._shell(owner, shell_id).commands.pop(command_id, None)
            self._changed.notify_all()

    def open_shells(self) -> int:
        with self._changed:
            return len(self._shells)

    def close(self) -> None:
        """Wake every waiting Receive (the host is stopping)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
