"""``python -m pysmbd`` is the same as the ``pysmbd`` command."""

from __future__ import annotations

import sys

from pysmbd.cli import main

sys.exit(main())
