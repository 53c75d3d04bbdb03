"""Test support code: the one home of what the tests and the benchmarks share (conftest.py files hold only
fixtures; bench/ imports only from here).

Peers and the processes they run as:
    peers.py              require_tool (fail, never skip, naming the Debian package), pysmbd_command, stopping
    pysmbd_server.py      pysmbd: one layout, config writer and starter (child, --daemon supervisor, QUIC runner)
    pysmbd_quic_runner.py pysmbd's server with the QUIC adapter registered, run by pysmbd_server.py
    threaded_pysmbd.py    pysmbd's protocol core served from a thread of the test
    pysmbd_context.py     make_context: a ServerContext for the core's in-process tests
    samba.py              Samba's smbd: one smb.conf writer and one starter (child with nss_wrapper, or smbd -D)
    windows_host/         emulated Windows host: a real WS-Man/WinRM endpoint and the SMB cmdlet model
Clients and reaching the peers:
    smb_session.py        an smbprotocol session on a share, over Direct TCP or QUIC
    smbclient_cli.py      Samba's smbclient command
    quic_probe.py         verify's QUIC prober aimed at a loopback port
    windows_over_winrm.py targets for the emulated host, and what it saw
    windows_model_session.py, windows_action_runner.py   the Windows plugins against the cmdlet model, in process
    ansible_run.py, plays.py   ansible-playbook runs and the plays the end-to-end tests write
    report_fleet.py       the fleet the report tests verify, its playbook and inventory
    browser.py            headless Chromium: a page's DOM and screenshot, for the report tests
    callbacks/            the callback that writes every task result for ansible_run.py
Places and accounts:
    accounts.py           the users and passwords each kind of peer is set up with
    collection.py         the checkout as the collection smb.alternative_ports (sys.path, ANSIBLE_COLLECTIONS_PATH)
    net.py                free loopback ports, waiting for a listener
    blackhole_netns.py    a network namespace that drops every TCP packet
    full_disk.py          a filesystem with no space left
    polling.py            waiting for a condition
    import_graph.py       the import graph of a package, read with ast (for the import-cycle test)
    fuzz/                 the fuzz harness of pysmbd's core (tests/fuzz and bench/fuzz)
"""
