"""The secrets tests start servers in a work directory the pysmbd account can traverse, as the fault tests do."""

from __future__ import annotations

# A fixture shared with tests/faults: pytest finds it by name in this module.
from tests.faults.conftest import public_workdir  # noqa: F401  # pylint: disable=unused-import
