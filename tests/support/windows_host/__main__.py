"""Command line: run the emulated Windows host as its own process (molecule's create step does).

    python -m tests.support.windows_host --port 0 --users-file users.txt --tls \\
        --pidfile host.pid --state-file host-state.json [--initial-state state.json] [--cert-file cert.pem]

Run from the repository root (or with it on PYTHONPATH). Once listening it prints one JSON line
``{"url", "address", "port", "pid", "cert_file", "state_file"}`` to stdout, then writes the pidfile, so
a caller can wait for the pidfile and read the state file (which also holds the URL). SIGTERM or
SIGINT stops it cleanly and removes the pidfile.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from .auth import load_users
from .host import EmulatedWindowsHost
from .state import WindowsState, allow_local_admins


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.support.windows_host", description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--users-file", required=True, help="DOMAIN:user:password lines (DOMAIN may be empty)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate")
    parser.add_argument("--cert-file", help="copy the self-signed certificate (PEM) here, for ca_trust_path")
    parser.add_argument("--pidfile", help="write the process id here once listening")
    parser.add_argument("--state-file", help="JSON snapshot of state, calls and counters, rewritten after each change")
    parser.add_argument("--initial-state", help="JSON file with the host's starting state (see README)")
    parser.add_argument("--work-dir", help="directory for the NTLM store and certificate (default: a temp dir)")
    parser.add_argument(
        "--channel-binding",
        choices=("relaxed", "strict", "none"),
        default="relaxed",
        help="NTLM channel binding over HTTPS, as Windows' CbtHardeningLevel (default relaxed)",
    )
    parser.add_argument(
        "--basic-auth", action="store_true", help="turn Basic authentication on (HTTPS only; off on a default host)"
    )
    parser.add_argument("--max-envelope-kb", type=int, default=500, help="MaxEnvelopeSizekb (Windows' default 500)")
    parser.add_argument(
        "--enums",
        choices=("names", "numbers"),
        help="answer enum properties as names or as the CIM class's numbers (overrides the initial state)",
    )
    parser.add_argument(
        "--local-account-token-filter-policy",
        action="store_true",
        help="set LocalAccountTokenFilterPolicy=1, so local administrators other than Administrator may connect",
    )
    parser.add_argument(
        "--serve-smb",
        action="store_true",
        help="serve real SMB over QUIC (the bundled pysmbd) on the QUIC alternative ports (smb_service.py)",
    )
    parser.add_argument("--fail-after-commands", type=int, help="fault injection: fail every command after N runs")
    parser.add_argument(
        "--drop-connection-during-command", type=int, help="fault injection: drop the connection during run N"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        users = load_users(args.users_file)
        initial = WindowsState.from_file(args.initial_state) if args.initial_state else WindowsState()
        if args.enums:
            initial.host["enum_form"] = args.enums
        if args.local_account_token_filter_policy:
            allow_local_admins(initial)
    except (OSError, ValueError, KeyError) as error:
        print(f"windows_host: {error}", file=sys.stderr)
        return 2
    host = EmulatedWindowsHost(
        users,
        tls=args.tls,
        address=args.address,
        port=args.port,
        initial_state=initial,
        state_file=args.state_file,
        work_dir=args.work_dir,
        fail_after_commands=args.fail_after_commands,
        drop_connection_during_command=args.drop_connection_during_command,
        channel_binding=args.channel_binding,
        basic_auth=args.basic_auth,
        max_envelope_kb=args.max_envelope_kb,
        serve_smb=args.serve_smb,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    host.start()
    try:
        if args.cert_file and host.cert_path is not None:
            shutil.copyfile(host.cert_path, args.cert_file)
        address, port = host.address
        ready = {
            "url": host.url,
            "address": address,
            "port": port,
            "pid": os.getpid(),
            "cert_file": args.cert_file or (str(host.cert_path) if host.cert_path else None),
            "state_file": args.state_file,
            "smb_quic_fingerprint_sha256": host.smb.fingerprint_sha256 if host.smb else None,
        }
        print(json.dumps(ready), flush=True)
        if args.pidfile:
            Path(args.pidfile).write_text(f"{os.getpid()}\n", encoding="utf-8")
        stop.wait()
    finally:
        host.stop()
        if args.pidfile:
            Path(args.pidfile).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
