"""Fixtures: the emulated Windows host's model in process (tests/support/windows_model_session.py) and a target."""

from __future__ import annotations

import pytest

from ansible_collections.smb.alternative_ports.plugins.plugin_utils._winrm import WinRMTarget
from tests.support.windows_model_session import ModelHost


@pytest.fixture
def model_host() -> ModelHost:
    return ModelHost()


@pytest.fixture
def target() -> WinRMTarget:
    return WinRMTarget(host="win1.example", port=5986, user="Administrator", password="unused", scheme="https")
