"""The ``pysmbd`` command line (docs/contracts.md of the collection is the contract).

Exit codes: 0 success; 1 the server failed (a listener could not be bound, no answer to a reload);
2 the configuration or the command line is invalid; 3 no server is running for this configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from pysmbd import __version__
from pysmbd.config import Config, ConfigError, load_config
from pysmbd.server.certs import add_gen_cert_parser, command_gen_cert

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_NOT_RUNNING = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pysmbd", description="A small SMB2/3 file server on the ports you choose.")
    parser.add_argument("--version", action="version", version=f"pysmbd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the shares and listeners of a config file")
    serve.add_argument("--config", required=True, type=Path, help="the TOML configuration file")
    serve.add_argument("--daemon", action="store_true", help="detach; exit 0 once listening, 1 if start failed")
    serve.add_argument(
        "--log-file", type=Path, help="JSON-lines log file (default: stderr; <state_dir>/pysmbd.log with --daemon)"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    check = commands.add_parser("check-config", help="validate a config file; exit 2 listing every problem")
    check.add_argument("config_file", nargs="?", type=Path, metavar="FILE")
    check.add_argument("--config", dest="config_option", type=Path, help=argparse.SUPPRESS)

    reload = commands.add_parser("reload", help="make the running server re-read its config and wait for the result")
    reload.add_argument("--config", required=True, type=Path)
    reload.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the server (default 10)")

    status = commands.add_parser("status", help="show the listeners and sessions of the running server")
    status.add_argument("--config", required=True, type=Path)
    status.add_argument("--json", action="store_true", help="print the status document as JSON")

    add_gen_cert_parser(commands)

    hash_password = commands.add_parser("hash-password", help="read a password on stdin and print its NT hash")
    hash_password.add_argument("--user", help="print a whole users-file line for this user instead")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "serve": command_serve,
        "check-config": command_check_config,
        "reload": command_reload,
        "status": command_status,
        "hash-password": command_hash_password,
        "gen-cert": command_gen_cert,
    }
    try:
        return handlers[args.command](args)
    except PermissionError as exc:  # e.g. status by a user who may not read the server's state_dir
        print(
            f"pysmbd {args.command}: {exc.filename or ''}: permission denied; run it as root or as the server's user",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _load(path: Path, *, check_filesystem: bool = True) -> Optional[Config]:
    try:
        return load_config(path, check_filesystem=check_filesystem)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem.format(exc.source), file=sys.stderr)
        return None


def command_check_config(args: argparse.Namespace) -> int:
    path = args.config_file or args.config_option
    if path is None:
        print("pysmbd check-config: give the config file to check: pysmbd check-config FILE", file=sys.stderr)
        return EXIT_INVALID
    config = _load(path)
    if config is None:
        return EXIT_INVALID
    listeners = ", ".join(listener.describe() for listener in config.listeners) or "none"
    print(f"{path}: OK ({len(config.shares)} shares; listeners: {listeners})")
    return EXIT_OK


def command_serve(args: argparse.Namespace) -> int:
    # Imported here: the other commands (check-config and reload on every port change) start faster without them.
    import asyncio

    from pysmbd.server import eventlog
    from pysmbd.server.app import PysmbdServer
    from pysmbd.server.daemon import detach, report_ready

    config = _load(args.config)
    if config is None:
        return EXIT_INVALID
    config = dataclasses.replace(config, source=args.config.resolve())  # reloads work after the daemon's chdir("/")
    log_file = args.log_file.resolve() if args.log_file else None
    unreported: List[int] = []  # the descriptor the daemon's start is reported on, until it is
    if args.daemon:
        log_file = log_file or config.server.state_dir / "pysmbd.log"
        unreported.append(detach(log_file))
    eventlog.configure_logging(log_file, args.log_level)

    def ready(error: Optional[str]) -> None:
        if unreported:
            report_ready(unreported.pop(), error)
        elif error is not None:
            print(f"pysmbd: {error}", file=sys.stderr)

    if config.server.workers > 1:
        from pysmbd.server.workers import Supervisor

        def run_worker(worker_config: Config, index: int, count: int, report: Callable) -> int:
            for fd in unreported:  # the supervisor reports the start; a copy here would keep the waiter waiting
                os.close(fd)
            unreported.clear()
            return asyncio.run(PysmbdServer(worker_config, worker=(index, count)).run(report))

        return Supervisor(config, run_worker).run(ready)
    server = PysmbdServer(config)
    try:
        return asyncio.run(server.run(ready))
    except Exception as exc:
        eventlog.error("server_crashed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
        raise


def _not_running(config: Config, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"running": False, "pid": None, "listeners": [], "sessions": 0, "connections": 0}))
    else:
        print(f"pysmbd is not running for {config.source} (state_dir {config.server.state_dir})", file=sys.stderr)
    return EXIT_NOT_RUNNING


def _current_status(config: Config) -> Optional[Dict[str, Any]]:
    from pysmbd.server.statusfile import read_status, running_pid

    pid = running_pid(config.server.state_dir)
    if pid is None:
        return None
    status = read_status(config.server.state_dir)
    if status is None or status.get("pid") != pid:
        return None
    status["running"] = True
    return status


def command_status(args: argparse.Namespace) -> int:
    config = _load(args.config, check_filesystem=False)
    if config is None:
        return EXIT_INVALID
    status = _current_status(config)
    if status is None:
        return _not_running(config, args.json)
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(format_status(status))
    return EXIT_OK


def _mib(count: int) -> str:
    return f"{count / (1024 * 1024):.1f}"


def format_status(status: Dict[str, Any]) -> str:
    lines = [f"pysmbd {status.get('version', '')} running, pid {status['pid']}, since {status['started']}"]
    lines.append(f"config: {status.get('config')}")
    lines.append("listeners:")
    for row in status["listeners"]:
        where = f"{row['transport']} {row['address']}:{row['port']}"
        state = row["state"] if row["state"] == "listening" else f"{row['state']}: {row['error']}"
        if not row.get("configured", True):
            state += " (removed from the config; kept open because the last reload failed)"
        lines.append(f"  {where:<32} {state}")
    lines.append(f"sessions: {status['sessions']}, connections: {status['connections']}")
    if status.get("workers"):
        pids = ", ".join(str(row["pid"] or "starting") for row in status["workers"])
        lines.append(f"workers: {len(status['workers'])} (pids {pids})")
    memory = status.get("memory")
    if memory:
        lines.append(
            f"memory for clients: {_mib(memory['in_use'])} of {_mib(memory['limit'])} MiB"
            f" (largest connection {_mib(memory['largest_connection'])} of {_mib(memory['per_connection_limit'])} MiB,"
            f" {memory['paused_connections']} waiting)"
        )
    last = status.get("last_reload")
    if last:
        lines.append(f"last reload: {last['time']} {'ok' if last['ok'] else 'FAILED'}")
        lines.extend(f"  {error}" for error in last.get("errors", []))
    return "\n".join(lines)


def command_reload(args: argparse.Namespace) -> int:
    from pysmbd.server.statusfile import read_status, running_pid

    config = _load(args.config)
    if config is None:
        return EXIT_INVALID
    pid = running_pid(config.server.state_dir)
    if pid is None:
        return _not_running(config, as_json=False)
    current = read_status(config.server.state_dir) or {}
    served = current.get("config")
    if served and not _same_file(Path(served), args.config):
        print(
            f"pysmbd reload: the server (pid {pid}) reads {served}, not {args.config}; a reload would not apply "
            f"{args.config}: restart the server with --config {args.config}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    before = current.get("generation", -1)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return _not_running(config, as_json=False)
    except PermissionError:
        print(
            f"pysmbd reload: no permission to signal pid {pid}; run it as root or as the server's user", file=sys.stderr
        )
        return EXIT_FAILED
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        status = _current_status(config)
        if status is not None and status.get("generation", -1) > before:
            print(json.dumps(status, indent=2))
            last = status.get("last_reload") or {}
            failed = any(row["state"] != "listening" for row in status["listeners"])
            return EXIT_OK if last.get("ok") and not failed else EXIT_FAILED
        time.sleep(0.05)
    print(f"pysmbd (pid {pid}) did not finish reloading within {args.timeout:g} seconds; see its log", file=sys.stderr)
    return EXIT_FAILED


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return first.resolve() == second.resolve()


def nt_hash(password: str) -> str:
    """The NT hash (MD4 of the UTF-16LE password) as smbpasswd writes it: 32 upper-case hex digits."""
    from spnego._ntlm_raw.md4 import md4  # OpenSSL 3 no longer offers MD4 through hashlib

    return md4(password.encode("utf-16-le")).hex().upper()


def command_hash_password(args: argparse.Namespace) -> int:
    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    if not password:
        print(
            'pysmbd hash-password: no password on stdin; pipe it in, e.g. printf %s "$PW" | pysmbd hash-password',
            file=sys.stderr,
        )
        return EXIT_INVALID
    digest = nt_hash(password)
    if args.user:
        if ":" in args.user or not args.user.strip():
            print(f"pysmbd hash-password: {args.user!r} is not a valid user name (no ':' allowed)", file=sys.stderr)
            return EXIT_INVALID
        print(f"{args.user}:0:{'X' * 32}:{digest}:[U          ]:LCT-{int(time.time()):08X}:")
    else:
        print(digest)
    return EXIT_OK
