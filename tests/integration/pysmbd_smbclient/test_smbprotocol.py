"""smbprotocol's high-level ``smbclient`` module against pysmbd: encrypted by default, several opens at once."""

from __future__ import annotations

import os
import uuid

import pytest
import smbclient
from smbprotocol.connection import Connection
from smbprotocol.exceptions import LogonFailure, SMBOSError
from smbprotocol.session import Session

from tests.support.accounts import THREADED_PASSWORD as PASSWORD
from tests.support.accounts import THREADED_USER as USER


@pytest.fixture
def unc(pysmbd_server):
    smbclient.register_session("127.0.0.1", username=USER, password=PASSWORD, port=pysmbd_server.port)
    yield lambda path: "\\\\127.0.0.1\\share" + ("\\" + path if path else "")
    smbclient.reset_connection_cache()


def test_files_and_directories(pysmbd_server, unc):
    port = pysmbd_server.port
    payloads = {f"file{i}.bin": os.urandom(100_000 + i) for i in range(4)}
    handles = [smbclient.open_file(unc(name), mode="wb", port=port) for name in payloads]
    try:  # all four stay open together, written in interleaved order
        for handle, data in zip(handles, payloads.values()):
            handle.write(data[:50_000])
        for handle, data in zip(handles, payloads.values()):
            handle.write(data[50_000:])
    finally:
        for handle in handles:
            handle.close()
    assert sorted(smbclient.listdir(unc(""), port=port)) == sorted(payloads)
    for name, data in payloads.items():
        assert (pysmbd_server.share / name).read_bytes() == data
        with smbclient.open_file(unc(name), mode="rb", port=port) as handle:
            assert handle.read() == data

    smbclient.mkdir(unc("dir"), port=port)
    smbclient.rename(unc("file0.bin"), unc("dir\\renamed.bin"), port=port)
    assert smbclient.stat(unc("dir\\renamed.bin"), port=port).st_size == len(payloads["file0.bin"])
    smbclient.remove(unc("dir\\renamed.bin"), port=port)
    smbclient.rmdir(unc("dir"), port=port)
    for name in list(payloads)[1:]:
        smbclient.remove(unc(name), port=port)
    assert smbclient.listdir(unc(""), port=port) == []
    assert list(pysmbd_server.share.iterdir()) == []


def test_large_io_is_multi_credit(pysmbd_server, unc):
    """One WRITE and one READ each carry far more than the 64 KiB of a single credit."""
    port = pysmbd_server.port
    data = os.urandom(8 * 1024 * 1024)
    with smbclient.open_file(unc("big.bin"), mode="wb", port=port, buffering=0) as handle:
        first = handle.write(data)  # smbprotocol caps one request at its credit balance
        assert first > 4 * 1024 * 1024
        written = first
        while written < len(data):
            written += handle.write(data[written:])
    with smbclient.open_file(unc("big.bin"), mode="rb", port=port, buffering=0) as handle:
        chunk = handle.read(len(data))
        assert len(chunk) > 4 * 1024 * 1024
        assert chunk + handle.read() == data


@pytest.mark.parametrize("encrypt", [True, False])
def test_low_level_session_reports_negotiated_security(pysmbd_server, encrypt):
    connection = Connection(uuid.uuid4(), "127.0.0.1", pysmbd_server.port)
    connection.connect(timeout=10)
    try:
        assert connection.dialect == 0x0311
        assert connection.require_signing
        assert connection.max_read_size == 8 * 1024 * 1024
        session = Session(connection, USER, PASSWORD, require_encryption=encrypt)
        session.connect()
        assert session.encrypt_data is encrypt
        session.disconnect()
    finally:
        connection.disconnect()


def test_bad_password(pysmbd_server):
    connection = Connection(uuid.uuid4(), "127.0.0.1", pysmbd_server.port)
    connection.connect(timeout=10)
    try:
        with pytest.raises(LogonFailure):
            Session(connection, USER, "not-the-password").connect()
    finally:
        connection.disconnect()


def test_read_only_share(pysmbd_server):
    smbclient.register_session("127.0.0.1", username=USER, password=PASSWORD, port=pysmbd_server.port)
    try:
        with pytest.raises(SMBOSError, match="STATUS_ACCESS_DENIED"):
            smbclient.open_file("\\\\127.0.0.1\\ro\\new.txt", mode="w", port=pysmbd_server.port)
        with smbclient.open_file("\\\\127.0.0.1\\ro\\readme.txt", port=pysmbd_server.port) as handle:
            assert handle.read() == "read me\n"
    finally:
        smbclient.reset_connection_cache()
