"""Fixtures: the emulated Windows host's model in process (tests/support/windows_model_session.py) and a target."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget
from tests.support.windows_host.state import WindowsState
from tests.support.windows_model_session import ModelHost


@pytest.fixture(params=["names", "numbers"])
def enum_form(request) -> str:
    """The host answers enum properties as names (type data applied) or as the CIM class's numbers."""
    return request.param


@pytest.fixture
def model_host(enum_form) -> ModelHost:
    return ModelHost(state=WindowsState(host={"enum_form": enum_form, "language_mode": "FullLanguage"}))


@pytest.fixture
def target() -> WinRMTarget:
    return WinRMTarget(host="win1.example", port=5986, user="Administrator", password="unused", scheme="https")
