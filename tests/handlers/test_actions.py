"""Scenario tests: answering check-ins from DMs, the modal and the App Home."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from storage import tables as t
from tests.conftest import ALICE, BOB, CAROL, Bot, eventually


async def log_checkin(bot: Bot, teammates: tuple[str, ...] = (BOB,)) -> None:
    reply = await bot.slack.command("/trust", "account add Acme", user_id=ALICE)
    assert reply.status == 200
    await eventually(lambda: bot.stub.responses)
    mentions = " ".join(f"<@{u}|x>" for u in teammates)
    await bot.slack.command("/checkin", f"Acme call {mentions} kickoff", user_id=ALICE)
    await eventually(lambda: len(bot.stub.calls_to("chat.postMessage")) == len(teammates))


def dm_of(bot: Bot, user: str) -> dict:
    channel = bot.stub.dm_channel_for(user)
    messages = bot.stub.messages(channel)
    assert messages, f"no DM for {user}"
    return {**messages[-1], "channel": channel}


def button(message: dict, starts: str) -> dict:
    for block in message["blocks"]:
        if block["type"] == "actions":
            for element in block["elements"]:
                if element["text"]["text"].startswith(starts):
                    return {**element, "block_id": block["block_id"]}
    raise AssertionError(f"no button {starts!r}")


async def checkin_row(bot: Bot, user: str):
    async with bot.svc.engine.connect() as conn:
        return (await conn.execute(select(t.checkins).where(t.checkins.c.user_id == user))).one()


def has_actions(message: dict) -> bool:
    return any(b["type"] == "actions" for b in message["blocks"])


async def test_rating_click_stores_and_updates_in_place(bot: Bot) -> None:
    await log_checkin(bot)
    message = dm_of(bot, BOB)
    four = button(message, "4")
    reply = await bot.slack.click(
        user_id=BOB,
        action_id=four["action_id"],
        value=four["value"],
        block_id=four["block_id"],
        message=message,
    )
    assert reply.status == 200
    await eventually(lambda: bot.stub.calls_to("chat.update"))
    row = await checkin_row(bot, BOB)
    assert row.status == "answered" and row.rating == 4
    updated = dm_of(bot, BOB)
    assert not has_actions(updated)
    assert "4 · good" in str(updated["blocks"])


async def test_second_click_changes_nothing_and_is_polite(bot: Bot) -> None:
    await log_checkin(bot)
    message = dm_of(bot, BOB)  # the old message, still with its buttons (a stale client)
    for label in ("2", "5"):
        b = button(message, label)
        await bot.slack.click(
            user_id=BOB, action_id=b["action_id"], value=b["value"], message=message
        )
        # The click is acknowledged before it is stored; the second comes after the first
        # has been saved and shown (two clicks at once: the next test).
        await eventually(lambda: bot.stub.calls_to("chat.update"))
    await eventually(lambda: any("already answered" in str(r.body) for r in bot.stub.responses))
    row = await checkin_row(bot, BOB)
    assert row.rating == 2
    # the stale message may be redrawn, but only ever with the first answer
    for call in bot.stub.calls_to("chat.update"):
        assert "2 · " in str(call.args["blocks"]) and "5 · " not in str(call.args["blocks"])


async def test_two_clicks_at_once_store_one_answer_and_tell_the_other(bot: Bot) -> None:
    await log_checkin(bot)
    message = dm_of(bot, BOB)
    clicks = [button(message, label) for label in ("2", "5")]
    await asyncio.gather(
        *(
            bot.slack.click(
                user_id=BOB, action_id=b["action_id"], value=b["value"], message=message
            )
            for b in clicks
        )
    )
    await eventually(lambda: any("already answered" in str(r.body) for r in bot.stub.responses))
    await eventually(lambda: bot.stub.calls_to("chat.update"))
    row = await checkin_row(bot, BOB)
    assert row.status == "answered" and row.rating in (2, 5)
    # the DM may be redrawn by both clicks, but only ever with the answer that was stored
    for call in bot.stub.calls_to("chat.update"):
        assert f"{row.rating} · " in str(call.args["blocks"])
        assert f"{7 - row.rating} · " not in str(call.args["blocks"])
    assert f"{row.rating} · " in str(dm_of(bot, BOB)["blocks"])


async def test_someone_else_cannot_answer(bot: Bot) -> None:
    await log_checkin(bot)
    message = dm_of(bot, BOB)
    b = button(message, "1")
    await bot.slack.click(
        user_id=CAROL, action_id=b["action_id"], value=b["value"], message=message
    )
    await eventually(lambda: any("isn't yours" in str(r.body) for r in bot.stub.responses))
    assert (await checkin_row(bot, BOB)).status == "pending"


async def test_tampered_value_is_refused(bot: Bot) -> None:
    await log_checkin(bot)
    message = dm_of(bot, BOB)
    b = button(message, "3")
    for value in ("abc", "-1", "99999", "1; DROP TABLE checkins"):
        reply = await bot.slack.click(
            user_id=BOB, action_id=b["action_id"], value=value, message=message
        )
        assert reply.status == 200
    await eventually(lambda: sum("couldn't find" in str(r.body) for r in bot.stub.responses) >= 3)
    assert (await checkin_row(bot, BOB)).status == "pending"


async def test_skip(bot: Bot) -> None:
    await log_checkin(bot)
    message = dm_of(bot, BOB)
    b = button(message, "Skip")
    await bot.slack.click(user_id=BOB, action_id=b["action_id"], value=b["value"], message=message)
    await eventually(lambda: bot.stub.calls_to("chat.update"))
    row = await checkin_row(bot, BOB)
    assert row.status == "skipped" and row.rating is None
    assert not has_actions(dm_of(bot, BOB))


async def test_add_details_modal_saves_everything(bot: Bot) -> None:
    await log_checkin(bot)
    message = dm_of(bot, BOB)
    b = button(message, "Add details")
    bot.stub.clear()
    await bot.slack.click(user_id=BOB, action_id=b["action_id"], value=b["value"], message=message)
    opened = await eventually(lambda: bot.stub.calls_to("views.open"))
    view = opened[-1].response["view"]
    values = {
        "rating": {"rating_input": {"type": "radio_buttons", "selected_option": {"value": "2"}}},
        "direction": {
            "direction_input": {"type": "radio_buttons", "selected_option": {"value": "worse"}}
        },
        "stage": {
            "stage_input": {"type": "static_select", "selected_option": {"value": "calculative"}}
        },
        "concern": {
            "concern_input": {"type": "plain_text_input", "value": "They ask for <!here> & more"}
        },
    }
    reply = await bot.slack.submit(user_id=BOB, view=view, values=values)
    assert reply.status == 200 and reply.text in ("", "{}")  # modal closes only after storing
    row = await checkin_row(bot, BOB)
    assert (row.status, row.rating, row.direction, row.stage) == (
        "answered",
        2,
        "worse",
        "calculative",
    )
    assert row.concern == "They ask for <!here> & more"
    await eventually(lambda: bot.stub.calls_to("chat.update"))
    shown = str(dm_of(bot, BOB)["blocks"])
    assert "&lt;!here&gt; &amp; more" in shown and "<!here>" not in shown


async def test_modal_without_rating_shows_an_error(bot: Bot) -> None:
    await log_checkin(bot)
    message = dm_of(bot, BOB)
    b = button(message, "Add details")
    await bot.slack.click(user_id=BOB, action_id=b["action_id"], value=b["value"], message=message)
    opened = await eventually(lambda: bot.stub.calls_to("views.open"))
    reply = await bot.slack.submit(user_id=BOB, view=opened[-1].response["view"], values={})
    body = reply.json()
    assert body["response_action"] == "errors" and "rating" in body["errors"]
    assert (await checkin_row(bot, BOB)).status == "pending"


async def test_callers_own_modal_answer(bot: Bot) -> None:
    await log_checkin(bot)
    view = bot.stub.calls_to("views.open")[-1].response["view"]
    values = {
        "rating": {"rating_input": {"type": "radio_buttons", "selected_option": {"value": "5"}}}
    }
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    assert reply.status == 200
    row = await checkin_row(bot, ALICE)
    assert row.status == "answered" and row.rating == 5
    # submitting the same modal again (a retry) keeps the first answer
    values["rating"]["rating_input"]["selected_option"]["value"] = "1"
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    assert reply.json()["response_action"] == "update"
    assert (await checkin_row(bot, ALICE)).rating == 5


async def test_home_tab_lists_pending_and_answers_there(bot: Bot) -> None:
    await log_checkin(bot)
    reply = await bot.slack.event(
        {"type": "app_home_opened", "user": BOB, "channel": "D1", "tab": "home"}
    )
    assert reply.status == 200
    home = await eventually(lambda: bot.stub.home_views.get(BOB))
    assert "Acme" in str(home["blocks"])
    three = button(home, "3")
    await bot.slack.click(
        user_id=BOB, action_id=three["action_id"], value=three["value"], view=home
    )
    await eventually(
        lambda: (r := bot.stub.home_views.get(BOB)) and "No check-ins waiting" in str(r["blocks"])
    )
    assert (await checkin_row(bot, BOB)).rating == 3
    await eventually(lambda: not has_actions(dm_of(bot, BOB)))


async def test_failed_dm_keeps_the_interaction_and_retries(bot: Bot) -> None:
    await bot.slack.command("/trust", "account add Acme", user_id=ALICE)
    await eventually(lambda: bot.stub.responses)
    bot.stub.fail_next("chat.postMessage", error="channel_not_found")
    await bot.slack.command("/checkin", f"Acme call <@{BOB}|bob>", user_id=ALICE)
    await eventually(lambda: len(bot.stub.responses) >= 2)
    assert "Couldn't DM" in str(bot.stub.responses[-1].body)
    row = await checkin_row(bot, BOB)
    assert (
        row.status == "pending" and row.dm_ts is None and row.delivery_error == "channel_not_found"
    )
    report = await bot.svc.run_due_work(bot.clock.advance(minutes=5))
    assert report.redelivered == 1
    assert (await checkin_row(bot, BOB)).dm_ts is not None


async def test_rate_limited_dm_is_retried_after_retry_after(bot: Bot) -> None:
    await bot.slack.command("/trust", "account add Acme", user_id=ALICE)
    await eventually(lambda: bot.stub.responses)
    bot.stub.rate_limit_next("chat.postMessage", retry_after=1)
    await bot.slack.command("/checkin", f"Acme call <@{BOB}|bob>", user_id=ALICE)
    url = bot.slack.last_response_url
    assert url is not None
    token = url.rsplit("/", 1)[-1]
    # the summary is sent only after the DM's outcome is saved, so it marks the end of the work
    summary = await eventually(
        lambda: [r.body for r in bot.stub.responses if r.url_token == token], limit=10
    )
    assert "Logged a call with Acme" in summary[-1]["text"]
    assert "Couldn't DM" not in str(summary[-1])
    # The DM goes to Bob's user id: no conversations.open before it.
    assert bot.stub.calls_to("conversations.open", all=True) == []
    assert len(bot.stub.calls_to("chat.postMessage", all=True)) == 2
    posted = bot.stub.calls_to("chat.postMessage")
    assert len(posted) == 1
    assert posted[0].args["channel"] == BOB
    row = await checkin_row(bot, BOB)
    assert (row.dm_channel, row.dm_ts) == (posted[0].response["channel"], posted[0].response["ts"])
    assert row.dm_channel == bot.stub.dm_channel_for(BOB)


async def test_promises_made_while_answering_are_linked_to_the_interaction(bot: Bot) -> None:
    await log_checkin(bot)
    view = bot.stub.calls_to("views.open")[-1].response["view"]
    rating = {"rating_input": {"type": "radio_buttons", "selected_option": {"value": "4"}}}
    bad = {
        "rating": rating,
        "promises_made": {
            "promises_made_input": {
                "type": "plain_text_input",
                "value": "send deck by friday\ncall back by 31.2.",
            }
        },
    }
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=bad)
    body = reply.json()
    assert body["response_action"] == "errors" and "Line 2" in body["errors"]["promises_made"]
    assert (await checkin_row(bot, ALICE)).status == "pending"  # nothing half-written
    good = {
        "rating": rating,
        "promises_made": {
            "promises_made_input": {
                "type": "plain_text_input",
                "value": "send deck by friday\n\ncall back <!here>",
            }
        },
    }
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=good)
    assert reply.status == 200 and reply.text in ("", "{}")
    async with bot.svc.engine.connect() as conn:
        rows = (await conn.execute(select(t.promises).order_by(t.promises.c.id))).all()
        interaction_id = (await conn.execute(select(t.interactions.c.id))).scalar_one()
    assert [r.text for r in rows] == ["send deck", "call back @here"]  # never a live ping
    assert {r.interaction_id for r in rows} == {interaction_id}
    assert rows[0].due_date.isoformat() == "2026-11-27"  # the Friday after Monday 23 Nov
    assert {r.owner_id for r in rows} == {ALICE}
