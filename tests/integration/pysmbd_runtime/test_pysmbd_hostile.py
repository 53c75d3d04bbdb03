"""Hostile input against a running pysmbd: nothing crashes it, and another session keeps working."""

from __future__ import annotations

import random
import socket
import struct

import pytest
from smbprotocol.exceptions import LogonFailure, SMBResponseException

from tests.support.accounts import RUNTIME_PASSWORD, RUNTIME_USER
from tests.support.smb_session import SmbSession
from tests.support.smbclient_cli import run_smbclient

pytestmark = pytest.mark.timeout(240)


def raw_connection(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def closed_by_server(sock: socket.socket) -> bool:
    """Read until EOF (True) or until the server goes quiet for 10 s while keeping the socket open (False)."""
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def smb1_negotiate(*dialects: bytes) -> bytes:
    names = b"".join(b"\x02" + dialect + b"\x00" for dialect in dialects)
    header = b"\xffSMB" + struct.pack("<BIBHH8sHHHHH", 0x72, 0, 0x18, 0xC853, 0, b"\x00" * 8, 0, 0, 0xFFFE, 0, 0)
    body = struct.pack("<BH", 0, len(names)) + names
    message = header + body
    return struct.pack(">I", len(message)) + message


@pytest.fixture
def server_and_bystander(pysmbd_server, smb_sessions):
    server = pysmbd_server(port_count=1, server="max_frame_size = 1048576")
    bystander = smb_sessions(server.ports[0])
    assert bystander.write_and_read("bystander.txt", b"first") == b"first"
    yield server, bystander
    # What every test here must leave true.
    assert server.alive(), server.log.read_text()
    assert bystander.write_and_read("bystander.txt", b"still working") == b"still working"


def test_truncated_frames(server_and_bystander):
    server = server_and_bystander[0]
    port = server.ports[0]
    for data in (
        b"\x00\x00",
        b"\x00\x00\x03\xe8" + b"\xfeSMB" + b"\x00" * 6,
        b"\x00\x00\x00\x14\xfeSMB" + b"\x00" * 16,
    ):
        with raw_connection(port) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            assert closed_by_server(sock)


def test_oversized_frame_closes_only_that_connection(server_and_bystander):
    server = server_and_bystander[0]
    with raw_connection(server.ports[0]) as sock:
        sock.sendall(struct.pack(">I", 0xFFFFFF) + b"\xfeSMB" + b"\x00" * 60)
        assert closed_by_server(sock)
    with raw_connection(server.ports[0]) as sock:
        sock.sendall(b"\x01\x00\x00\x10" + b"\x00" * 16)  # NetBIOS session request type, not a Direct TCP frame
        assert closed_by_server(sock)


def test_random_frames(server_and_bystander):
    server = server_and_bystander[0]
    rng = random.Random(20261125)
    for round_number in range(60):
        with raw_connection(server.ports[0]) as sock:
            sock.settimeout(2)
            for _frame in range(rng.randint(1, 5)):
                body = bytes(rng.getrandbits(8) for _byte in range(rng.randint(0, 300)))
                if round_number % 2:  # half of them look like SMB2 so they get past the magic check
                    body = b"\xfeSMB" + struct.pack("<H", 64) + body
                try:
                    sock.sendall(struct.pack(">I", len(body)) + body)
                except (BrokenPipeError, ConnectionResetError):
                    break
    assert server.alive()


def test_smb1_only_client_is_refused_cleanly_and_smb2_wildcard_is_answered(server_and_bystander):
    server = server_and_bystander[0]
    with raw_connection(server.ports[0]) as sock:
        sock.sendall(smb1_negotiate(b"NT LM 0.12"))
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        assert not reply or reply[4:8] in (b"\xffSMB", b"\xfeSMB")
    with raw_connection(server.ports[0]) as sock:
        sock.sendall(smb1_negotiate(b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???"))
        header = sock.recv(8)
        assert header[4:8] == b"\xfeSMB"  # a multi-protocol negotiate upgrades to SMB2


def test_bad_credentials_fail_cleanly(server_and_bystander, smb_sessions):
    server = server_and_bystander[0]
    port = server.ports[0]
    wrong = run_smbclient(port, "//127.0.0.1/data", "-c", "ls", password="wrong-password", user=RUNTIME_USER)
    assert wrong.returncode != 0 and "NT_STATUS_LOGON_FAILURE" in wrong.stdout + wrong.stderr
    unknown = run_smbclient(port, "//127.0.0.1/data", "-c", "ls", user="mallory", password="x")
    assert unknown.returncode != 0 and "NT_STATUS_LOGON_FAILURE" in unknown.stdout + unknown.stderr
    with pytest.raises(LogonFailure):
        smb_sessions(port, password="wrong-password")


def open_for_read(session: SmbSession, name: str) -> bytes:
    handle = session.open_file(name, write=False)
    try:
        return handle.read(0, 4096)
    finally:
        handle.close()


@pytest.mark.parametrize(
    "name",
    [
        "..\\..\\..\\..\\etc\\passwd",
        "sub\\..\\..\\..\\..\\etc\\passwd",
        "\\..\\etc\\passwd",
        "/etc/passwd",
        "C:\\etc\\passwd",
        "escape\\passwd",
        "passwd-link",
        "dotdot\\etc\\passwd",
    ],
)
def test_path_traversal_is_refused(server_and_bystander, name):
    server, bystander = server_and_bystander
    (server.share / "sub").mkdir(exist_ok=True)
    (server.share / "escape").unlink(missing_ok=True)
    (server.share / "escape").symlink_to("/etc")
    (server.share / "passwd-link").unlink(missing_ok=True)
    (server.share / "passwd-link").symlink_to("/etc/passwd")
    (server.share / "dotdot").unlink(missing_ok=True)
    (server.share / "dotdot").symlink_to("../../../..")
    with pytest.raises(SMBResponseException):
        data = open_for_read(bystander, name)
        pytest.fail(f"{name!r} opened a file outside the share: {data[:40]!r}")


def test_smbclient_cannot_climb_out_of_the_share(server_and_bystander, tmp_path):
    server = server_and_bystander[0]
    port = server.ports[0]
    secret = server.root / "outside.txt"
    secret.write_text("outside the share")
    target = tmp_path / "got.txt"
    for command in (f"get ..\\outside.txt {target}", f"cd ..; get outside.txt {target}", f"get /etc/passwd {target}"):
        run_smbclient(port, "//127.0.0.1/data", "-c", command, user=RUNTIME_USER, password=RUNTIME_PASSWORD)
        assert not target.exists(), f"{command!r} fetched a file outside the share"
