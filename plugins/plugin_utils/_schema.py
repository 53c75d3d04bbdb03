# Copyright (c) 2026 smb.alternative_ports developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading the model's JSON Schema from the collection (controller only; private)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "alternative_ports.schema.json"


@lru_cache(maxsize=1)
def load_schema() -> dict:
    """The schema document shipped in the collection's ``schemas/`` folder."""
    with SCHEMA_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)
