"""Slack delivers a request again (X-Slack-Retry-Num 1–3): it is handled once.

Every surface gets the first delivery and Slack's three retries, one after another (the
retries arrive after the first answer) and all at once (they arrive while the first is
still being handled): one interaction stored, one DM, one answer, one reply. A retry that
reaches a restarted bot is recognised from the database. See `bot/redelivery.py`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.localslack.requests import (
    block_actions_payload,
    event_callback_body,
    slash_command_form,
    view_submission_payload,
)
from bot.localslack.server import SlackStub
from storage import db
from storage import tables as t
from tests.conftest import (
    ALICE,
    BOB,
    TEAM,
    Bot,
    eventually,
)
from tests.handlers.test_actions import button, checkin_row, dm_of, log_checkin
from tests.reliability.conftest import (
    FORM,
    JSON,
    deliver,
    deliver_with_retries,
    form_payload,
    running_bot,
    settled,
)

WAYS = pytest.mark.parametrize("together", [False, True], ids=["one_by_one", "all_at_once"])


async def count(bot_or_engine: Any, table: Any) -> int:
    engine = bot_or_engine.svc.engine if isinstance(bot_or_engine, Bot) else bot_or_engine
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def checkin_command(stub: SlackStub, text: str) -> tuple[bytes, str]:
    url = stub.new_response_url()
    body = slash_command_form(
        "/checkin",
        text,
        team_id=TEAM,
        user_id=ALICE,
        trigger_id=stub.issue_trigger_id(),
        response_url=url,
    )
    return body, url


def responses_to(stub: SlackStub, url: str) -> list[dict[str, Any]]:
    return [r.body for r in stub.responses if url.endswith(r.url_token)]


async def add_acme(bot: Bot) -> None:
    await bot.slack.command("/trust", "account add Acme", user_id=ALICE)
    await eventually(lambda: bot.stub.responses)


@WAYS
async def test_slash_command_is_handled_once(bot: Bot, together: bool) -> None:
    await add_acme(bot)
    bot.stub.clear()
    body, url = checkin_command(bot.stub, f"Acme call <@{BOB}|bob> kickoff")
    replies = await deliver_with_retries(bot.slack, body, FORM, together=together)
    assert [r.status for r in replies] == [200] * 4
    await eventually(lambda: responses_to(bot.stub, url))  # the summary: the last step
    await settled(bot)
    assert await count(bot, t.interactions) == 1
    assert await count(bot, t.checkins) == 2  # Alice's own and Bob's
    assert len(bot.stub.messages(BOB)) == 1  # one DM
    assert len(bot.stub.calls_to("views.open")) == 1  # Alice's modal once
    assert len(responses_to(bot.stub, url)) == 1  # one "Logged a call" reply


def click_body(bot: Bot, message: dict[str, Any], label: str) -> tuple[bytes, str]:
    b = button(message, label)
    url = bot.stub.new_response_url()
    payload = block_actions_payload(
        team_id=TEAM,
        user_id=BOB,
        action_id=b["action_id"],
        block_id=b["block_id"],
        value=b["value"],
        trigger_id=bot.stub.issue_trigger_id(),
        response_url=url,
        container={
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": message["channel"],
            "is_ephemeral": False,
        },
        message=message,
        channel_id=message["channel"],
    )
    return form_payload(payload), url


@WAYS
async def test_button_click_is_handled_once(bot: Bot, together: bool) -> None:
    await log_checkin(bot)
    body, url = click_body(bot, dm_of(bot, BOB), "4")
    bot.stub.clear()
    replies = await deliver_with_retries(bot.slack, body, FORM, together=together)
    assert [r.status for r in replies] == [200] * 4
    await eventually(lambda: bot.stub.calls_to("chat.update"))  # the DM shows the answer
    await settled(bot)
    row = await checkin_row(bot, BOB)
    assert (row.status, row.rating) == ("answered", 4)
    assert len(bot.stub.calls_to("chat.update")) == 1  # the DM shows the answer, once
    assert responses_to(bot.stub, url) == []  # no "you already answered" for its own click
    assert bot.stub.calls_to("views.publish") == []  # a DM click does not redraw the Home


def submission(bot: Bot, view: dict[str, Any], rating: str | None) -> bytes:
    values: dict[str, Any] = {}
    if rating is not None:
        values["rating"] = {
            "rating_input": {"type": "radio_buttons", "selected_option": {"value": rating}}
        }
    payload = view_submission_payload(
        team_id=TEAM,
        user_id=ALICE,
        view=view,
        values=values,
        trigger_id=bot.stub.issue_trigger_id(),
    )
    return form_payload(payload)


@WAYS
async def test_modal_submission_is_handled_once(bot: Bot, together: bool) -> None:
    await log_checkin(bot)
    view = bot.stub.calls_to("views.open")[-1].response["view"]  # Alice's own check-in
    body = submission(bot, view, "5")
    bot.stub.clear()
    replies = await deliver_with_retries(bot.slack, body, FORM, together=together)
    # Every delivery gets the first one's answer: the modal closes, no "already answered".
    assert [(r.status, r.json()) for r in replies] == [(200, {})] * 4
    await eventually(lambda: bot.stub.calls_to("views.publish"))
    await settled(bot)
    row = await checkin_row(bot, ALICE)
    assert (row.status, row.rating) == ("answered", 5)
    assert len(bot.stub.calls_to("views.publish")) == 1


async def test_a_retried_submission_with_errors_gets_the_same_errors(bot: Bot) -> None:
    await log_checkin(bot)
    view = bot.stub.calls_to("views.open")[-1].response["view"]
    replies = await deliver_with_retries(
        bot.slack, submission(bot, view, None), FORM, together=True
    )
    answers = [r.json() for r in replies]
    assert answers[0]["response_action"] == "errors" and "rating" in answers[0]["errors"]
    assert answers == [answers[0]] * 4  # not an empty 200, which would close the modal


def home_opened(user: str = ALICE) -> bytes:
    envelope = event_callback_body(
        team_id=TEAM, event={"type": "app_home_opened", "user": user, "tab": "home"}
    )
    return json.dumps(envelope).encode()


@WAYS
async def test_event_is_handled_once(bot: Bot, together: bool) -> None:
    replies = await deliver_with_retries(bot.slack, home_opened(), JSON, together=together)
    assert [r.status for r in replies] == [200] * 4
    await eventually(lambda: bot.stub.calls_to("views.publish"))
    await settled(bot)
    assert len(bot.stub.calls_to("views.publish")) == 1


async def test_a_new_event_is_not_mistaken_for_a_retry(bot: Bot) -> None:
    for _ in range(2):
        assert (await deliver(bot.slack, home_opened(), JSON, retry_num=1)).status == 200
    await eventually(lambda: len(bot.stub.calls_to("views.publish")) == 2)


async def test_a_retry_that_reaches_a_restarted_bot_is_not_handled_again(
    stub: SlackStub, db_url: str
) -> None:
    body, url = checkin_command(stub, f"Acme call <@{BOB}|bob>")
    event = home_opened()
    async with running_bot(stub, db_url) as first:
        await first.slack.command("/trust", "account add Acme", user_id=ALICE)
        await eventually(lambda: stub.responses)
        assert (await deliver(first.slack, body, FORM)).status == 200
        assert (await deliver(first.slack, event, JSON)).status == 200
        await eventually(lambda: responses_to(stub, url) and stub.calls_to("views.publish"))
    engine = db.create_engine(db_url)
    try:
        async with running_bot(stub, db_url) as restarted:
            assert (await deliver(restarted.slack, body, FORM, retry_num=1)).status == 200
            assert (await deliver(restarted.slack, event, JSON, retry_num=1)).status == 200
            # The restarted bot does work: a new request is answered.
            reply = await restarted.slack.command("/trust", "help", user_id=ALICE)
            assert "/checkin" in reply.text
        assert await count(engine, t.interactions) == 1
        assert len(stub.messages(BOB)) == 1
        assert len(responses_to(stub, url)) == 1
        assert len(stub.calls_to("views.publish")) == 1
    finally:
        await engine.dispose()
