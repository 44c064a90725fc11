"""Logging set-up with a filter that masks every configured secret, whatever logs it."""

from __future__ import annotations

import json
import logging
import sys

from core import redact
from core.config import Settings


class RedactingFilter(logging.Filter):
    """Replaces secret values in a record's final message (PTB and httpx log URLs holding tokens).

    The secrets are core.redact's, the same list the outbox masks its stored errors with.
    """

    def __init__(self, secrets: list[str]):
        super().__init__()
        redact.remember(*secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value masked now."""
        return redact.remembered()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = redact.scrub(message)
        if masked != message or record.exc_info:
            record.msg, record.args = masked, None
            if record.exc_info:  # tracebacks are formatted later: render and mask them now
                text = redact.scrub(logging.Formatter().formatException(record.exc_info))
                record.msg = f"{masked}\n{text}"
                record.exc_info, record.exc_text = None, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and the traceback, already masked)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def scrub(text: str) -> str:
    """`text` with every configured secret masked (for the one line printed when the bot stops)."""
    return redact.scrub(text)


def mask(value: str) -> None:
    """Mask one more secret (one made up at run time) in everything written from now on."""
    redact.remember(value)


def setup(settings: Settings, default_level: str) -> None:
    """Log to stderr at LOG_LEVEL (or the mode's default), as text or JSON, with secrets masked in both."""
    secrets = settings.secrets()
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level or default_level)
