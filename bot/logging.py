"""structlog configuration: readable on a terminal, JSON lines otherwise, secrets redacted.

The daemon also writes every event as a JSON line to a rotating file (`logs/marginbot.jsonl`
by default, `[logging]` in the configuration). Both outputs go through the same processors, so
the redaction of secrets applies to each.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import orjson
import structlog

from bot.files import private_dir, private_file

SECRET_KEY = re.compile(r"(api_?key|secret|password|passphrase|token|signature)", re.IGNORECASE)
REDACTED = "***"
ROOT_LOGGER = "marginbot"


def redact_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    """Replace the value of every key that names a secret, however deeply nested."""
    for key, value in list(event.items()):
        if SECRET_KEY.search(key):
            event[key] = REDACTED
        elif isinstance(value, dict):
            event[key] = redact_secrets(None, "", dict(value))
    return event


def _dumps(document: Any, **_: Any) -> str:
    return orjson.dumps(document, default=str).decode()


def configure(
    stream: TextIO | None = None,
    json: bool | None = None,
    level: str | None = None,
    file: Path | None = None,
    max_bytes: int = 50 * 2**20,
    backups: int = 5,
) -> None:
    """Log to `stream` (stderr by default; JSON unless it is a terminal) and, when given, to a
    rotating JSON-lines `file`."""
    out = stream or sys.stderr
    as_json = json if json is not None else not out.isatty()
    chosen = (level or os.environ.get("MARGINBOT_LOG_LEVEL", "info")).upper()
    number = logging.getLevelNamesMapping().get(chosen, logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    json_renderer = structlog.processors.JSONRenderer(serializer=_dumps)
    console = logging.StreamHandler(out)
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                json_renderer if as_json else structlog.dev.ConsoleRenderer(colors=out.isatty()),
            ],
            foreign_pre_chain=shared,
        )
    )
    handlers: list[logging.Handler] = [console]
    if file is not None:
        private_dir(file.parent)
        rotating = logging.handlers.RotatingFileHandler(
            file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        private_file(file)  # rotated files follow the daemon's umask (077)
        rotating.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    json_renderer,
                ],
                foreign_pre_chain=shared,
            )
        )
        handlers.append(rotating)
    root = logging.getLogger(ROOT_LOGGER)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(number)
    root.propagate = False
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
