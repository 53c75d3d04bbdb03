"""Samba's smbclient against pysmbd on an alternative port: the acceptance list of the pysmbd issue."""

from __future__ import annotations

import os

import pytest

from tests.support.accounts import THREADED_PASSWORD as PASSWORD
from tests.support.accounts import THREADED_USER as USER
from tests.support.peers import require_tool

pytestmark = pytest.mark.peer

# -m SMB2 caps smbclient at 2.1, which has no encryption; encryption is tested with -m SMB3.
MODES = [("SMB2", "sign"), ("SMB3", "sign"), ("SMB3", "encrypt")]


@pytest.mark.parametrize(("max_protocol", "protection"), MODES)
def test_file_round_trip(pysmbd_server, max_protocol, protection):
    payload = os.urandom(3 * 1024 * 1024 + 17)
    (pysmbd_server.workdir / "upload.bin").write_bytes(payload)
    script = (
        "put upload.bin; ls; get upload.bin download.bin; mkdir sub; rename upload.bin sub\\moved.bin; "
        "allinfo sub\\moved.bin; ls sub\\*"
    )
    result = pysmbd_server.smbclient("-m", max_protocol, f"--client-protection={protection}", "-c", script)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (pysmbd_server.workdir / "download.bin").read_bytes() == payload
    assert (pysmbd_server.share / "sub" / "moved.bin").read_bytes() == payload
    assert not (pysmbd_server.share / "upload.bin").exists()
    assert "upload.bin" in result.stdout
    assert "stream: [::$DATA], %d bytes" % len(payload) in result.stdout
    assert "moved.bin" in result.stdout

    cleanup = pysmbd_server.smbclient(
        "-m", max_protocol, f"--client-protection={protection}", "-c", "del sub\\moved.bin; rmdir sub; ls"
    )
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    assert list(pysmbd_server.share.iterdir()) == []


def test_smb2_cannot_encrypt_and_says_so(pysmbd_server):
    result = pysmbd_server.smbclient("-m", "SMB2", "--client-protection=encrypt", "-c", "ls")
    assert result.returncode != 0
    assert "doesn't support SMB3 encryption" in result.stdout + result.stderr


def test_wrong_password_is_logon_failure(pysmbd_server):
    import subprocess

    result = subprocess.run(
        [
            require_tool("smbclient", "smbclient"),
            "//127.0.0.1/share",
            "-p",
            str(pysmbd_server.port),
            "-U",
            f"{USER}%wrong-password",
            "-c",
            "ls",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "NT_STATUS_LOGON_FAILURE" in result.stdout + result.stderr


def test_read_only_share_refuses_writes(pysmbd_server):
    (pysmbd_server.workdir / "new.txt").write_text("x")
    result = pysmbd_server.smbclient("-c", "get readme.txt got.txt; put new.txt; mkdir d", share="ro")
    assert (pysmbd_server.workdir / "got.txt").read_text() == "read me\n"
    assert "NT_STATUS_ACCESS_DENIED" in result.stdout + result.stderr
    assert sorted(p.name for p in pysmbd_server.read_only_share.iterdir()) == ["readme.txt"]


def test_encrypted_share_needs_encryption(pysmbd_server):
    refused = pysmbd_server.smbclient("-m", "SMB2", "-c", "ls", share="enc")
    assert refused.returncode != 0
    assert "NT_STATUS_ACCESS_DENIED" in refused.stdout + refused.stderr
    accepted = pysmbd_server.smbclient("-m", "SMB3", "-c", "mkdir inside; ls", share="enc")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert (pysmbd_server.encrypted_share / "inside").is_dir()


def test_list_shares(pysmbd_server):
    import subprocess

    result = subprocess.run(
        [
            require_tool("smbclient", "smbclient"),
            "-L",
            "//127.0.0.1",
            "-p",
            str(pysmbd_server.port),
            "-U",
            f"{USER}%{PASSWORD}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = result.stdout.splitlines()
    assert any(line.split()[:2] == ["share", "Disk"] and "test share" in line for line in lines), result.stdout
    assert any(line.split()[:2] == ["ro", "Disk"] for line in lines), result.stdout
    assert any(line.split()[:2] == ["IPC$", "IPC"] for line in lines), result.stdout


def test_symlink_out_of_the_share_is_refused(pysmbd_server, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the share")
    (pysmbd_server.share / "escape").symlink_to(secret)
    (pysmbd_server.share / "escape_dir").symlink_to(tmp_path)
    result = pysmbd_server.smbclient(
        "-c", "get escape got1.txt; get escape_dir\\secret.txt got2.txt; get ..\\secret.txt got3.txt"
    )
    assert not any((pysmbd_server.workdir / name).exists() for name in ("got1.txt", "got2.txt", "got3.txt"))
    assert "NT_STATUS_" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("dialect", "protection"),
    [("SMB2_02", "sign"), ("SMB2_10", "sign"), ("SMB3_00", "sign"), ("SMB3_00", "encrypt"), ("SMB3_02", "encrypt")],
)
def test_each_dialect_moves_files_intact(pysmbd_server, dialect, protection):
    """3.0 and 3.0.2 encrypt with AES-128-CCM and sign with AES-CMAC; 2.x signs with HMAC-SHA256."""
    payload = os.urandom(1024 * 1024 + 3)
    (pysmbd_server.workdir / "up.bin").write_bytes(payload)
    result = pysmbd_server.smbclient(
        "-m", dialect, f"--client-protection={protection}", "-c", "put up.bin; get up.bin down.bin"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (pysmbd_server.workdir / "down.bin").read_bytes() == payload
    assert (pysmbd_server.share / "up.bin").read_bytes() == payload


def test_smb1_negotiate_offering_smb2_is_upgraded(pysmbd_server):
    """A client that starts with an SMB1 multi-protocol NEGOTIATE ends up on SMB2/3 (MS-SMB2 3.3.5.3.1)."""
    result = pysmbd_server.smbclient("--option=client min protocol=NT1", "-m", "SMB3", "-c", "mkdir upgraded; ls")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (pysmbd_server.share / "upgraded").is_dir()


def test_smb1_only_client_is_refused_and_the_server_keeps_serving(pysmbd_server):
    refused = pysmbd_server.smbclient("--option=client min protocol=NT1", "-m", "NT1", "-c", "ls")
    assert refused.returncode != 0
    assert "NT_STATUS_CONNECTION_DISCONNECTED" in refused.stdout + refused.stderr
    assert pysmbd_server.smbclient("-c", "ls").returncode == 0


def test_guest_reaches_only_the_guest_share(guest_server):
    (guest_server.workdir / "note.txt").write_text("from a guest")
    public = guest_server.smbclient("-c", "put note.txt; ls", share="pub", anonymous=True)
    assert public.returncode == 0, public.stdout + public.stderr
    assert (guest_server.share.parent / "pub" / "note.txt").read_text() == "from a guest"
    private = guest_server.smbclient("-c", "ls", share="share", anonymous=True)
    assert private.returncode != 0
    assert "NT_STATUS_ACCESS_DENIED" in private.stdout + private.stderr


def test_no_guest_without_a_guest_share(pysmbd_server):
    result = pysmbd_server.smbclient("-c", "ls", anonymous=True)
    assert result.returncode != 0
    assert "NT_STATUS_LOGON_FAILURE" in result.stdout + result.stderr
