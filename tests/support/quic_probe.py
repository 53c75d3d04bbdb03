"""verify's QUIC prober (``probe_quic``) aimed at a loopback port, as the QUIC tests call it: SNI ``localhost``,
address 127.0.0.1, verify's own NEGOTIATE request."""

from __future__ import annotations

import asyncio

from ansible_collections.smb.alternative_ports.plugins.module_utils._probe_quic import probe_quic
from ansible_collections.smb.alternative_ports.plugins.module_utils._smb2_negotiate import build_negotiate_request


def probe_loopback_quic(port: int, *, level: str = "negotiate", timeout: float = 3.0, **options):
    """One probe of 127.0.0.1:``port`` over QUIC; ``options`` go to probe_quic (``validate_certs``, ``cafile``,
    ``server_name``, ...). Returns its outcome (status, answer, error, certificate_sha256)."""
    return asyncio.run(
        probe_quic(
            "localhost",
            "127.0.0.1",
            port,
            timeout=timeout,
            level=level,
            negotiate_request=build_negotiate_request(),
            **options,
        )
    )
