"""Structured logs: one JSON object a line, tokens and secrets never printed."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from bot.logs import JsonFormatter, redact, setup_logging

SIGNING = "8f14e45fceea167a5a36dedd4bea2543"


def record(msg, *args, level=logging.INFO, extra=None, exc_info=None):
    logger = logging.getLogger("trustloop.test")
    return logger.makeRecord("trustloop.test", level, __file__, 1, msg, args, exc_info, extra=extra)


def fmt(rec, secrets=(SIGNING,)):
    line = JsonFormatter(secrets).format(rec)
    assert "\n" not in line
    return line, json.loads(line)


def test_output_is_json_with_msg_level_logger_and_extra():
    _, data = fmt(
        record(
            "checkin %s sent", 42, level=logging.WARNING, extra={"team": "T1", "n": 3, "ok": True}
        )
    )
    assert data["msg"] == "checkin 42 sent"
    assert data["level"] == "warning"
    assert data["logger"] == "trustloop.test"
    assert data["team"] == "T1"
    assert data["n"] == 3
    assert data["ok"] is True
    assert "ts" in data


def test_non_json_extra_values_become_strings():
    _, data = fmt(record("x", extra={"obj": {1, 2}, "when": object}))
    assert isinstance(data["obj"], str)
    assert isinstance(data["when"], str)


def test_standard_record_fields_are_not_dumped():
    _, data = fmt(record("x"))
    for key in ("args", "msecs", "pathname", "lineno", "process"):
        assert key not in data


@pytest.mark.parametrize(
    "token",
    ["xoxb-123-abc", "xoxp-1-2-3-abcdef", "xoxa-2-X", "xapp-1-A0-123-abc"],
)
def test_tokens_are_redacted_in_message(token):
    line, data = fmt(record("calling with %s now", token))
    assert token not in line
    assert "[redacted]" in data["msg"]
    assert data["msg"].startswith("calling with ")


def test_signing_secret_is_redacted():
    line, data = fmt(record("secret is %s", SIGNING))
    assert SIGNING not in line
    assert data["msg"] == "secret is [redacted]"


def test_secrets_in_extra_fields_are_redacted():
    line, data = fmt(record("x", extra={"token": "xoxb-123-abc", "sig": SIGNING}))
    assert "xoxb-123-abc" not in line
    assert SIGNING not in line
    assert data["token"] == "[redacted]"
    assert data["sig"] == "[redacted]"


def test_secrets_in_exception_text_are_redacted():
    try:
        raise RuntimeError(f"auth failed for xoxb-123-abc with {SIGNING}")
    except RuntimeError:
        rec = record("boom", level=logging.ERROR, exc_info=sys.exc_info())
    line, data = fmt(rec)
    assert "xoxb-123-abc" not in line
    assert SIGNING not in line
    assert "RuntimeError" in data["exc"]
    assert "[redacted]" in data["exc"]


def test_unicode_kept_readable():
    _, data = fmt(record("Ääkköset 🤝"))
    assert data["msg"] == "Ääkköset 🤝"


def test_redact_plain_text():
    assert redact("a xoxb-1-x b", ("zz",)) == "a [redacted] b"
    assert redact("a zz b", ("zz",)) == "a [redacted] b"
    assert redact("nothing here", ("",)) == "nothing here"


def test_setup_logging_writes_json_to_stderr(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("debug", secrets=(SIGNING,))
        logging.getLogger("trustloop.x").debug("hello %s %s", "xoxb-9-q", SIGNING)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    data = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert data["msg"] == "hello [redacted] [redacted]"
    assert data["level"] == "debug"


def test_forged_request_bodies_are_not_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bolt logs a bad-signature request's whole body at INFO; that logger stays quiet."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    bolt = logging.getLogger("slack_bolt")
    monkeypatch.setattr(bolt, "level", bolt.level)
    setup_logging("INFO")
    verifier = logging.getLogger("slack_bolt.AsyncRequestVerification")
    assert not verifier.isEnabledFor(logging.INFO)
    assert verifier.isEnabledFor(logging.WARNING)
    assert logging.getLogger("bot.services").isEnabledFor(logging.INFO)
