"""structlog configuration: readable on a terminal, JSON lines otherwise, secrets redacted."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog

SECRET_KEY = re.compile(r"(api_?key|secret|password|passphrase|token|signature)", re.IGNORECASE)
REDACTED = "***"


def redact_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    """Replace the value of every key that names a secret, however deeply nested."""
    for key, value in list(event.items()):
        if SECRET_KEY.search(key):
            event[key] = REDACTED
        elif isinstance(value, dict):
            event[key] = redact_secrets(None, "", dict(value))
    return event


def configure(
    stream: TextIO | None = None, json: bool | None = None, level: str | None = None
) -> None:
    out = stream or sys.stderr
    as_json = json if json is not None else not out.isatty()
    chosen = (level or os.environ.get("MARGINBOT_LOG_LEVEL", "info")).upper()
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    if as_json:
        processors.append(structlog.processors.JSONRenderer(serializer=_dumps))
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=out.isatty()))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(chosen, logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def _dumps(document: Any, **_: Any) -> str:
    return orjson.dumps(document, default=str).decode()
