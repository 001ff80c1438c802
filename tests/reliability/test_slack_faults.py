"""Slack faults injected by the stub, on DMs, message updates, digests and chart uploads.

Faults: HTTP 429 with Retry-After, HTTP 500 and 503, timeouts (the stub holds the request
past the client's time limit), dropped connections, `ok: false` errors — each also in the
variant where Slack did the work before the answer was lost. What is checked: calls that
are safe to repeat are retried; a post is never repeated blindly, so every message appears
exactly once; what cannot be done is recorded, logged and told to the user where one is
waiting; and the bot goes on answering. The bot's client gives up after 0.5 s here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.lifecycle import open_services
from bot.localslack.server import SlackStub
from bot.slack import TIMEOUT_SECONDS
from storage import tables as t
from tests.conftest import ALICE, BOB, CAROL, Bot, eventually, make_settings
from tests.handlers.test_actions import button, checkin_row, dm_of, has_actions, log_checkin
from tests.handlers.test_health import add_accounts, subscribe
from tests.reliability.conftest import settled

Fault = Callable[[SlackStub, str], None]

FAULTS: dict[str, Fault] = {
    "429": lambda stub, method: stub.rate_limit_next(method, retry_after=1),
    "500": lambda stub, method: stub.server_error_next(method, status=500),
    "503": lambda stub, method: stub.server_error_next(method, status=503),
    "timeout": lambda stub, method: stub.timeout_next(method, seconds=5),
    "timeout_after_doing_it": lambda stub, method: stub.timeout_next(
        method, seconds=5, processed=True
    ),
    "dropped": lambda stub, method: stub.drop_connection_next(method),
    "dropped_after_doing_it": lambda stub, method: stub.drop_connection_next(
        method, processed=True
    ),
    "fatal_error": lambda stub, method: stub.fail_next(method, error="fatal_error"),
}
# Faults after which the stub did what was asked (the post is there; the answer is lost).
DONE_ANYWAY = {"timeout_after_doing_it", "dropped_after_doing_it"}
# Faults the Web API client retries within the call, for every method.
RETRIED_IN_CALL = {"429"}


async def still_answers(bot: Bot) -> None:
    """The bot is alive and answering."""
    reply = await bot.slack.command("/trust", "help", user_id=ALICE)
    assert reply.status == 200 and "/checkin" in reply.text


async def summary_of_checkin(bot: Bot) -> str:
    """Run /checkin with Bob; return its summary (sent once the DM's outcome is stored)."""
    await bot.slack.command("/checkin", f"Acme call <@{BOB}|bob>", user_id=ALICE)
    url = bot.slack.last_response_url
    assert url is not None
    token = url.rsplit("/", 1)[-1]
    found = await eventually(lambda: [r.body for r in bot.stub.responses if r.url_token == token])
    return str(found[-1])


def digests_in(stub: SlackStub, channel: str = "C9") -> list[dict[str, Any]]:
    return [m for m in stub.messages(channel) if m.get("blocks")]


def files_in(stub: SlackStub, channel: str = "C9") -> list[dict[str, Any]]:
    return [m for m in stub.messages(channel) if m.get("files")]


async def digest_row(bot: Bot) -> Any:
    async with bot.svc.engine.connect() as conn:
        return (await conn.execute(select(t.digest_posts))).one()


# --------------------------------------------------------------------------- check-in DMs


@pytest.mark.parametrize("fault", FAULTS)
async def test_checkin_dm_arrives_exactly_once(impatient: Bot, fault: str) -> None:
    bot = impatient
    await add_accounts(bot, "Acme")
    FAULTS[fault](bot.stub, "chat.postMessage")
    summary = await summary_of_checkin(bot)
    landed = fault in DONE_ANYWAY or fault in RETRIED_IN_CALL
    # The caller is told who could not be reached yet; the check-in is stored either way.
    assert ("Couldn't DM" in summary) == (not landed), summary
    assert (await checkin_row(bot, BOB)).status == "pending"
    for _ in range(3):  # the every-minute tick retries failed DMs
        await bot.svc.run_due_work(bot.clock.advance(minutes=1))
    messages = bot.stub.messages(BOB)
    assert len(messages) == 1, messages
    row = await checkin_row(bot, BOB)
    assert row.dm_ts == messages[0]["ts"]  # answering will update this very message
    await still_answers(bot)


@pytest.mark.parametrize("post_fault", ["timeout", "timeout_after_doing_it"])
@pytest.mark.parametrize("open_fault", ["503", "timeout", "dropped"])
async def test_a_dm_that_may_have_landed_is_looked_up_in_the_right_dm(
    impatient: Bot, post_fault: str, open_fault: str
) -> None:
    """The first DM to Bob goes to his user id and gets no answer; the bot never learnt his
    DM's D… id, which reading its history needs: conversations.open gives it (retried after
    its own fault), and the DM still appears exactly once."""
    bot = impatient
    await add_accounts(bot, "Acme")
    FAULTS[post_fault](bot.stub, "chat.postMessage")
    FAULTS[open_fault](bot.stub, "conversations.open")
    summary = await summary_of_checkin(bot)
    landed = post_fault in DONE_ANYWAY
    assert ("Couldn't DM" in summary) == (not landed), summary
    for _ in range(3):  # the every-minute tick retries failed DMs
        await bot.svc.run_due_work(bot.clock.advance(minutes=1))
    dm = bot.stub.dm_channel_for(BOB)
    messages = bot.stub.messages(dm)
    assert len(messages) == 1, messages
    row = await checkin_row(bot, BOB)
    assert (row.dm_channel, row.dm_ts) == (dm, messages[0]["ts"])
    # Only this rare path opens the DM, and once: its id is remembered for Bob.
    assert [c.response["channel"]["id"] for c in bot.stub.calls_to("conversations.open")] == [dm]
    history = bot.stub.calls_to("conversations.history")
    assert history and all(c.args["channel"] == dm for c in history)
    await still_answers(bot)


@pytest.mark.parametrize("fault", ["timeout", "timeout_after_doing_it"])
async def test_an_unconfirmable_dm_is_not_posted_again(impatient: Bot, fault: str) -> None:
    """Without access to the DM's history the bot cannot tell whether it landed: once only."""
    bot = impatient
    await add_accounts(bot, "Acme")
    bot.stub.fail_next("conversations.history", error="missing_scope", times=10)
    FAULTS[fault](bot.stub, "chat.postMessage")
    summary = await summary_of_checkin(bot)
    assert "Couldn't DM" in summary
    for _ in range(4):
        await bot.svc.run_due_work(bot.clock.advance(minutes=1))
    landed = fault in DONE_ANYWAY
    assert len(bot.stub.messages(BOB)) == (1 if landed else 0)
    row = await checkin_row(bot, BOB)
    assert (row.status, row.delivery_error) == ("pending", "Unconfirmed")
    if landed:
        # The DM the bot could not confirm still works, and stops offering buttons.
        message = dm_of(bot, BOB)
        four = button(message, "4")
        await bot.slack.click(
            user_id=BOB, action_id=four["action_id"], value=four["value"], message=message
        )
        await eventually(lambda: not has_actions(dm_of(bot, BOB)))
        assert (await checkin_row(bot, BOB)).rating == 4
    else:
        # Bob never got the DM: his check-in waits, answerable, on his App Home.
        await bot.slack.event({"type": "app_home_opened", "user": BOB, "tab": "home"})
        home = await eventually(lambda: bot.stub.home_views.get(BOB))
        assert button(home, "4")["value"]


async def test_a_reminder_that_times_out_does_not_stop_the_tick(impatient: Bot) -> None:
    bot = impatient
    await log_checkin(bot, teammates=(BOB, CAROL))
    bot.stub.timeout_next("chat.postMessage", seconds=5)
    report = await bot.svc.run_due_work(bot.clock.advance(hours=5))  # reminders are due
    # One reminder timed out (claimed, so never sent twice); the others still went out.
    assert report.reminded == 2
    report = await bot.svc.run_due_work(bot.clock.advance(hours=1))
    assert report.reminded == 0
    await still_answers(bot)


# --------------------------------------------------------------------------- updates


@pytest.mark.parametrize("fault", FAULTS)
async def test_answer_is_shown_in_the_dm_despite_update_faults(impatient: Bot, fault: str) -> None:
    bot = impatient
    await log_checkin(bot)
    message = dm_of(bot, BOB)
    four = button(message, "4")
    FAULTS[fault](bot.stub, "chat.update")
    reply = await bot.slack.click(
        user_id=BOB, action_id=four["action_id"], value=four["value"], message=message
    )
    assert reply.status == 200
    await eventually(lambda: not has_actions(dm_of(bot, BOB)), limit=10)
    assert "4 · good" in str(dm_of(bot, BOB)["blocks"])
    assert (await checkin_row(bot, BOB)).rating == 4
    await settled(bot)
    assert not any("couldn't" in str(r.body).casefold() for r in bot.stub.responses)


async def test_an_update_slack_refuses_is_told_to_the_user(impatient: Bot) -> None:
    bot = impatient
    await log_checkin(bot)
    message = dm_of(bot, BOB)
    four = button(message, "4")
    bot.stub.fail_next("chat.update", error="message_not_found", times=2)
    await bot.slack.click(
        user_id=BOB, action_id=four["action_id"], value=four["value"], message=message
    )
    told = await eventually(
        lambda: [r.body for r in bot.stub.responses if "couldn't update" in str(r.body)]
    )
    assert told[0]["response_type"] == "ephemeral" and "Saved" in told[0]["text"]
    assert (await checkin_row(bot, BOB)).rating == 4


# --------------------------------------------------------------------------- digests


@pytest.mark.parametrize("fault", FAULTS)
async def test_digest_is_posted_exactly_once(impatient: Bot, fault: str) -> None:
    bot = impatient
    await add_accounts(bot, "Acme")
    await subscribe(bot)
    FAULTS[fault](bot.stub, "chat.postMessage")
    start = bot.clock.now
    for minutes in (0, 1, 2, 6, 20, 80, 200):  # past every retry gap
        bot.clock.now = start + timedelta(minutes=minutes)
        report = await bot.svc.run_due_work(bot.clock.now)
        assert report is not None
    posted = digests_in(bot.stub)
    assert len(posted) == 1
    row = await digest_row(bot)
    assert (row.status, row.message_ts) == ("posted", posted[0]["ts"])
    assert len(files_in(bot.stub)) == 1  # the chart, once
    await still_answers(bot)


@pytest.mark.parametrize("fault", ["timeout", "timeout_after_doing_it"])
async def test_an_unconfirmable_digest_is_recorded_not_posted_again(
    impatient: Bot, fault: str
) -> None:
    bot = impatient
    await add_accounts(bot, "Acme")
    await subscribe(bot)
    bot.stub.fail_next("conversations.history", error="missing_scope", times=10)
    FAULTS[fault](bot.stub, "chat.postMessage")
    for _ in range(4):
        await bot.svc.run_due_work(bot.clock.now)
        bot.clock.advance(minutes=30)
    assert len(digests_in(bot.stub)) == (1 if fault in DONE_ANYWAY else 0)
    row = await digest_row(bot)
    assert (row.status, row.error) == ("gave_up", "Unconfirmed")


# --------------------------------------------------------------------------- uploads

UPLOAD_FAULTS = [
    ("files.getUploadURLExternal", "500", True),
    ("files.getUploadURLExternal", "timeout", True),
    ("files.getUploadURLExternal", "dropped", True),
    ("upload", "503", True),
    ("upload", "timeout", True),
    ("upload", "dropped", True),
    ("files.completeUploadExternal", "429", True),
    ("files.completeUploadExternal", "500", False),
    ("files.completeUploadExternal", "timeout", False),
    ("files.completeUploadExternal", "timeout_after_doing_it", None),
    ("files.completeUploadExternal", "dropped_after_doing_it", None),
]


@pytest.mark.parametrize(
    ("method", "fault", "shared"), UPLOAD_FAULTS, ids=[f"{m}-{f}" for m, f, _ in UPLOAD_FAULTS]
)
async def test_chart_upload_faults(
    impatient: Bot, method: str, fault: str, shared: bool | None
) -> None:
    """Retried where repeating is safe; a share that may have happened is never repeated."""
    bot = impatient
    await add_accounts(bot, "Acme")
    await subscribe(bot)
    FAULTS[fault](bot.stub, method)
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 1
    assert len(digests_in(bot.stub)) == 1  # the digest itself never waits on its chart
    row = await digest_row(bot)
    assert row.status == "posted"
    files = files_in(bot.stub)
    if shared is None:  # Slack shared it, the bot could not know: once, and recorded
        assert len(files) == 1 and row.chart_error is not None
    else:
        assert len(files) == (1 if shared else 0)
        assert (row.chart_error is None) == shared
    await still_answers(bot)


async def test_the_running_bot_gives_up_on_a_silent_slack_in_time(
    stub: SlackStub, tmp_path: Path
) -> None:
    """`trustloop run`'s pooled session carries the time limit (aiohttp's own is 5 minutes)."""
    settings = make_settings(stub.api_url, f"sqlite+aiosqlite:///{tmp_path / 'run.db'}")
    async with open_services(settings) as svc:
        session = svc.client.session
        assert session is not None and session.timeout.total == TIMEOUT_SECONDS
