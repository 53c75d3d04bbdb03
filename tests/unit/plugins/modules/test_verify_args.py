"""verify's argument handling, run in-process: what a user gets back for each kind of mistake."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.smb.alternative_ports.plugins.modules import verify
from tests.support.net import free_port


def run_module(capsys, args: dict) -> dict:
    with patch_module_args(args), pytest.raises(SystemExit):
        verify.main()
    return json.loads(capsys.readouterr().out)


def test_endpoints_or_model_is_required(capsys):
    result = run_module(capsys, {})
    assert result["failed"] and "one of the following is required: endpoints, model" in result["msg"]


def test_endpoints_and_model_exclude_each_other(capsys):
    result = run_module(capsys, {"endpoints": [{"port": 4445}], "model": {"server": {"ports": []}}})
    assert result["failed"] and "mutually exclusive" in result["msg"]


def test_previous_needs_a_model(capsys):
    result = run_module(capsys, {"endpoints": [{"port": 4445}], "previous": [{"transport": "tcp", "port": 4446}]})
    assert result["failed"] and result["msg"].startswith("previous: only used with model")


def test_session_level_needs_credentials_and_a_share(capsys):
    result = run_module(capsys, {"endpoints": [{"port": 4445}], "level": "session", "username": "u"})
    assert result["failed"] and result["msg"].startswith("level session needs password, share: set the option(s)")


def test_the_models_verify_section_supplies_unset_options(capsys, tmp_path):
    port = free_port()
    model = {
        "server": {"ports": [{"transport": "tcp", "port": port}], "standard_ports": "keep"},
        "verify": {
            "level": "tcp",
            "timeout": 1.5,
            "credentials": {"username": "u", "password": "Model-Secret-9"},
            "report": {"json": str(tmp_path / "from-model.json")},
            "expect_removed_closed": False,
        },
    }
    args = {"model": model, "previous": [{"transport": "tcp", "port": 4446}], "fail_on_mismatch": False}
    result = run_module(capsys, args)
    assert [(row["port"], row["status"]) for row in result["results"]] == [(port, "refused")]  # previous ignored
    assert json.loads((tmp_path / "from-model.json").read_text())["level"] == "tcp"
    assert "Model-Secret-9" not in json.dumps(result)


@pytest.mark.parametrize(
    ("option", "value", "words"), [("timeout", 0, "timeout: 0"), ("concurrency", 0, "concurrency: 0")]
)
def test_limits_must_be_positive(capsys, option, value, words):
    result = run_module(capsys, {"endpoints": [{"port": 4445}], option: value})
    assert result["failed"] and result["msg"].startswith(words)


def test_a_report_in_a_missing_directory_fails_with_the_path(capsys, tmp_path):
    report = tmp_path / "missing" / "verify.json"
    args = {"endpoints": [{"port": free_port(), "expect": "closed"}], "report_json": str(report)}
    result = run_module(capsys, args)
    assert result["failed"] and "report_json: cannot write %s" % report in result["msg"]
    assert result["summary"] == {"total": 1, "ok": 1, "failed": 0}


def test_password_is_never_returned(capsys):
    args = {
        "endpoints": [{"port": free_port()}],
        "level": "session",
        "username": "someone",
        "password": "Secret-Never-Shown-7",
        "share": "data",
        "fail_on_mismatch": False,
    }
    out = json.dumps(run_module(capsys, args))
    assert "Secret-Never-Shown-7" not in out


_WITHOUT_QH3 = """
import json, sys
class HideQh3:
    def find_spec(self, name, path=None, target=None):
        if name == "qh3" or name.startswith("qh3."):
            raise ImportError("No module named 'qh3' (hidden by the test)")
sys.meta_path.insert(0, HideQh3())
sys.path.insert(0, sys.argv[1])
from ansible.module_utils.testing import patch_module_args
from ansible_collections.smb.alternative_ports.plugins.modules import verify
with patch_module_args(json.loads(sys.argv[2])):
    verify.main()
"""


@pytest.mark.parametrize(("transport", "fails"), [("quic", True), ("tcp", False)])
def test_without_qh3_only_quic_endpoints_fail_and_say_what_to_install(transport, fails):
    # A real interpreter where qh3 cannot be imported, so the import guard itself is what is tested.
    from tests.support.collection import COLLECTIONS_ROOT

    args = {"endpoints": [{"transport": transport, "port": free_port(), "expect": "closed"}], "timeout": 1}
    run = subprocess.run(
        [sys.executable, "-c", _WITHOUT_QH3, str(COLLECTIONS_ROOT), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # the JSON on stdout is the answer, whatever the exit code
    )
    result = json.loads(run.stdout)
    assert bool(result.get("failed")) is fails, result
    if fails:
        assert "Failed to import the required Python library (qh3)" in result["msg"]
        assert "results" not in result  # refused before any probe
