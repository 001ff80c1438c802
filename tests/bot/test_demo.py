"""`trustloop demo`: the scripted story runs the real bot offline and prints a transcript."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import socket
from pathlib import Path

import pytest
from aiohttp import ClientSession, web

from bot.config import Settings
from bot.demo import render_blocks, render_text, run_demo, run_interactive, run_script


def _normalise(transcript: str) -> str:
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", transcript)


async def test_script_tells_the_whole_story() -> None:
    out = io.StringIO()
    result = await run_script(out)
    text = out.getvalue()
    for name in ("Northwind Traders", "Acme Oy", "Globex", "Initech", "Umbrella Health", "Hooli"):
        assert f"Created account *{name}*" in text
    assert "[1 · eroding] [2 · shaky] [3 · steady] [4 · good] [5 · strong]" in text
    assert "== trustloop commands ==" in text  # /trust help
    assert "There is no account called *Northwnd*" in text
    assert "[Use Northwind Traders]" in text
    assert "Logged a *meeting* with *Northwind Traders*" in text
    assert "You already answered this check-in, so nothing changed" in text
    assert "You rated trust *2 · shaky* · direction: worse · stage: calculative" in text
    assert "You skipped this check-in." in text
    assert "@priya is away: no check-in asked" in text
    assert "You're away until" in text
    assert "sam's App Home tab shows:" in text
    assert "⏰ *Reminder*" in text
    assert "reminded 1" in text and "reminded 0" in text
    assert "This check-in expired without an answer." in text
    assert "expired 2" in text
    # promises: logged, listed with buttons, kept, renegotiated, reminded and broken
    assert "Promise logged" in text and "*Your open promises*" in text
    assert "*kept* on time" in text
    assert "picks Friday 4 December" in text and "┌ Renegotiate ┐" in text
    assert "⏰ Due today — did you keep it?" in text and "*broken*" in text
    # the digest, posted by tick once #account-health is subscribed, with its chart
    assert "This channel is subscribed to the weekly trust digest" in text
    assert "digests 1" in text
    assert "new message in #account-health:\n      == Trust digest" in text
    assert "[image: Trust trend, last 12 weeks]" in text
    # user text is shown as typed, never as a Slack token
    assert "They won't sign <until the SSO fix ships> & legal is slow" in text
    assert "&lt;" not in text and "&amp;" not in text and "<!date" not in text
    assert "Traceback" not in text
    # offline: everything went to the local stand-in
    assert result.api_url.startswith("http://127.0.0.1:")
    assert result.web_api_calls > 20
    assert result.violations == []


async def test_script_runs_twice_the_same_way() -> None:
    first, second = io.StringIO(), io.StringIO()
    await run_script(first)
    await run_script(second)
    assert _normalise(first.getvalue()) == _normalise(second.getvalue())


async def test_run_demo_ignores_the_environment_and_never_calls_slack(tmp_path: Path) -> None:
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"ok": False, "error": "invalid_auth"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    real_db = tmp_path / "real.db"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-real-token",
        slack_signing_secret="real-secret",
        slack_api_url=f"http://127.0.0.1:{port}/api/",
        database_url=f"sqlite+aiosqlite:///{real_db}",
        port=port,
    )
    out = io.StringIO()
    try:
        code = await asyncio.to_thread(run_demo, settings, script=True, out=out)
    finally:
        await runner.cleanup()
    assert code == 0
    assert hits == []
    assert not real_db.exists()
    assert "━━ Done ━━" in out.getvalue()


async def test_interactive_serves_the_workspace_page_until_sigterm() -> None:
    out = io.StringIO()
    task = asyncio.create_task(run_interactive(out, port=_free_port()))
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while "Press Ctrl-C" not in out.getvalue():
            assert not task.done(), out.getvalue()
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        text = out.getvalue()
        page = re.search(r"Open (http://127\.0\.0\.1:\d+/) in your browser", text)
        bot_url = re.search(r"http://127\.0\.0\.1:\d+/slack/events", text)
        assert page and bot_url, text
        assert "30 sample accounts" in text and "This week's digest is posted" in text
        assert re.search(r'/checkin "[^"]+" call @dana', text)  # the tour names a real account
        async with ClientSession() as session:
            async with session.get(page.group(1)) as resp:
                html = await resp.text()
            assert resp.status == 200
            assert "Trust digest" in html and "# account-health" in html
            async with session.post(bot_url.group(0), data=b"unsigned") as resp:
                assert resp.status == 401  # the real bot verifies signatures
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, 15)
    finally:
        task.cancel()
    assert out.getvalue().rstrip().endswith("Stopping…")


def test_a_taken_port_is_named_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = Settings(_env_file=None, port=port)  # type: ignore[call-arg]
        assert run_demo(settings, script=False, out=io.StringIO()) == 1
    assert f"port {port} on 127.0.0.1 is taken" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_render_blocks() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Hello"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Due <!date^1732000000^{date_short_pretty}|2026-11-23> for <@U1> &lt;!here&gt; &amp; co",
            },
            "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Open"}},
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "a"}, {"type": "mrkdwn", "text": "b"}],
        },
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "1 · eroding"}},
                {"type": "button", "text": {"type": "plain_text", "text": "2 · shaky"}},
            ],
        },
    ]
    text = render_blocks(blocks, {"U1": "bob"})
    assert text.splitlines() == [
        "== Hello ==",
        "Due 2026-11-23 for @bob <!here> & co  [Open]",
        "  a · b",
        "-" * 24,
        "[1 · eroding] [2 · shaky]",
    ]
    assert render_text("<#C1|sales> <https://x.example|site> <!channel>") == "#sales site @channel"
