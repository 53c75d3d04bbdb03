"""How hard the fuzz tests try: bounded for ``make test``, scalable for a hunt.

``PYSMBD_FUZZ_SCALE=20 .venv/bin/python -m pytest tests/fuzz`` runs twenty times the examples.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = float(os.environ.get("PYSMBD_FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    """Settings for one fuzz test: no per-example deadline (the harness has its own wall-clock guard)."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
