"""`trustloop demo`: the scripted story runs the real bot offline and prints a transcript."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
from pathlib import Path

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


async def test_interactive_keeps_running_until_sigterm() -> None:
    busy = web.AppRunner(web.Application())
    await busy.setup()
    await web.TCPSite(busy, "127.0.0.1", 0).start()
    taken = busy.addresses[0][1]  # the wanted stand-in port is in use: a random one is used
    out = io.StringIO()
    task = asyncio.create_task(run_interactive(out, stub_port=taken))
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while "Press Ctrl-C" not in out.getvalue():
            assert not task.done(), out.getvalue()
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        text = out.getvalue()
        bot_url = re.search(r"http://127\.0\.0\.1:\d+/slack/events", text)
        api_url = re.search(r"Slack stand-in \(Web API\): (http://127\.0\.0\.1:(\d+)/api/)", text)
        assert bot_url and api_url and int(api_url.group(2)) != taken
        async with ClientSession() as session:
            async with session.post(bot_url.group(0), data=b"unsigned") as resp:
                assert resp.status == 401  # the real bot verifies signatures
            async with session.post(api_url.group(1) + "auth.test") as resp:
                assert (await resp.json())["error"] == "not_authed"
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, 10)
    finally:
        task.cancel()
        await busy.cleanup()
    assert out.getvalue().rstrip().endswith("Stopping…")


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
