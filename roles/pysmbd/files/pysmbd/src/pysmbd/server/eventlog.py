"""Structured logs: one JSON object per line, so journald, Ansible and grep can all read them."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from pathlib import Path
from typing import Any, Optional

LOGGER_NAME = "pysmbd"
_logger = logging.getLogger(LOGGER_NAME)


class JSONLineFormatter(logging.Formatter):
    """Format a record as ``{"ts", "level", "event", ...fields}``; fields come from ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, sort_keys=False)


def configure_logging(log_file: Optional[Path] = None, level: str = "info") -> None:
    """Send pysmbd's logs to ``log_file`` (reopened when logrotate moves it) or to stderr."""
    handler: logging.Handler
    if log_file is None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
    handler.setFormatter(JSONLineFormatter())
    _logger.handlers[:] = [handler]
    _logger.setLevel(level.upper())
    _logger.propagate = False


def log_event(level: int, event: str, **fields: Any) -> None:
    """Log one event with its fields, e.g. ``log_event(logging.INFO, "listener_opened", port=4445)``."""
    if _logger.isEnabledFor(level):
        exc_info = fields.pop("exc_info", None)
        _logger.log(level, event, extra={"fields": fields}, exc_info=exc_info)


def info(event: str, **fields: Any) -> None:
    log_event(logging.INFO, event, **fields)


def warning(event: str, **fields: Any) -> None:
    log_event(logging.WARNING, event, **fields)


def error(event: str, **fields: Any) -> None:
    log_event(logging.ERROR, event, **fields)


def debug(event: str, **fields: Any) -> None:
    log_event(logging.DEBUG, event, **fields)
