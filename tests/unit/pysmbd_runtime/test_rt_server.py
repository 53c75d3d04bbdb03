"""The runtime on its own (listeners, hitless reload, limits, status) with a toy core and real sockets."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from pysmbd.config import load_config
from pysmbd.server.app import PysmbdServer, StartupError
from pysmbd.server.statusfile import running_pid
from tests.support.net import free_port

from .fake_core import FakeCore, frame, pattern

pytestmark = pytest.mark.timeout(60)


def listeners_toml(ports: List[int]) -> str:
    return "".join(f'[[listeners]]\naddress = "127.0.0.1"\nport = {port}\n' for port in ports)


SHARES = '[[shares]]\nname = "data"\npath = "@SHARE@"\n'


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        return cls(reader, writer)

    async def ask(self, payload: bytes) -> Optional[bytes]:
        """Send one frame and read the answer frame; None when the server closed the connection."""
        self.writer.write(frame(payload))
        try:
            length = struct.unpack(">I", await asyncio.wait_for(self.reader.readexactly(4), 5))[0]
            return await asyncio.wait_for(self.reader.readexactly(length), 5)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def closed_by_server(self, timeout: float = 10) -> bool:
        try:
            return await asyncio.wait_for(self.reader.read(1), timeout) == b""
        except ConnectionError:
            return True

    def close(self) -> None:
        self.writer.close()


async def refused(port: int) -> bool:
    try:
        writer = (await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5))[1]
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


async def start(path: Path) -> Tuple[PysmbdServer, asyncio.Task]:
    server = PysmbdServer(load_config(path), core_factory=FakeCore)
    ready: asyncio.Future = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(server.run(ready.set_result))
    error = await asyncio.wait_for(ready, 10)
    if error is not None:
        await task
        raise StartupError(error)
    return server, task


async def stop(server: PysmbdServer, task: asyncio.Task) -> None:
    server.request("stop")
    assert await asyncio.wait_for(task, 10) == 0


def read_status(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "state" / "status.json").read_text())


def test_reload_adds_and_removes_ports_and_keeps_the_connection(write_config, tmp_path):
    kept, removed, added = free_port(), free_port(), free_port()
    path = write_config(listeners_toml([kept, removed]) + SHARES)

    async def scenario():
        server, task = await start(path)
        on_kept, on_removed = await Client.connect(kept), await Client.connect(removed)
        assert await on_kept.ask(b"LOGIN 7") == b"OK"
        write_config(listeners_toml([kept, added]) + SHARES + '[[shares]]\nname = "new"\npath = "@SHARE@"\n')
        assert await server.reload() == []
        # The session on the port that stays works, and sees the reloaded shares.
        assert await on_kept.ask(b"PING") == b"PONG"
        assert await on_kept.ask(b"SHARES") == b"data,new"
        # An established connection on the removed port is not cut, but the port takes no new ones.
        assert await on_removed.ask(b"PING") == b"PONG"
        assert await refused(removed)
        assert await (await Client.connect(added)).ask(b"PING") == b"PONG"
        status = read_status(tmp_path)
        assert [(row["port"], row["state"]) for row in status["listeners"]] == sorted(
            [(kept, "listening"), (added, "listening")]
        )
        assert status["generation"] == 1 and status["last_reload"]["ok"] is True
        await stop(server, task)

    asyncio.run(scenario())


def test_busy_port_leaves_the_old_set_serving_and_is_reported(write_config, tmp_path):
    first, second, busy_port = free_port(), free_port(), free_port()
    path = write_config(listeners_toml([first, second]))
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", busy_port))
    blocker.listen()

    async def scenario():
        server, task = await start(path)
        client = await Client.connect(second)
        write_config(listeners_toml([first, busy_port]))
        failures = await server.reload()
        assert [row.config.port for row in failures] == [busy_port]
        # second was removed from the config, but the reload failed, so it keeps serving.
        assert await client.ask(b"PING") == b"PONG"
        assert await (await Client.connect(second)).ask(b"PING") == b"PONG"
        status = read_status(tmp_path)
        rows = {row["port"]: row for row in status["listeners"]}
        assert rows[busy_port]["state"] == "failed"
        assert rows[busy_port]["error"] == "address already in use (errno 98)"
        assert (rows[second]["state"], rows[second]["configured"]) == ("listening", False)
        assert status["last_reload"]["ok"] is False
        assert status["last_reload"]["errors"] == [
            f"cannot listen on tcp://127.0.0.1:{busy_port}: address already in use (errno 98)"
        ]
        # Once the port is free, the next reload completes the change.
        blocker.close()
        assert await server.reload() == []
        assert await refused(second)
        assert await (await Client.connect(busy_port)).ask(b"PING") == b"PONG"
        await stop(server, task)

    try:
        asyncio.run(scenario())
    finally:
        blocker.close()


def test_invalid_config_at_reload_changes_nothing(write_config, tmp_path):
    port = free_port()
    path = write_config(listeners_toml([port]))

    async def scenario():
        server, task = await start(path)
        path.write_text(path.read_text() + "[[listeners]]\nport = 0\n")
        assert await server.reload() == []
        status = read_status(tmp_path)
        assert status["last_reload"]["ok"] is False
        assert status["last_reload"]["errors"][0].endswith(
            "listeners[1].address: is required; add it as a quoted string"
        )
        assert await (await Client.connect(port)).ask(b"PING") == b"PONG"
        await stop(server, task)

    asyncio.run(scenario())


def test_max_connections_refuses_the_extra_one_and_spares_the_others(write_config):
    port = free_port()
    path = write_config(listeners_toml([port]), server="max_connections = 2")

    async def scenario():
        server, task = await start(path)
        first, second = await Client.connect(port), await Client.connect(port)
        # Logged in: a connection without a session would give its slot to the newcomer.
        assert await first.ask(b"LOGIN 1") == b"OK" and await second.ask(b"LOGIN 2") == b"OK"
        third = await Client.connect(port)
        assert await third.closed_by_server()
        assert await first.ask(b"PING") == b"PONG" and await second.ask(b"PING") == b"PONG"
        second.close()
        # A freed slot is usable again.
        for _attempt in range(100):
            if server.runtime.registry.connections < 2:
                break
            await asyncio.sleep(0.02)
        assert await (await Client.connect(port)).ask(b"PING") == b"PONG"
        await stop(server, task)

    asyncio.run(scenario())


def test_idle_connection_is_closed_unless_it_has_open_files(write_config):
    port = free_port()
    path = write_config(listeners_toml([port]), server="idle_timeout = 1")

    async def scenario():
        server, task = await start(path)
        idle, holding = await Client.connect(port), await Client.connect(port)
        assert await idle.ask(b"PING") == b"PONG"
        assert await holding.ask(b"OPEN") == b"OK"
        assert await idle.closed_by_server(timeout=15)
        # Idle just as long, but closing it would lose the client's open handles.
        assert await holding.ask(b"PING") == b"PONG"
        assert await holding.ask(b"CLOSEALL") == b"OK"
        assert await holding.closed_by_server(timeout=15)
        await stop(server, task)

    asyncio.run(scenario())


@pytest.mark.parametrize("trigger", [b"BYE", b"CRASH"])
def test_a_broken_connection_is_closed_alone(write_config, trigger):
    port = free_port()
    path = write_config(listeners_toml([port]))

    async def scenario():
        server, task = await start(path)
        bystander, victim = await Client.connect(port), await Client.connect(port)
        assert await bystander.ask(b"LOGIN 1") == b"OK"
        await victim.ask(trigger)
        assert await victim.closed_by_server()
        assert await bystander.ask(b"PING") == b"PONG"
        await stop(server, task)

    asyncio.run(scenario())


def test_oversized_frame_closes_that_connection(write_config):
    port = free_port()
    path = write_config(listeners_toml([port]), server="max_frame_size = 65536")

    async def scenario():
        server, task = await start(path)
        bystander, victim = await Client.connect(port), await Client.connect(port)
        victim.writer.write(struct.pack(">I", 65537))
        assert await victim.closed_by_server()
        assert await bystander.ask(b"PING") == b"PONG"
        await stop(server, task)

    asyncio.run(scenario())


def test_status_counts_connections_and_sessions(write_config, tmp_path):
    port = free_port()
    path = write_config(listeners_toml([port]))

    async def wait_for_status(expected):
        for _attempt in range(200):
            status = read_status(tmp_path)
            if (status["connections"], status["sessions"]) == expected:
                return status
            await asyncio.sleep(0.02)
        raise AssertionError(f"status never showed {expected}: {status}")

    async def scenario():
        server, task = await start(path)
        one, two = await Client.connect(port), await Client.connect(port)
        await one.ask(b"LOGIN 1")
        await one.ask(b"LOGIN 2")
        await two.ask(b"LOGIN 1")
        await wait_for_status((2, 3))
        await one.ask(b"LOGOFF 2")
        await wait_for_status((2, 2))
        two.close()
        status = await wait_for_status((1, 1))
        assert status["pid"] == running_pid(tmp_path / "state")
        await stop(server, task)
        assert not (tmp_path / "state" / "status.json").exists()
        assert running_pid(tmp_path / "state") is None

    asyncio.run(scenario())


def test_start_fails_cleanly_when_a_port_is_busy(write_config, tmp_path):
    free, busy_port = free_port(), free_port()
    path = write_config(listeners_toml([free, busy_port]))
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", busy_port))
        blocker.listen()

        async def scenario():
            with pytest.raises(
                StartupError, match=f"cannot listen on tcp://127.0.0.1:{busy_port}: address already in use"
            ):
                await start(path)
            assert await refused(free)  # nothing left half-open
            assert running_pid(tmp_path / "state") is None

        asyncio.run(scenario())


def test_quic_listener_with_a_certificate_that_does_not_load_fails_the_start(write_config, tmp_path):
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    port = free_port()
    path = write_config(
        listeners_toml([port])
        + f'[[listeners]]\ntransport = "quic"\naddress = "127.0.0.1"\nport = {port}\n'
        + f'[quic]\ncertificate = "{tmp_path}/c.pem"\nprivate_key = "{tmp_path}/k.pem"\n'
    )

    async def scenario():
        with pytest.raises(StartupError, match=r"cannot load the QUIC certificate .*c\.pem or key .*k\.pem"):
            await start(path)

    asyncio.run(scenario())


def test_second_server_on_the_same_state_dir_is_refused(write_config):
    path = write_config(listeners_toml([free_port()]))
    other = write_config(listeners_toml([free_port()]), name="other.toml")

    async def scenario():
        server, task = await start(path)
        with pytest.raises(StartupError, match=r"another pysmbd \(pid \d+\) already uses"):
            await start(other)
        await stop(server, task)

    asyncio.run(scenario())


def test_client_that_stops_reading_gets_everything_in_order_later(write_config):
    port = free_port()
    path = write_config(listeners_toml([port]))
    size = 8 * 1024 * 1024 + 5

    async def scenario():
        server, task = await start(path)
        greedy, bystander = await Client.connect(port), await Client.connect(port)
        for _request in range(6):  # 48 MiB of answers, far beyond what the kernel buffers for a client not reading
            greedy.writer.write(frame(f"BIG {size}".encode()))
        await greedy.writer.drain()
        await asyncio.sleep(0.5)
        assert await bystander.ask(b"PING") == b"PONG"  # the server is not stuck on the greedy client
        expected = pattern(size)
        for _request in range(6):
            length = struct.unpack(">I", await asyncio.wait_for(greedy.reader.readexactly(4), 30))[0]
            assert length == size
            assert await asyncio.wait_for(greedy.reader.readexactly(length), 30) == expected
        assert await greedy.ask(b"PING") == b"PONG"
        await stop(server, task)

    asyncio.run(scenario())


def test_ipv6_loopback_listener(write_config):
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    path = write_config(f'[[listeners]]\naddress = "::1"\nport = {port}\n')

    async def scenario():
        server, task = await start(path)
        reader, writer = await asyncio.wait_for(asyncio.open_connection("::1", port), 5)
        client = Client(reader, writer)
        assert await client.ask(b"PING") == b"PONG"
        assert read_status(path.parent)["listeners"][0]["address"] == "::1"
        await stop(server, task)

    asyncio.run(scenario())


def test_reload_closes_connections_whose_share_was_removed_or_changed(write_config, tmp_path):
    port = free_port()
    other = tmp_path / "other"
    other.mkdir()
    shares = SHARES + f'[[shares]]\nname = "gone"\npath = "{other}"\n[[shares]]\nname = "ro"\npath = "{other}"\n'
    path = write_config(listeners_toml([port]) + shares)

    async def scenario():
        server, task = await start(path)
        on_data, on_gone, on_ro = await Client.connect(port), await Client.connect(port), await Client.connect(port)
        for client, share in ((on_data, b"data"), (on_gone, b"GONE"), (on_ro, b"ro")):
            assert await client.ask(b"TREE " + share) == b"OK"
        write_config(
            listeners_toml([port])
            + SHARES.replace('path = "@SHARE@"', 'path = "@SHARE@"\ncomment = "only the comment changed"')
            + f'[[shares]]\nname = "ro"\npath = "{other}"\nread_only = true\n'
        )
        assert await server.reload() == []
        assert await on_gone.closed_by_server() and await on_ro.closed_by_server()
        assert await on_data.ask(b"PING") == b"PONG"
        await stop(server, task)

    asyncio.run(scenario())


def test_a_core_that_cannot_start_costs_one_connection(write_config, tmp_path):
    port = free_port()
    path = write_config(listeners_toml([port]), server="max_connections = 1")

    async def scenario():
        server, task = await start(path)
        FakeCore.fail_next = True
        broken = await Client.connect(port)
        assert await broken.closed_by_server()
        # The listener still accepts, and the failed connection does not hold the only slot.
        assert await (await Client.connect(port)).ask(b"PING") == b"PONG"
        await stop(server, task)

    asyncio.run(scenario())
