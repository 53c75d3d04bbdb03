"""PowerShell wildcard matching (``*``, ``?``, ``[a-z]``), case-insensitive as on Windows."""

from __future__ import annotations

import re

_SPECIAL = ("*", "?", "[")


def has_wildcard(pattern: str) -> bool:
    """True when PowerShell would treat ``pattern`` as a wildcard pattern."""
    return any(char in pattern for char in _SPECIAL)


def wildcard_match(pattern: str, text: str) -> bool:
    """Match ``text`` against a PowerShell wildcard pattern, ignoring case."""
    regex = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            regex.append(".*")
        elif char == "?":
            regex.append(".")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                regex.append(re.escape(char))
            else:
                regex.append("[" + pattern[index + 1 : end].replace("\\", "\\\\") + "]")
                index = end
        else:
            regex.append(re.escape(char))
        index += 1
    return re.fullmatch("".join(regex), text, flags=re.IGNORECASE | re.DOTALL) is not None
