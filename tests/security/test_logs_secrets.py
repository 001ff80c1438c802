"""The bot token and the signing secret never reach the logs, and every log line is JSON.

In process: every record logged (at DEBUG, by the bot, Bolt, the Slack SDK, aiohttp) while
the real bot serves good and failing requests — bad signatures, Slack answering
`invalid_auth`, a listener raising an exception that quotes both secrets — is rendered by
the formatter `trustloop` installs (`setup_logging` with the secrets from Settings): no
line contains either secret and each line is one JSON object. `trustloop run` as a
subprocess, at LOG_LEVEL=DEBUG, is driven through the same failures: its stderr is JSON
lines only, its stdout is empty, and neither secret appears in either.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.localslack.requests import sign, slash_command_form
from bot.localslack.server import SlackStub
from bot.logs import setup_logging
from tests.bot.test_cli import TRUSTLOOP, env_for
from tests.conftest import ALICE, BOB, SECRET, TOKEN, Bot, eventually
from tests.security.conftest import command

FIELDS = {"ts", "level", "logger", "msg"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector(logging.Handler):
    """Keeps every record and its formatted line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    """The logging `trustloop` sets up (secrets from Settings), at DEBUG, into a collector."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    loggers = {n: logging.getLogger(n).level for n in ("apscheduler", "alembic", "aiohttp.access")}
    collector = Collector()
    try:
        setup_logging("DEBUG", (TOKEN, SECRET))
        collector.setFormatter(root.handlers[0].formatter)
        root.handlers[:] = [collector]
        yield collector
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in loggers.items():
            logging.getLogger(name).setLevel(level)


def assert_clean(lines: list[str]) -> None:
    """No secret in any line, and every line is one JSON object with the standard fields."""
    assert lines, "nothing was logged"
    for line in lines:
        assert TOKEN not in line and SECRET not in line, line
        assert "\n" not in line, line
        data = json.loads(line)
        assert isinstance(data, dict) and set(data) >= FIELDS, line


async def test_failing_requests_log_json_without_secrets(
    bot: Bot, logs: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    await command(bot.slack, bot.stub, "/trust", "account add Acme", ALICE)
    # A forged request, one signed with the wrong secret, one with a malformed header.
    body = slash_command_form(
        "/trust",
        "account add Evil",
        team_id="T0001",
        user_id=ALICE,
        trigger_id=bot.stub.issue_trigger_id(),
        response_url=bot.stub.new_response_url(),
    )
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    now = int(time.time())
    for headers in (
        {},
        sign(body, "wrong", now),
        {**sign(body, SECRET, now), "X-Slack-Signature": "v0=x"},
    ):
        assert (await bot.slack.raw(body, {**form, **headers})).status == 401
    # Slack refuses the token: the modal and the DM fail with invalid_auth.
    bot.stub.fail_next("views.open", error="invalid_auth")
    bot.stub.fail_next("chat.postMessage", error="invalid_auth", times=3)
    answer = await command(bot.slack, bot.stub, "/checkin", f"Acme call <@{BOB}|bob>", ALICE)
    assert "Logged a call" in answer["text"]
    bot.stub.fail_next("views.open", error="invalid_auth")
    await bot.slack.command("/checkin", "", user_id=ALICE)

    # A listener that fails with both secrets in its exception (and its traceback).
    async def leaky(**_kw: Any) -> None:
        raise RuntimeError(f"token {TOKEN} and secret {SECRET} leaked into an error")

    monkeypatch.setattr(bot.svc, "end_away", leaky)
    answer = await command(bot.slack, bot.stub, "/trust", "back", ALICE)
    assert "went wrong" in answer["text"] and TOKEN not in answer["text"]
    await eventually(lambda: any("listener failed" in line for line in logs.lines))
    assert_clean(logs.lines)
    assert any(r.levelno >= logging.ERROR and r.exc_info for r in logs.records)
    assert any("invalid_auth" in line for line in logs.lines)
    assert any("[redacted]" in line for line in logs.lines)  # the leaky exception, masked

    # Nothing but that deliberately leaky exception carries a secret, even before masking.
    def planted(record: logging.LogRecord) -> bool:
        return bool(record.exc_info and "leaked into an error" in str(record.exc_info[1]))

    raw = [
        r
        for r in logs.records
        if not planted(r) and (TOKEN in str(r.__dict__) or SECRET in str(r.__dict__))
    ]
    assert raw == []


async def read_lines(stream: asyncio.StreamReader, into: list[str]) -> None:
    while line := await stream.readline():
        into.append(line.decode("utf-8", "replace").rstrip("\n"))


async def test_trustloop_run_logs_json_lines_without_secrets(
    stub: SlackStub, tmp_path: Path
) -> None:
    port = free_port()
    env = env_for(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=stub.api_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        PORT=str(port),
        HOST="127.0.0.1",
        LOG_LEVEL="DEBUG",
    )
    proc = await asyncio.create_subprocess_exec(
        TRUSTLOOP,
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    err: list[str] = []
    readers = [
        asyncio.create_task(read_lines(proc.stdout, out)),
        asyncio.create_task(read_lines(proc.stderr, err)),
    ]
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        async with aiohttp.ClientSession() as session:
            await eventually(lambda: any('"listening"' in line for line in err), limit=30)

            async def post(text: str, secret: str | None, extra: dict[str, str] | None = None):
                body = slash_command_form(
                    "/checkin",
                    text,
                    team_id="T0001",
                    user_id=ALICE,
                    trigger_id=stub.issue_trigger_id(),
                    response_url=stub.new_response_url(),
                )
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
                if secret is not None:
                    headers.update(sign(body, secret, int(time.time())))
                headers.update(extra or {})
                async with session.post(url, data=body, headers=headers) as resp:
                    return resp.status

            assert await post("Acme call", None) == 401
            assert await post("Acme call", "not-the-secret") == 401
            assert await post("Acme call", SECRET, {"X-Slack-Request-Timestamp": "x"}) == 401
            stub.fail_next("views.open", error="invalid_auth")
            assert await post("", SECRET) == 200  # the form cannot open: the listener fails
            assert await post("Nobody call", SECRET) == 200
            await eventually(lambda: len(stub.responses) >= 2, limit=15)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
        await asyncio.wait_for(asyncio.gather(*readers), 10)
    assert proc.returncode == 0, err[-5:]
    assert out == []
    assert_clean([line for line in err if line])
    assert any("invalid_auth" in line for line in err)
