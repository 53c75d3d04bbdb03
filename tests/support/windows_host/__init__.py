"""An emulated Windows host for tests: a real WS-Management (WinRM) endpoint and a model of the SMB cmdlets.

See README.md. Import as ``tests.support.windows_host`` with the repository root on ``sys.path``
(pytest run from the root does that), or run ``python -m tests.support.windows_host --help``.
"""

from .auth import HostUser, load_users
from .host import EmulatedWindowsHost
from .observer import read_state_file
from .state import WindowsState

__all__ = ["EmulatedWindowsHost", "HostUser", "WindowsState", "load_users", "read_state_file"]
