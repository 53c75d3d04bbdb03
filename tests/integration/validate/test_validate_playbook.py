"""`validate` in a real play: a bad model stops the play before any host is contacted."""

from __future__ import annotations

import socket
import textwrap
import threading
from pathlib import Path

import pytest

from tests.support.ansible_run import PlayRun, run_playbook


class ConnectionRecorder:
    """A TCP listener that counts every connection attempt (stands in for an SSH server)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _address = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def recorder():
    rec = ConnectionRecorder()
    yield rec
    rec.close()


def run_play(tmp_path: Path, inventory: str, play: str) -> PlayRun:
    (tmp_path / "inventory.ini").write_text(inventory)
    (tmp_path / "play.yml").write_text(textwrap.dedent(play))
    return run_playbook(tmp_path / "play.yml", tmp_path / "inventory.ini", env={"ANSIBLE_TIMEOUT": "5"}, timeout=120)


BAD_MODEL_PLAY = """
- hosts: fileservers
  gather_facts: false
  vars:
    smb_alternative_ports:
      backend: windows
      server:
        ports:
          - {transport: tcp, port: 4445}
          - {transport: quic, port: 65536}
          - {transport: quic, port: 8443, instanses: none}
  tasks:
    - name: validate
      smb.alternative_ports.validate:
    - name: touch the host
      ansible.builtin.ping:
"""


def test_bad_model_fails_with_every_error_and_contacts_no_host(tmp_path, recorder):
    inventory = f"[fileservers]\nfs01 ansible_host=127.0.0.1 ansible_port={recorder.port} ansible_user=nobody\n"
    proc = run_play(tmp_path, inventory, BAD_MODEL_PLAY)
    assert proc.returncode != 0
    result = proc.results["validate"]["fs01"]
    assert result["failed"] is True
    assert [e["text"] for e in result["errors"]] == [
        "server.ports[1].port: 65536 is greater than the maximum of 65535 (use a port from 1 to 65535)",
        "server.ports[2].instanses: unknown key (did you mean 'instances'?)",
        "server.ports[0]: tcp/4445 cannot be a server port on the windows backend: Windows can move only its SMB "
        "over QUIC listener; TCP and RDMA listening ports cannot be changed on Windows "
        "(use transport: quic for the server, and reach the TCP listener on 445 or map clients to it)",
    ]
    assert result["msg"].startswith("host fs01: smb_alternative_ports has 3 problems; nothing was changed:")
    assert "touch the host" not in proc.results
    assert recorder.accepted == 0


GOOD_MODEL_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: validate
      smb.alternative_ports.validate:
        model:
          server:
            ports:
              - {transport: tcp, port: 4445}
              - {transport: quic, port: 4445}
          verify: {from: fs02}
"""


def test_good_model_is_normalized_with_warnings_and_no_contact(tmp_path, recorder):
    inventory = (
        f"fs01 ansible_host=127.0.0.1 ansible_port={recorder.port}\n"
        f"fs02 ansible_host=127.0.0.1 ansible_port={recorder.port}\n"
        f"win01 ansible_host=127.0.0.1 ansible_port={recorder.port} ansible_connection=winrm\n"
    )
    proc = run_play(tmp_path, inventory, GOOD_MODEL_PLAY)
    results = proc.results["validate"]
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-2000:]  # win01 fails, on purpose
    assert results["fs01"]["changed"] is False
    assert results["fs01"]["backend"] == "auto"
    assert results["fs01"]["model"]["server"]["ports"][1] == {"transport": "quic", "port": 4445, "instances": "default"}
    assert results["fs01"]["model_warnings"] == [
        "server.ports[1]: port 4445 is used by quic and tcp (best practice is one distinct port per transport)"
    ]
    # On the WinRM host `auto` means windows, and a TCP server port is refused there.
    assert results["win01"]["failed"] is True
    assert "cannot be a server port on the windows backend" in results["win01"]["msg"]
    assert recorder.accepted == 0


def test_unknown_vantage_point_is_refused(tmp_path, recorder):
    inventory = f"fs01 ansible_host=127.0.0.1 ansible_port={recorder.port}\n"
    play = GOOD_MODEL_PLAY.replace("from: fs02", "from: nosuchhost")
    proc = run_play(tmp_path, inventory, play)
    result = proc.results["validate"]["fs01"]
    assert [e["text"] for e in result["errors"]] == [
        "verify.from: 'nosuchhost' is not an inventory host (use controller, target, or the name of a host in the inventory)"
    ]
