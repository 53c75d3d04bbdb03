"""The accounts the test peers are set up with, one pair per kind of server the tests start.

Kept apart per kind so that a test reads which server it logs into (``QUIC_USER`` is the user of the QUIC
pysmbd, not of Samba); the passwords are test-only values, written to throwaway users files.
"""

from __future__ import annotations

# pysmbd's protocol core driven in process, without sockets (tests/unit/pysmbd_core).
CORE_USER, CORE_PASSWORD = "alice", "Pa55-word"
# pysmbd's core served on a loopback port from a thread, for smbclient, smbprotocol and smbtorture.
THREADED_USER, THREADED_PASSWORD = "alice", "Corr3ct-Horse"
# The installed ``pysmbd`` command as its own process (tests/integration/pysmbd_runtime).
RUNTIME_USER, RUNTIME_PASSWORD = "alice", "Secret-123"
# pysmbd with a QUIC listener (tests/integration/quic, bench/quic).
QUIC_USER, QUIC_PASSWORD = "quicuser", "Quic-Secret-42"
# pysmbd that the Linux end-to-end plays change (tests/integration/linux).
E2E_USER, E2E_PASSWORD = "tester", "Linux-e2e-pa55!"
# pysmbd of the fault tests (each test picks its own password).
FAULTS_USER = "faulty"
# Samba's smbd (tests/support/samba.py) as the verify tests start it.
SAMBA_USER, SAMBA_PASSWORD = "verifier", "Corr3ct-Horse-Battery"
# The fleet the report tests verify: its pysmbd servers and its Samba (tests/support/report_fleet.py).
REPORT_USER, REPORT_PASSWORD = "reporter", "Fleet-rep0rt-pa55"
# The administrator of an emulated Windows host reached over WinRM.
WINDOWS_USER = "Administrator"
