"""Structured (JSON-lines) logging that never prints secrets."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

SECRET = re.compile(r"(xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace tokens and known secrets in text with a marker."""
    text = SECRET.sub("[redacted]", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, extra fields."""

    def __init__(self, secrets: tuple[str, ...] = ()):
        super().__init__()
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one JSON line with secrets redacted."""
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage(), self.secrets),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = (
                    value
                    if isinstance(value, int | float | bool)
                    else redact(str(value), self.secrets)
                )
        if record.exc_info:
            data["exc"] = redact(self.formatException(record.exc_info), self.secrets)
        # Redact values before encoding: JSON escaping would hide secrets with quotes.
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    """Send structured logs to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter on every start
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Bolt logs the whole body of every request with a bad signature at INFO: forged
    # requests must not be able to fill the logs.
    logging.getLogger("slack_bolt").setLevel(logging.WARNING)
