"""Structured JSON-lines logging with the current request id on every line.

Request bodies are never logged, so image bytes cannot leak into logs.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

# Set by the request middleware; every log record emitted while serving a request carries it.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

SERVICE_LOGGER = "service"
# Libraries that log while a request is parsed (python-multipart warns about malformed bodies): their lines
# get the same JSON shape and request id instead of bare text on stderr.
LIBRARY_LOGGERS = ("python_multipart", "multipart")  # the package's module name since 0.0.13, and before
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": current_request_id.get(),
        }
        entry.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> logging.Logger:
    """Send the service's (and chatty libraries') loggers to stdout as JSON lines (idempotent)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLinesFormatter())
    threshold = logging.getLevelName(level)
    _send_to(handler, SERVICE_LOGGER, threshold)
    for library in LIBRARY_LOGGERS:
        _send_to(handler, library, max(threshold, logging.WARNING))
    return logging.getLogger(SERVICE_LOGGER)


def _send_to(handler: logging.Handler, name: str, level: int) -> None:
    logger = logging.getLogger(name)
    logger.setLevel(level)
    logger.propagate = False
    logger.handlers[:] = [handler]
