# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole ``verify`` task, shared by the module (any vantage point) and its action plugin (the controller).

Private to smb.alternative_ports: no compatibility promise.

Both callers validate the options against ``ARGUMENT_SPEC`` first, then call ``run_verify`` with the validated
options. On the controller the action plugin calls it in its own process: no interpreter to start and nothing
to import per host (the probes are imported once, when Ansible loads the action plugin), so the result is the
module's result at a fraction of its cost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Set

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.smb.alternative_ports.plugins.module_utils._files import ConfigWriteError
from ansible_collections.smb.alternative_ports.plugins.module_utils._probe import ProbeSettings, run_probes
from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_endpoints import (
    EndpointError,
    endpoints_from_list,
    endpoints_from_model,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_quic import (
    HAS_QH3,
    QH3_IMPORT_ERROR,
    normalize_fingerprint,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_session import (
    HAS_SMBPROTOCOL,
    SMBPROTOCOL_IMPORT_ERROR,
    SessionCredentials,
)
from ansible_collections.smb.alternative_ports.plugins.module_utils._report import (
    render_table,
    summarize,
    write_json_report,
    write_junit_report,
)

ARGUMENT_SPEC: Dict[str, Any] = dict(
    host=dict(type="str", default="127.0.0.1"),
    endpoints=dict(
        type="list",
        elements="dict",
        options=dict(
            transport=dict(type="str", choices=["tcp", "quic", "rdma"], default="tcp"),
            port=dict(type="int", required=True),
            expect=dict(type="str", choices=["open", "closed"], default="open"),
        ),
    ),
    model=dict(type="dict"),
    previous=dict(type="list", elements="dict", default=[]),
    current=dict(type="list", elements="dict"),
    level=dict(type="str", choices=["tcp", "negotiate", "session"]),
    timeout=dict(type="float"),
    concurrency=dict(type="int", default=32),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    domain=dict(type="str"),
    share=dict(type="str"),
    ca_path=dict(type="path"),
    fingerprint_sha256=dict(type="str"),
    validate_certs=dict(type="bool", default=True),
    tls_server_name=dict(type="str"),
    report_json=dict(type="path"),
    report_junit=dict(type="path"),
    fail_on_mismatch=dict(type="bool", default=True),
)
MUTUALLY_EXCLUSIVE = [("endpoints", "model")]
REQUIRED_ONE_OF = [("endpoints", "model")]


class VerifyFailed(Exception):
    """The task fails with ``msg``; ``fields`` go into the failed result (rows already probed, for example)."""

    def __init__(self, msg: str, **fields: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.fields = fields


@dataclass
class VerifyOutcome:
    """What the task returns: the result (``failed`` set on a mismatch with fail_on_mismatch) and its warnings."""

    result: Dict[str, Any]
    warnings: List[str] = field(default_factory=list)


def secret_values(params: Dict[str, Any]) -> Set[str]:
    """Values to mask in every output beyond the no_log options: the model's verify password (a plain dict option)."""
    verify_section = (params.get("model") or {}).get("verify") or {}
    password = (verify_section.get("credentials") or {}).get("password")
    return {password} if password else set()


def effective_options(params: Dict[str, Any]) -> Dict[str, Any]:
    """The options, with the model's ``verify`` section filling the ones the task does not set."""
    params = dict(params)
    verify_section = (params["model"] or {}).get("verify") or {}
    credentials = verify_section.get("credentials") or {}
    reports = verify_section.get("report") or {}
    fallbacks = {
        "level": (verify_section.get("level"), "negotiate"),
        "timeout": (verify_section.get("timeout"), 3.0),
        "share": (verify_section.get("share"), None),
        "username": (credentials.get("username"), None),
        "password": (credentials.get("password"), None),
        "domain": (credentials.get("domain"), ""),
        "report_json": (reports.get("json"), None),
        "report_junit": (reports.get("junit"), None),
    }
    for option, (from_model, default) in fallbacks.items():
        if params[option] is None:
            params[option] = from_model if from_model is not None else default
    return params


def _endpoints(params: Dict[str, Any]) -> list:
    try:
        if params["model"] is not None:
            verify_section = params["model"].get("verify") or {}
            removed = params["previous"] if verify_section.get("expect_removed_closed", True) else []
            return endpoints_from_model(params["model"], removed, params["current"])
        if params["current"] is not None:
            raise VerifyFailed("current: only used with model; list the open ports in endpoints instead")
        if params["previous"]:
            raise VerifyFailed("previous: only used with model; list the closed ports in endpoints instead")
        return endpoints_from_list(params["endpoints"])
    except EndpointError as exc:
        raise VerifyFailed("%s: %s" % (params["host"], exc)) from None


def _settings(params: Dict[str, Any]) -> ProbeSettings:
    if params["level"] not in ("tcp", "negotiate", "session"):
        raise VerifyFailed("model.verify.level: %r is not one of tcp, negotiate, session" % params["level"])
    if float(params["timeout"]) <= 0:
        raise VerifyFailed("timeout: %r must be greater than 0 seconds" % params["timeout"])
    if params["concurrency"] < 1:
        raise VerifyFailed("concurrency: %r must be at least 1" % params["concurrency"])
    credentials = None
    if params["level"] == "session":
        missing = [option for option in ("username", "password", "share") if not params[option]]
        if missing:
            raise VerifyFailed(
                "level session needs %s: set the option(s), or verify.credentials and verify.share in the model"
                % ", ".join(missing)
            )
        if not HAS_SMBPROTOCOL:
            raise VerifyFailed(missing_required_lib("smbprotocol"), exception=str(SMBPROTOCOL_IMPORT_ERROR))
        credentials = SessionCredentials(params["username"], params["password"], params["domain"] or "")
    return ProbeSettings(
        level=params["level"],
        timeout=float(params["timeout"]),
        concurrency=params["concurrency"],
        credentials=credentials,
        share=params["share"] or "",
        cafile=params["ca_path"],
        fingerprint_sha256=params["fingerprint_sha256"],
        validate_certs=params["validate_certs"],
        server_name=params["tls_server_name"],
    )


def _check_quic_options(params: Dict[str, Any], endpoints: list) -> None:
    """Fail early, before any probe, on what would make every QUIC row wrong."""
    if not any(endpoint.transport == "quic" for endpoint in endpoints):
        return
    if not HAS_QH3:
        raise VerifyFailed(missing_required_lib("qh3"), exception=str(QH3_IMPORT_ERROR))
    ca_path = params["ca_path"]
    if ca_path and not os.path.isfile(ca_path):
        raise VerifyFailed(
            "ca_path: %s is not a file; give the PEM file of the CA that signed the server certificate" % ca_path
        )
    if params["fingerprint_sha256"]:
        try:
            normalize_fingerprint(params["fingerprint_sha256"])
        except ValueError as exc:
            raise VerifyFailed(str(exc)) from None


def _write_reports(params: Dict[str, Any], host: str, level: str, rows: list) -> None:
    writers = (("report_json", write_json_report), ("report_junit", write_junit_report))
    for option, writer in writers:
        path = params[option]
        if not path:
            continue
        try:
            writer(path, host, level, rows)
        except ConfigWriteError as exc:
            raise VerifyFailed(
                "%s: %s" % (option, exc),
                results=rows,
                summary=summarize(rows),
            ) from None


def run_verify(validated: Dict[str, Any]) -> VerifyOutcome:
    """Probe every endpoint and write the reports; raises VerifyFailed for a task that fails before a result."""
    host = validated["host"]
    params = effective_options(validated)
    endpoints = _endpoints(params)
    settings = _settings(params)
    _check_quic_options(params, endpoints)
    rows = [row.as_dict() for row in run_probes(host, endpoints, settings)]
    _write_reports(params, host, settings.level, rows)
    table = render_table(host, rows)
    summary = summarize(rows)
    result: Dict[str, Any] = dict(changed=False, results=rows, summary=summary, table=table.splitlines(), msg=table)
    if summary["failed"] and params["fail_on_mismatch"]:
        result["msg"] = "%d of %d endpoints of %s do not match their expectation:\n%s" % (
            summary["failed"],
            summary["total"],
            host,
            table,
        )
        result["failed"] = True
        return VerifyOutcome(result)
    warnings: List[str] = []
    if summary["failed"]:
        warnings.append(
            "%d of %d endpoints of %s do not match their expectation" % (summary["failed"], summary["total"], host)
        )
    return VerifyOutcome(result, warnings)
