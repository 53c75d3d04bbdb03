"""WinRMTarget: from the host's connection variables or explicit options, and the refusal to go unencrypted."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.smb.alternative_ports.plugins.doc_fragments._winrm import ModuleDocFragment
from ansible_collections.smb.alternative_ports.plugins.module_utils._winrm_options import WINRM_ARGUMENT_SPEC
from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import (
    OPTION_FIELDS,
    WinRMError,
    WinRMSession,
    WinRMTarget,
    target_from_task,
)


def test_winrm_variables_build_the_target():
    target = WinRMTarget.from_host_vars(
        {
            "inventory_hostname": "win1",
            "ansible_host": "192.0.2.10",
            "ansible_port": 5986,
            "ansible_user": "Administrator",
            "ansible_password": "S3cret!",
            "ansible_winrm_transport": "ntlm",
            "ansible_winrm_server_cert_validation": "ignore",
            "ansible_winrm_ca_trust_path": "/etc/ssl/ca.pem",
            "ansible_winrm_message_encryption": "always",
        }
    )
    assert (target.host, target.port, target.scheme, target.user) == ("192.0.2.10", 5986, "https", "Administrator")
    assert (target.transport, target.cert_validation, target.ca_trust_path) == ("ntlm", "ignore", "/etc/ssl/ca.pem")
    assert target.message_encryption == "always"
    assert target.endpoint == "https://192.0.2.10:5986/wsman"
    assert target.label == "Administrator@192.0.2.10:5986"
    assert "S3cret!" not in repr(target)


def test_port_5985_means_http_and_inventory_name_is_the_fallback_host():
    target = WinRMTarget.from_host_vars({"inventory_hostname": "win1", "ansible_port": "5985", "ansible_user": "u"})
    assert (target.host, target.scheme, target.port) == ("win1", "http", 5985)


def test_psrp_variables_are_understood():
    target = WinRMTarget.from_host_vars(
        {
            "ansible_host": "win2",
            "ansible_psrp_protocol": "http",
            "ansible_psrp_auth": "negotiate",
            "ansible_psrp_user": "u",
            "ansible_psrp_password": "p",
            "ansible_psrp_cert_validation": "ignore",
            "ansible_psrp_message_encryption": "auto",
        }
    )
    assert (target.scheme, target.port, target.transport, target.password) == ("http", 5985, "ntlm", "p")


def test_explicit_options_win_over_host_variables():
    target = WinRMTarget.from_host_vars(
        {"ansible_host": "win1", "ansible_user": "a", "ansible_password": "b"},
        {
            "winrm_host": "127.0.0.1",
            "winrm_port": 15985,
            "winrm_scheme": "http",
            "winrm_user": "c",
            "winrm_password": "d",
        },
    )
    assert (target.host, target.port, target.scheme, target.user, target.password) == (
        "127.0.0.1",
        15985,
        "http",
        "c",
        "d",
    )


def test_host_variables_are_templated():
    task_vars = {"ansible_host": "{{ addr }}", "ansible_user": "u", "unrelated": "{{ boom }}"}
    seen = []

    def template(value):
        seen.append(value)
        return "192.0.2.7" if value == "{{ addr }}" else value

    assert target_from_task(task_vars, {}, template).host == "192.0.2.7"
    assert "{{ boom }}" not in seen  # only connection variables are templated


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        ({"ansible_winrm_transport": "basic"}, "transport basic"),
        ({"ansible_winrm_transport": "ntlm", "ansible_winrm_message_encryption": "never"}, "message encryption never"),
        ({"ansible_winrm_transport": "certificate"}, "transport certificate"),
    ],
)
def test_unencrypted_http_is_refused_before_any_connection(variables, reason):
    target = WinRMTarget.from_host_vars(
        {"ansible_host": "win1", "ansible_port": 5985, "ansible_user": "u", **variables}
    )
    with pytest.raises(WinRMError, match="refusing to talk to u@win1:5985 over plain HTTP") as caught:
        WinRMSession(target, protocol_factory=lambda **kw: pytest.fail("no connection may be attempted"))
    assert reason in str(caught.value)


def test_basic_over_https_is_fine():
    target = WinRMTarget.from_host_vars(
        {"ansible_host": "win1", "ansible_user": "u", "ansible_winrm_transport": "basic"}
    )
    target.refuse_unencrypted()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"ansible_port": "x"}, "WinRM port 'x' is not a number"),
        ({"ansible_port": 70000}, "out of range"),
        ({"ansible_winrm_transport": "carrier-pigeon"}, "WinRM transport 'carrier-pigeon'"),
        ({"ansible_winrm_scheme": "ftp"}, "WinRM scheme 'ftp'"),
        ({"ansible_winrm_server_cert_validation": "maybe"}, "certificate validation 'maybe'"),
    ],
)
def test_bad_variables_are_named(variables, message):
    with pytest.raises(WinRMError, match=message):
        WinRMTarget.from_host_vars({"ansible_host": "win1", **variables})


@pytest.mark.parametrize(
    "module", ["client_mapping", "client_port_policy", "quic_server_access", "server_ports", "server_ports_info"]
)
def test_every_windows_module_takes_the_documented_winrm_options(module):
    imported = __import__(
        f"ansible_collections.smb.alternative_ports.plugins.modules.{module}", fromlist=["ARGUMENT_SPEC"]
    )
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = imported.ARGUMENT_SPEC
    assert {name: spec[name] for name in WINRM_ARGUMENT_SPEC} == WINRM_ARGUMENT_SPEC
    assert set(documented) == set(WINRM_ARGUMENT_SPEC) == set(OPTION_FIELDS)
    assert {name for name, option in documented.items() if option.get("no_log")} <= {"winrm_password"}
    assert "smb.alternative_ports._winrm" in yaml.safe_load(imported.DOCUMENTATION)["extends_documentation_fragment"]
