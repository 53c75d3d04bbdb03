"""CPU per request of pysmbd's protocol core, one source tree against another, in one run.

On a machine shared with other jobs, wall-time benchmarks against Samba move by 2x between identical runs. This
one drives the sans-IO core in-process (no sockets, no threads) and reports the least CPU time per request
over several rounds, which other load disturbs far less, so a change to the request path can be compared with
the code before it:

    git archive main roles/pysmbd/files/pysmbd/src | tar -x -C /tmp/baseline
    .venv/bin/python bench/pysmbd/bench_core_ab.py --baseline /tmp/baseline/roles/pysmbd/files/pysmbd/src

Each tree runs in its own interpreter, the two taking turns round by round; requests are unsigned (signing
costs the same in both trees).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CURRENT = ROOT / "roles" / "pysmbd" / "files" / "pysmbd" / "src"

# Runs inside the interpreter of one tree; prints {"write 4096": us, ...} as JSON.
_WORKER = r"""
import json, os, resource, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from pysmbd_core import wire_helpers as wire
from pysmbd.core.connection import SMBServerConnection
from pysmbd.core.context import DEFAULT_MAX_FRAME_SIZE, ServerContext, ShareConfig, new_server_guid
from pysmbd.core.users import nt_hash

root = Path(tempfile.mkdtemp())
(root / "share").mkdir()
(root / "users").write_text(f"bench:1000:{'X' * 32}:{nt_hash('pw').hex().upper()}:[U          ]:LCT-00000000:\n")
context = ServerContext(
    server_name="BENCH", workgroup="WORKGROUP", server_guid=new_server_guid(), users_file=root / "users",
    require_signing=False, max_frame_size=DEFAULT_MAX_FRAME_SIZE, shares={"share": ShareConfig("share", root / "share")},
    start_time=time.time(),
)

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

results = {}
for size, count in ((4096, 400), (512 * 1024, 60)):
    for op in ("write", "read"):
        best = None
        for _round in range(int(sys.argv[2])):
            conn = SMBServerConnection(context)  # a fresh connection: the MessageId window starts over
            session_id, tree_id = wire.open_tree(conn, "bench", "pw")
            conn.receive_data(wire.framed(wire.create_request(60, session_id, tree_id, "f.bin", disposition=5)), 2.0)
            file_id = wire.file_id_of(wire.responses(conn)[0])
            if op == "read":
                conn.receive_data(wire.framed(wire.write_request(61, session_id, tree_id, file_id, os.urandom(size))), 2.0)
                wire.responses(conn)
            message_id, data = 100, os.urandom(size)
            started = cpu()
            for _ in range(count):
                if op == "write":
                    message = wire.write_request(message_id, session_id, tree_id, file_id, data)
                else:
                    message = wire.read_request(message_id, session_id, tree_id, file_id, size)
                conn.receive_data(wire.framed(message), 3.0)
                answers = wire.responses(conn)
                assert answers and answers[0].status == 0, [hex(a.status) for a in answers]
                message_id += wire.charge(size)
            spent = (cpu() - started) / count * 1e6
            best = spent if best is None else min(best, spent)
        results[f"{op} {size}"] = round(best, 1)
print(json.dumps(results))
"""


def measure(tree: Path, rounds: int) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{tree}{os.pathsep}{ROOT / 'tests' / 'unit'}")
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, str(ROOT / "tests" / "unit"), str(rounds)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a pysmbd src directory to compare with")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per tree; the least CPU time counts")
    args = parser.parse_args()
    # The trees take turns, one round each, so a change in the machine's load hits both alike.
    baseline: dict = {}
    current: dict = {}
    for _round in range(args.rounds):
        for tree, best in ((args.baseline, baseline), (CURRENT, current)):
            for name, spent in measure(tree, 1).items():
                best[name] = min(spent, best.get(name, spent))
    print("| request | baseline CPU us | this tree CPU us | this / baseline |")
    print("|---|---|---|---|")
    for name, before in baseline.items():
        after = current[name]
        print(f"| {name} bytes | {before} | {after} | {after / before:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
