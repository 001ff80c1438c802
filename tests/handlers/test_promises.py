"""Scenario tests: promises over real HTTP — /promise, its list, each button, the modals,
permissions, the App Home and reminders through the same code path as `trustloop tick`."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select

from bot.localslack.requests import SlackRequests, block_actions_payload, sign
from storage import promises as pq
from storage import queries
from storage import tables as t
from tests.bot.test_cli import env_for, run
from tests.conftest import ALICE, BOB, CAROL, ROBOT, SECRET, TEAM, TOKEN, Bot, eventually

FRIDAY = date(2026, 11, 27)  # "friday" said on Monday 23 Nov (START)
ADMIN = "UADMIN"
OTHER_TEAM = "T0002"


def utc(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def slack_date(day: date) -> str:
    stamp = int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}}|{day.isoformat()}>"


# --- helpers: commands, rows, blocks, clicks ---------------------------------------------------


async def add_account(bot: Bot, text: str, user: str = ALICE) -> None:
    before = len(bot.stub.responses)
    reply = await bot.slack.command("/trust", f"account add {text}", user_id=user)
    assert reply.status == 200
    await eventually(lambda: len(bot.stub.responses) > before)
    assert "Created account" in bot.stub.responses[-1].body["text"]


async def promise(bot: Bot, text: str, user: str = ALICE) -> dict[str, Any]:
    """Run /promise; the answer is either the ack body or what was posted to response_url."""
    before = len(bot.stub.responses)
    reply = await bot.slack.command("/promise", text, user_id=user)
    assert reply.status == 200
    body = reply.json()
    if body.get("text") or body.get("blocks"):
        return dict(body)
    await eventually(lambda: len(bot.stub.responses) > before)
    return bot.stub.responses[-1].body


async def rows(bot: Bot, table: Any = t.promises) -> list[Any]:
    async with bot.svc.engine.connect() as conn:
        return list((await conn.execute(select(table).order_by(table.c.id))).all())


async def promise_row(bot: Bot, promise_id: int) -> Any:
    async with bot.svc.engine.connect() as conn:
        return (await conn.execute(select(t.promises).where(t.promises.c.id == promise_id))).one()


async def events_of(bot: Bot, promise_id: int) -> list[Any]:
    e = t.promise_events
    async with bot.svc.engine.connect() as conn:
        return list(
            (
                await conn.execute(select(e).where(e.c.promise_id == promise_id).order_by(e.c.id))
            ).all()
        )


async def count(bot: Bot, table: Any) -> int:
    async with bot.svc.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def shown(blocks: list[dict[str, Any]]) -> str:
    """All mrkdwn text of sections and contexts."""
    parts: list[str] = []
    for b in blocks:
        if b["type"] == "section":
            parts.append(b["text"]["text"])
        elif b["type"] == "context":
            parts.extend(e.get("text", "") for e in b["elements"])
        elif b["type"] == "header":
            parts.append(b["text"]["text"])
    return "\n".join(parts)


def action_rows(blocks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [
        [{**e, "block_id": b.get("block_id", "")} for e in b["elements"]]
        for b in blocks
        if b["type"] == "actions"
    ]


def button(blocks: list[dict[str, Any]], starts: str, promise_id: int | None = None) -> dict:
    for row in action_rows(blocks):
        for element in row:
            if element["text"]["text"].startswith(starts) and (
                promise_id is None or element["value"] == str(promise_id)
            ):
                return element
    raise AssertionError(f"no button {starts!r} for {promise_id}")


def has_actions(blocks: list[dict[str, Any]]) -> bool:
    return bool(action_rows(blocks))


def dm(bot: Bot, user: str) -> dict[str, Any]:
    """The latest DM the bot sent `user`, as a clickable message."""
    channel = bot.stub.dm_channel_for(user)
    messages = bot.stub.messages(channel)
    assert messages, f"no DM for {user}"
    return {**messages[-1], "channel": channel}


async def click_dm(bot: Bot, user: str, message: dict, starts: str, value: str | None = None):
    b = button(message["blocks"], starts)
    before = (len(bot.stub.responses), len(bot.stub.calls))
    reply = await bot.slack.click(
        user_id=user,
        action_id=b["action_id"],
        value=b["value"] if value is None else value,
        block_id=b["block_id"],
        message=message,
    )
    assert reply.status == 200
    return before


async def click_ephemeral(
    bot: Bot,
    user: str,
    blocks: list[dict[str, Any]],
    starts: str,
    *,
    promise_id: int | None = None,
    value: str | None = None,
    requests: SlackRequests | None = None,
) -> None:
    """Click a button on an ephemeral message (a /promise answer): no chat.update possible."""
    b = button(blocks, starts, promise_id)
    requests = requests or bot.slack
    payload = block_actions_payload(
        team_id=requests.team_id,
        user_id=user,
        action_id=b["action_id"],
        block_id=b["block_id"],
        value=b["value"] if value is None else value,
        trigger_id=bot.stub.issue_trigger_id(),
        response_url=bot.stub.new_response_url(),
        container={
            "type": "message",
            "message_ts": "1700000000.000001",
            "channel_id": "C1",
            "is_ephemeral": True,
        },
        message={"ts": "1700000000.000001", "blocks": blocks},
        channel_id="C1",
    )
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {
        **sign(body, SECRET, int(time.time())),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    reply = await requests.raw(body, headers)
    assert reply.status == 200


async def answer_after(bot: Bot, before: int) -> str:
    """The text of the next response_url post after `before` posts."""
    await eventually(lambda: len(bot.stub.responses) > before)
    body = bot.stub.responses[-1].body
    return str(body.get("text", "")) + "\n" + shown(body.get("blocks") or [])


async def opened_view(bot: Bot, before: int) -> dict[str, Any]:
    calls = await eventually(
        lambda: (c := bot.stub.calls_to("views.open")) and len(c) > before and c
    )
    return dict(calls[-1].response["view"])


def date_value(day: date) -> dict[str, Any]:
    return {"type": "datepicker", "selected_date": day.isoformat()}


def renegotiation(day: date | None, told: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if day is not None:
        values["promise_due"] = {"promise_due_input": date_value(day)}
    if told is not None:
        values["promise_told"] = {
            "promise_told_input": {"type": "radio_buttons", "selected_option": {"value": told}}
        }
    return values


async def logged(bot: Bot, text: str = "Acme send the deck by friday", user: str = ALICE):
    """Log a promise for an account Acme that exists; return (answer body, promise row)."""
    before = {r.id for r in await rows(bot)}
    body = await promise(bot, text, user)
    (row,) = [r for r in await rows(bot) if r.id not in before]
    return body, row


async def with_acme(bot: Bot, owner: str | None = None) -> None:
    await add_account(bot, f"Acme <@{owner}|x>" if owner else "Acme")


# --- /promise <account> <what> ------------------------------------------------------------------


async def test_promise_is_logged_and_confirmed_as_understood(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot, "acme send the deck &amp; &lt;b&gt;pricing&lt;/b&gt; by friday")
    assert body["response_type"] == "ephemeral"
    assert (row.team_id, row.text, row.owner_id, row.created_by) == (
        TEAM,
        "send the deck & <b>pricing</b>",
        ALICE,
        ALICE,
    )
    assert (row.due_date, row.status, row.interaction_id) == (FRIDAY, "open", None)
    text = shown(body["blocks"])
    assert "Promise logged" in text and "*Acme*" in text
    assert "“send the deck &amp; &lt;b&gt;pricing&lt;/b&gt;”" in text  # escaped when shown
    assert "<b>" not in text
    assert f"Owner <@{ALICE}>" in text
    assert slack_date(FRIDAY) in text
    labels = [e["text"]["text"] for r in action_rows(body["blocks"]) for e in r]
    assert labels == ["Kept", "Renegotiate", "Broken", "Cancel…", "Edit"]
    assert {e["value"] for r in action_rows(body["blocks"]) for e in r} == {str(row.id)}
    (created,) = await events_of(bot, row.id)
    assert (created.kind, created.actor_id, created.new_status) == ("created", ALICE, "open")
    assert created.new_due_date == FRIDAY
    assert not bot.stub.calls_to("chat.postMessage")  # nobody else to tell


async def test_date_is_read_in_the_callers_timezone(bot: Bot) -> None:
    await with_acme(bot)
    # 23:30 UTC on Monday is already Tuesday in Helsinki (Alice) but Monday in New York (Bob)
    bot.clock.now = utc(23, 23, 30)
    _, alice = await logged(bot, "Acme call back by tomorrow", ALICE)
    _, bob = await logged(bot, "Acme call back by tomorrow", BOB)
    assert alice.due_date == date(2026, 11, 25)
    assert bob.due_date == date(2026, 11, 24)


async def test_without_a_date_it_is_due_in_seven_days(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot, "Acme send the summary")
    assert row.due_date == date(2026, 11, 30)
    assert "due in 7 days" in body["text"]


async def test_owner_by_mention_gets_a_dm_with_the_buttons(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot, f"Acme send the deck by friday <@{BOB}|bob>")
    assert (row.owner_id, row.created_by, row.due_date) == (BOB, ALICE, FRIDAY)
    assert f"Owner <@{BOB}>" in shown(body["blocks"])
    await eventually(lambda: bot.stub.messages(BOB))
    message = dm(bot, BOB)
    assert f"<@{ALICE}> logged a promise you own" in shown(message["blocks"])
    assert "send the deck" in shown(message["blocks"]) and slack_date(FRIDAY) in str(message)
    labels = [e["text"]["text"] for r in action_rows(message["blocks"]) for e in r]
    assert [label.split()[0].rstrip("…") for label in labels] == [
        "Kept",
        "Renegotiate",
        "Broken",
        "Cancel",
    ]
    assert not bot.stub.messages(ALICE)


async def test_missing_what_is_an_error_that_echoes_what_was_understood(bot: Bot) -> None:
    await with_acme(bot)
    body = await promise(bot, "Acme by friday")
    assert body["response_type"] == "ephemeral"
    assert "What did you promise?" in body["text"]
    assert "Acme" in body["text"] and "friday" in body["text"]
    assert await count(bot, t.promises) == 0


async def test_a_past_date_is_refused(bot: Bot) -> None:
    await with_acme(bot)
    body = await promise(bot, "Acme send the deck by 2026-11-20")
    assert "2026-11-20 is in the past" in body["text"] and "Nothing was logged" in body["text"]
    assert await count(bot, t.promises) == 0


async def test_a_nonsense_date_is_refused(bot: Bot) -> None:
    await with_acme(bot)
    body = await promise(bot, "Acme send the deck by 31.2.")
    assert "31.2." in body["text"] and "February" in body["text"]
    assert "Nothing was logged" in body["text"]
    assert await count(bot, t.promises) == 0


async def test_bots_and_strangers_cannot_own_a_promise(bot: Bot) -> None:
    await with_acme(bot)
    body = await promise(bot, f"Acme send the deck by friday <@{ROBOT}|robot>")
    assert "is a bot" in body["text"] and "Nothing was logged" in body["text"]
    body = await promise(bot, "Acme send the deck by friday <@UNOBODY|who>")
    assert "not a member" in body["text"]
    body = await promise(bot, f"Acme send the deck <@{BOB}|bob> <@{CAROL}|carol>")
    assert "one owner" in body["text"]
    assert await count(bot, t.promises) == 0
    assert not bot.stub.calls_to("chat.postMessage")


async def test_long_text_is_kept_whole_up_to_3000_characters(bot: Bot) -> None:
    await with_acme(bot)
    what = " ".join(["pricing"] * 375)[:3000]
    assert len(what) == 2999
    body, row = await logged(bot, f"Acme {what}x by friday")
    assert row.text == what + "x"  # 3,000 characters, stored whole
    assert len(shown(body["blocks"])) < 3000  # shown cut, within Slack's limits
    body = await promise(bot, f"Acme {what}xy by friday")
    assert "at most 3,000 characters" in body["text"]
    assert await count(bot, t.promises) == 1


async def test_mentions_in_the_text_never_ping(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot, f"Acme tell <!channel> and <@{CAROL}|carol> the news by friday")
    assert row.text == "tell @channel and @carol the news"
    assert row.owner_id == ALICE
    text = shown(body["blocks"])
    assert "<!channel>" not in text and f"<@{CAROL}>" not in text
    assert "tell @channel and @carol the news" in text


async def test_unknown_account_suggests_and_continues_with_the_choice(bot: Bot) -> None:
    await add_account(bot, "Acme Corp")
    body = await promise(bot, "Acmecorp send the deck by friday")
    assert body["response_type"] == "ephemeral"
    assert "no account called *Acmecorp*" in shown(body["blocks"])
    labels = [e["text"]["text"] for r in action_rows(body["blocks"]) for e in r]
    assert labels == ["Use Acme Corp", "Create “Acmecorp”"]
    assert await count(bot, t.promises) == 0
    message = {"ts": "1.0", "channel": "C1", "blocks": body["blocks"]}
    before = len(bot.stub.responses)
    await click_dm(bot, ALICE, message, "Use Acme Corp")
    await eventually(lambda: any("Promise logged" in str(r.body) for r in bot.stub.responses))
    (row,) = await rows(bot)
    assert (row.text, row.due_date, row.owner_id) == ("send the deck", FRIDAY, ALICE)
    assert bot.stub.responses[before].body.get("delete_original") is True
    # the same suggestion clicked again changes nothing
    before = len(bot.stub.responses)
    await click_dm(bot, ALICE, message, "Create")
    assert "already logged" in await answer_after(bot, before)
    assert await count(bot, t.promises) == 1
    assert await count(bot, t.accounts) == 1


async def test_unknown_account_can_be_created_from_the_suggestion(bot: Bot) -> None:
    body = await promise(bot, f"Initech send the deck by friday <@{BOB}|bob>")
    message = {"ts": "1.0", "channel": "C1", "blocks": body["blocks"]}
    await click_dm(bot, ALICE, message, "Create")
    await eventually(lambda: any("Promise logged" in str(r.body) for r in bot.stub.responses))
    (account,) = await rows(bot, t.accounts)
    (row,) = await rows(bot)
    assert account.name == "Initech" and row.account_id == account.id
    assert (row.owner_id, row.created_by) == (BOB, ALICE)
    await eventually(lambda: bot.stub.messages(BOB))


# --- /promise with no text: the form ------------------------------------------------------------


async def open_new_promise_form(bot: Bot) -> dict[str, Any]:
    before = len(bot.stub.calls_to("views.open"))
    reply = await bot.slack.command("/promise", "", user_id=ALICE)
    assert reply.status == 200 and reply.text in ("", "{}")
    return await opened_view(bot, before)


def form_values(
    account_id: int | str | None, what: str, owner: str | None, due: date | None, **extra: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "promise_what": {"promise_what_input": {"type": "plain_text_input", "value": what}},
    }
    if account_id is not None:
        values["promise_account"] = {
            "account_select": {
                "type": "external_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "x"},
                    "value": str(account_id),
                },
            }
        }
    if owner is not None:
        values["promise_owner"] = {
            "promise_owner_input": {"type": "users_select", "selected_user": owner}
        }
    if due is not None:
        values["promise_due"] = {"promise_due_input": date_value(due)}
    values.update(extra)
    return values


async def test_no_text_opens_the_form_and_submitting_logs_the_promise(bot: Bot) -> None:
    await with_acme(bot)
    view = await open_new_promise_form(bot)
    assert view["callback_id"] == "promise_modal"
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks["promise_owner"]["element"]["initial_user"] == ALICE
    assert blocks["promise_due"]["element"]["initial_date"] == "2026-11-30"
    assert "promise_interaction" not in blocks  # Alice has no interactions yet
    (acme,) = await rows(bot, t.accounts)
    values = form_values(acme.id, "send the <!here> deck", BOB, date(2026, 12, 2))
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    body = reply.json()
    assert body["response_action"] == "update"
    assert "Promise logged" in str(body["view"])
    (row,) = await rows(bot)
    assert (row.account_id, row.text, row.owner_id, row.created_by) == (
        acme.id,
        "send the <!here> deck",
        BOB,
        ALICE,
    )
    assert row.due_date == date(2026, 12, 2)
    assert "&lt;!here&gt;" in str(body["view"]) and "<!here>" not in str(body["view"])
    await eventually(lambda: bot.stub.messages(BOB))  # the owner is told
    assert "<!here>" not in str(dm(bot, BOB)["blocks"])


async def test_the_form_links_one_of_your_interactions(bot: Bot) -> None:
    await with_acme(bot)
    await bot.slack.command("/checkin", "Acme call", user_id=ALICE)
    await eventually(lambda: bot.stub.calls_to("views.open"))
    (interaction,) = await rows(bot, t.interactions)
    view = await open_new_promise_form(bot)
    select_block = next(b for b in view["blocks"] if b["block_id"] == "promise_interaction")
    assert [o["value"] for o in select_block["element"]["options"]] == [str(interaction.id)]
    (acme,) = await rows(bot, t.accounts)
    link = {
        "promise_interaction": {
            "promise_interaction_input": {
                "type": "static_select",
                "selected_option": {"value": str(interaction.id)},
            }
        }
    }
    values = form_values(acme.id, "send notes", ALICE, FRIDAY, **link)
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    assert reply.json()["response_action"] == "update"
    (row,) = await rows(bot)
    assert row.interaction_id == interaction.id
    # Bob cannot link Alice's interaction by editing the value
    reply = await bot.slack.submit(user_id=BOB, view=view, values=values)
    body = reply.json()
    assert body["response_action"] == "errors" and "promise_interaction" in body["errors"]
    assert await count(bot, t.promises) == 1


async def test_the_form_refuses_bad_input(bot: Bot) -> None:
    await with_acme(bot)
    view = await open_new_promise_form(bot)
    (acme,) = await rows(bot, t.accounts)
    reply = await bot.slack.submit(
        user_id=ALICE, view=view, values=form_values("999", "", ALICE, date(2026, 11, 1))
    )
    body = reply.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"promise_account", "promise_what", "promise_due"}
    reply = await bot.slack.submit(
        user_id=ALICE, view=view, values=form_values(acme.id, "send it", ROBOT, FRIDAY)
    )
    body = reply.json()
    assert body["response_action"] == "errors" and "is a bot" in body["errors"]["promise_owner"]
    reply = await bot.slack.submit(  # longer than the input allows: a tampered payload
        user_id=ALICE, view=view, values=form_values(acme.id, "x" * 3001, ALICE, FRIDAY)
    )
    body = reply.json()
    assert body["response_action"] == "errors" and "3000" in body["errors"]["promise_what"]
    assert await count(bot, t.promises) == 0


# --- /promise list ------------------------------------------------------------------------------


async def list_story(bot: Bot) -> dict[str, Any]:
    await with_acme(bot)
    await add_account(bot, "Globex")
    _, deck = await logged(bot, "Acme send the deck by friday")
    _, call = await logged(bot, "Globex call back by tomorrow")
    _, demo = await logged(bot, f"Acme demo by 2026-12-10 <@{BOB}|bob>")
    return {"deck": deck, "call": call, "demo": demo}


def listed(body: dict[str, Any]) -> list[int]:
    return [int(r[0]["value"]) for r in action_rows(body["blocks"])]


async def test_list_shows_open_promises_soonest_first_with_buttons(bot: Bot) -> None:
    story = await list_story(bot)
    body = await promise(bot, "list")
    assert body["response_type"] == "ephemeral"
    assert listed(body) == [story["call"].id, story["deck"].id, story["demo"].id]
    for row in action_rows(body["blocks"]):
        labels = [e["text"]["text"] for e in row]
        assert labels[0].startswith("Kept")
        assert labels[1].startswith("Renegotiate")
        assert labels[2].startswith("Broken")
        assert labels[3].startswith("Cancel")
        assert len({e["value"] for e in row}) == 1
    text = shown(body["blocks"])
    assert "Open promises" in text and "*Globex*" in text
    assert f"Owner <@{BOB}>" in text and slack_date(date(2026, 12, 10)) in text


async def test_list_mine_overdue_and_one_account(bot: Bot) -> None:
    story = await list_story(bot)
    assert listed(await promise(bot, "list mine")) == [story["call"].id, story["deck"].id]
    assert listed(await promise(bot, "list mine", user=BOB)) == [story["demo"].id]
    assert listed(await promise(bot, "list acme")) == [story["deck"].id, story["demo"].id]
    body = await promise(bot, "list overdue")
    assert listed(body) == [] and "No open promises" in shown(body["blocks"])
    bot.clock.advance(days=2)  # Wednesday: the Tuesday call is overdue
    body = await promise(bot, "list overdue")
    assert listed(body) == [story["call"].id]
    assert "overdue 1 day*" in shown(body["blocks"])
    body = await promise(bot, "list Acmee")
    assert "no account called Acmee" in body["text"] and "Acme" in body["text"]


async def test_resolved_promises_leave_the_list(bot: Bot) -> None:
    story = await list_story(bot)
    body = await promise(bot, "list")
    before = len(bot.stub.responses)
    await click_ephemeral(bot, ALICE, body["blocks"], "Kept", promise_id=story["deck"].id)
    assert "kept* on time" in await answer_after(bot, before)
    assert listed(await promise(bot, "list")) == [story["call"].id, story["demo"].id]


# --- the buttons --------------------------------------------------------------------------------


async def test_kept_is_on_time_on_the_due_day_in_the_owners_timezone(bot: Bot) -> None:
    await with_acme(bot)
    _, bobs = await logged(bot, f"Acme send the deck by friday <@{BOB}|bob>")
    body, notes = await logged(bot, f"Acme send the notes by friday <@{BOB}|bob>")
    await eventually(lambda: len(bot.stub.messages(BOB)) == 2)
    bot.clock.now = utc(28, 3)  # Saturday in UTC and Helsinki, still Friday in New York
    message = {**bot.stub.messages(BOB)[0], "channel": bot.stub.dm_channel_for(BOB)}
    await click_dm(bot, BOB, message, "Kept")
    await eventually(lambda: not has_actions(bot.stub.messages(BOB)[0]["blocks"]))
    row = await promise_row(bot, bobs.id)
    assert (row.status, row.kept_on_time, row.closed_at) == ("kept", 1, utc(28, 3))
    assert "kept* on time" in shown(bot.stub.messages(BOB)[0]["blocks"])
    kept = (await events_of(bot, bobs.id))[-1]
    assert (kept.kind, kept.actor_id, kept.at) == ("kept", BOB, utc(28, 3))
    assert (kept.old_status, kept.new_status, kept.in_time) == ("open", "kept", 1)
    assert kept.old_due_date == FRIDAY
    # Alice (Helsinki, already Saturday) marks Bob's other promise: Bob's day counts
    before = len(bot.stub.responses)
    await click_ephemeral(bot, ALICE, body["blocks"], "Kept")
    assert "kept* on time" in await answer_after(bot, before)
    assert (await promise_row(bot, notes.id)).kept_on_time == 1
    assert (await events_of(bot, notes.id))[-1].actor_id == ALICE


async def test_kept_after_the_due_day_is_late(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot)
    bot.clock.now = utc(28, 3)  # 05:00 Saturday in Helsinki, Alice's timezone
    before = len(bot.stub.responses)
    await click_ephemeral(bot, ALICE, body["blocks"], "Kept")
    assert "kept* late" in await answer_after(bot, before)
    stored = await promise_row(bot, row.id)
    assert (stored.status, stored.kept_on_time) == ("kept", 0)
    assert (await events_of(bot, row.id))[-1].in_time == 0


async def test_broken_is_recorded_and_the_message_updated(bot: Bot) -> None:
    await with_acme(bot)
    _, row = await logged(bot, f"Acme send the deck by friday <@{BOB}|bob>")
    await eventually(lambda: bot.stub.messages(BOB))
    bot.clock.advance(days=6)
    await click_dm(bot, BOB, dm(bot, BOB), "Broken")
    await eventually(lambda: not has_actions(dm(bot, BOB)["blocks"]))
    stored = await promise_row(bot, row.id)
    assert (stored.status, stored.kept_on_time, stored.closed_at) == (
        "broken",
        None,
        bot.clock.now,
    )
    assert ":x:" in shown(dm(bot, BOB)["blocks"]) and "*broken*" in shown(dm(bot, BOB)["blocks"])
    broken = (await events_of(bot, row.id))[-1]
    assert (broken.kind, broken.actor_id, broken.new_status) == ("broken", BOB, "broken")


async def test_renegotiate_in_time_with_the_customer_told_then_a_slip(bot: Bot) -> None:
    await with_acme(bot)
    _, row = await logged(bot, f"Acme send the deck by friday <@{BOB}|bob>")
    await eventually(lambda: bot.stub.messages(BOB))
    opens = len(bot.stub.calls_to("views.open"))
    await click_dm(bot, BOB, dm(bot, BOB), "Renegotiate")
    view = await opened_view(bot, opens)
    assert view["callback_id"] == "promise_renegotiate_modal"
    due_block = next(b for b in view["blocks"] if b.get("block_id") == "promise_due")
    assert due_block["element"]["initial_date"] == "2026-12-04"  # a week after the due date
    # bad submissions change nothing
    for values, field in (
        (renegotiation(date(2026, 11, 20), "yes"), "promise_due"),
        (renegotiation(date(2026, 12, 4), None), "promise_told"),
    ):
        reply = await bot.slack.submit(user_id=BOB, view=view, values=values)
        assert reply.json()["response_action"] == "errors"
        assert field in reply.json()["errors"]
    assert (await promise_row(bot, row.id)).due_date == FRIDAY
    bot.clock.advance(days=1)  # Tuesday, before the Friday due date
    reply = await bot.slack.submit(
        user_id=BOB, view=view, values=renegotiation(date(2026, 12, 4), "yes")
    )
    assert reply.status == 200 and reply.text in ("", "{}")
    stored = await promise_row(bot, row.id)
    assert (stored.status, stored.due_date, stored.renegotiations) == ("open", date(2026, 12, 4), 1)
    assert (stored.since_at, stored.reminder_seq) == (bot.clock.now, 0)
    change = (await events_of(bot, row.id))[-1]
    assert (change.kind, change.actor_id, change.at) == ("renegotiated", BOB, bot.clock.now)
    assert (change.old_due_date, change.new_due_date) == (FRIDAY, date(2026, 12, 4))
    assert (change.customer_told, change.in_time) == (1, 1)
    # the DM it was opened from shows the new date, with the buttons still there
    await eventually(lambda: "renegotiated 1×" in shown(dm(bot, BOB)["blocks"]))
    message = dm(bot, BOB)
    assert slack_date(date(2026, 12, 4)) in shown(message["blocks"])
    assert has_actions(message["blocks"])
    # after the new date has passed (in New York), renegotiating again is a slip
    bot.clock.now = utc(5, 15, month=12)
    opens = len(bot.stub.calls_to("views.open"))
    await click_dm(bot, BOB, message, "Renegotiate")
    view = await opened_view(bot, opens)
    reply = await bot.slack.submit(
        user_id=BOB, view=view, values=renegotiation(date(2026, 12, 10), "no")
    )
    assert reply.status == 200
    slip = (await events_of(bot, row.id))[-1]
    assert (slip.old_due_date, slip.new_due_date) == (date(2026, 12, 4), date(2026, 12, 10))
    assert (slip.customer_told, slip.in_time) == (0, 0)
    assert (await promise_row(bot, row.id)).renegotiations == 2


async def test_renegotiate_on_the_due_day_without_telling_is_not_in_time(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot)
    opens = len(bot.stub.calls_to("views.open"))
    await click_ephemeral(bot, ALICE, body["blocks"], "Renegotiate")
    view = await opened_view(bot, opens)
    assert json.loads(view["private_metadata"]) == {"p": row.id, "ch": None, "ts": None}
    bot.clock.now = utc(27, 20)  # 22:00 Friday in Helsinki: still the due day
    reply = await bot.slack.submit(
        user_id=ALICE, view=view, values=renegotiation(date(2026, 12, 1), "no")
    )
    assert reply.status == 200
    change = (await events_of(bot, row.id))[-1]
    assert (change.in_time, change.customer_told) == (1, 0)
    figures = await bot.svc.promises.figures(
        team_id=TEAM, start=utc(1), end=utc(1, month=12), today=date(2026, 11, 28), by="owner"
    )
    assert (figures[ALICE].renegotiated_in_time, figures[ALICE].renegotiated_late) == (0, 1)


async def test_cancel_needs_a_reason_and_is_not_broken(bot: Bot) -> None:
    await with_acme(bot)
    _, row = await logged(bot, f"Acme send the deck by friday <@{BOB}|bob>")
    await eventually(lambda: bot.stub.messages(BOB))
    opens = len(bot.stub.calls_to("views.open"))
    await click_dm(bot, BOB, dm(bot, BOB), "Cancel")
    view = await opened_view(bot, opens)
    assert view["callback_id"] == "promise_cancel_modal"
    reason = next(b for b in view["blocks"] if b.get("block_id") == "promise_reason")
    assert not reason.get("optional")
    blank = {"promise_reason": {"promise_reason_input": {"type": "plain_text_input", "value": " "}}}
    reply = await bot.slack.submit(user_id=BOB, view=view, values=blank)
    assert reply.json()["response_action"] == "errors"
    assert "promise_reason" in reply.json()["errors"]
    assert (await promise_row(bot, row.id)).status == "open"
    why = {
        "promise_reason": {
            "promise_reason_input": {"type": "plain_text_input", "value": "They <b>dropped</b> it"}
        }
    }
    reply = await bot.slack.submit(user_id=BOB, view=view, values=why)
    assert reply.status == 200 and reply.text in ("", "{}")
    stored = await promise_row(bot, row.id)
    assert (stored.status, stored.kept_on_time) == ("cancelled", None)
    cancelled = (await events_of(bot, row.id))[-1]
    assert (cancelled.kind, cancelled.actor_id, cancelled.note) == (
        "cancelled",
        BOB,
        "They <b>dropped</b> it",
    )
    await eventually(lambda: not has_actions(dm(bot, BOB)["blocks"]))
    assert "*cancelled*" in shown(dm(bot, BOB)["blocks"])
    figures = await bot.svc.promises.figures(
        team_id=TEAM, start=utc(1), end=utc(1, month=12), today=date(2026, 11, 24), by="owner"
    )
    assert (figures[BOB].cancelled, figures[BOB].broken) == (1, 0)


async def test_edit_from_the_confirmation(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot, "Acme send deck by friday")
    opens = len(bot.stub.calls_to("views.open"))
    await click_ephemeral(bot, ALICE, body["blocks"], "Edit")
    view = await opened_view(bot, opens)
    assert view["callback_id"] == "promise_edit_modal"
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["promise_what"]["element"]["initial_value"] == "send deck"
    assert blocks["promise_owner"]["element"]["initial_user"] == ALICE
    assert blocks["promise_due"]["element"]["initial_date"] == FRIDAY.isoformat()
    # a bot as the owner is refused, nothing changes
    values = form_values(None, "send the deck", ROBOT, date(2026, 12, 2))
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    assert reply.json()["response_action"] == "errors"
    assert await promise_row(bot, row.id) == row
    values = form_values(None, "send the deck", BOB, date(2026, 12, 2))
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    assert reply.status == 200 and reply.text in ("", "{}")
    stored = await promise_row(bot, row.id)
    assert (stored.text, stored.owner_id, stored.due_date) == (
        "send the deck",
        BOB,
        date(2026, 12, 2),
    )
    assert (stored.created_by, stored.renegotiations, stored.status) == (ALICE, 0, "open")
    edited = (await events_of(bot, row.id))[-1]
    assert (edited.kind, edited.actor_id) == ("edited", ALICE)
    assert (edited.old_due_date, edited.new_due_date) == (FRIDAY, date(2026, 12, 2))
    assert edited.note == f"text was: send deck\nowner was: {ALICE}"


async def test_a_second_click_on_a_resolved_promise_changes_nothing(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot, f"Acme send the deck by friday <@{BOB}|bob>")
    await eventually(lambda: bot.stub.messages(BOB))
    message = dm(bot, BOB)  # still showing the buttons, as on another device
    renegotiate_view_before = len(bot.stub.calls_to("views.open"))
    await click_dm(bot, BOB, message, "Renegotiate")
    stale_view = await opened_view(bot, renegotiate_view_before)
    await click_dm(bot, BOB, message, "Kept")
    await eventually(lambda: not has_actions(dm(bot, BOB)["blocks"]))
    kept = await promise_row(bot, row.id)
    opens = len(bot.stub.calls_to("views.open"))
    for label in ("Broken", "Kept", "Renegotiate", "Cancel"):
        before, _ = await click_dm(bot, BOB, message, label)
        assert "already resolved" in await answer_after(bot, before)
    before = len(bot.stub.responses)
    await click_ephemeral(bot, ALICE, body["blocks"], "Edit")
    assert "already resolved" in await answer_after(bot, before)
    assert len(bot.stub.calls_to("views.open")) == opens  # no modal for a resolved promise
    reply = await bot.slack.submit(
        user_id=BOB, view=stale_view, values=renegotiation(date(2026, 12, 4), "yes")
    )
    assert reply.json()["response_action"] == "errors"
    assert "already resolved" in str(reply.json()["errors"])
    assert await promise_row(bot, row.id) == kept
    assert [e.kind for e in await events_of(bot, row.id)] == ["created", "kept"]


async def test_only_the_owner_creator_account_owner_or_an_admin_may_change_it(bot: Bot) -> None:
    bot.stub.add_user(ADMIN, name="admin", tz="Europe/Helsinki", is_admin=True)
    await with_acme(bot)
    body, row = await logged(bot)
    opens = len(bot.stub.calls_to("views.open"))
    for label in ("Kept", "Broken", "Renegotiate", "Cancel", "Edit"):
        before = len(bot.stub.responses)
        await click_ephemeral(bot, CAROL, body["blocks"], label)
        answer = await answer_after(bot, before)
        assert "Only the promise's owner" in answer, label
    assert len(bot.stub.calls_to("views.open")) == opens
    # a modal Alice opened, submitted by Carol, is refused too
    await click_ephemeral(bot, ALICE, body["blocks"], "Cancel")
    view = await opened_view(bot, opens)
    why = {"promise_reason": {"promise_reason_input": {"type": "plain_text_input", "value": "x"}}}
    reply = await bot.slack.submit(user_id=CAROL, view=view, values=why)
    assert reply.json()["response_action"] == "errors"
    assert await promise_row(bot, row.id) == row
    assert [e.kind for e in await events_of(bot, row.id)] == ["created"]
    # a workspace admin may
    before = len(bot.stub.responses)
    await click_ephemeral(bot, ADMIN, body["blocks"], "Broken")
    assert "*broken*" in await answer_after(bot, before)
    assert (await events_of(bot, row.id))[-1].actor_id == ADMIN


async def test_the_account_owner_and_the_creator_may_change_it(bot: Bot) -> None:
    await with_acme(bot, owner=CAROL)
    body, row = await logged(bot, f"Acme send the deck by friday <@{BOB}|bob>")
    before = len(bot.stub.responses)
    await click_ephemeral(bot, CAROL, body["blocks"], "Kept")  # Carol owns the account
    assert "kept* on time" in await answer_after(bot, before)
    assert (await events_of(bot, row.id))[-1].actor_id == CAROL
    body, row = await logged(bot, f"Acme send the notes by friday <@{BOB}|bob>")
    before = len(bot.stub.responses)
    await click_ephemeral(bot, ALICE, body["blocks"], "Broken")  # Alice logged it
    assert "*broken*" in await answer_after(bot, before)
    assert (await promise_row(bot, row.id)).status == "broken"


async def test_tampered_button_values_change_nothing(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot)
    # a promise of another workspace, with an id this workspace could guess
    async with bot.svc.engine.begin() as conn:
        theirs = await queries.create_account(
            conn,
            team_id=OTHER_TEAM,
            name="Acme",
            tier="B",
            yearly_value=None,
            owner_id=None,
            created_by=ALICE,
            now=bot.clock.now,
        )
        foreign = await pq.create_promise(
            conn,
            team_id=OTHER_TEAM,
            account_id=theirs.id,
            text="theirs",
            owner_id=ALICE,
            created_by=ALICE,
            due_date=FRIDAY,
            interaction_id=None,
            now=bot.clock.now,
        )
    values = ["abc", "-1", "0", "", "99999", f"{row.id}; DROP TABLE promises", str(foreign.id)]
    for label, value in zip(
        ["Kept", "Broken", "Renegotiate", "Cancel", "Edit"] * 2, values, strict=False
    ):
        before = len(bot.stub.responses)
        await click_ephemeral(bot, ALICE, body["blocks"], label, value=value)
        assert "couldn't find that promise" in await answer_after(bot, before), (label, value)
    # the real promise id, clicked from another workspace, is not found there
    other = SlackRequests(
        bot_url=bot.slack.bot_url, signing_secret=SECRET, stub=bot.stub, team_id=OTHER_TEAM
    )
    for label in ("Broken", "Renegotiate"):
        before = len(bot.stub.responses)
        await click_ephemeral(bot, ALICE, body["blocks"], label, requests=other)
        assert "couldn't find that promise" in await answer_after(bot, before)
    assert not bot.stub.calls_to("views.open")
    assert await promise_row(bot, row.id) == row
    assert (await promise_row(bot, foreign.id)).status == "open"
    assert await count(bot, t.promise_events) == 2  # the two "created" events


async def test_tampered_modal_metadata_changes_nothing(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot)
    opens = len(bot.stub.calls_to("views.open"))
    await click_ephemeral(bot, ALICE, body["blocks"], "Renegotiate")
    view = await opened_view(bot, opens)
    for metadata in ("not json", json.dumps({"p": "x"}), json.dumps({"p": 99999}), "[1]"):
        reply = await bot.slack.submit(
            user_id=ALICE,
            view={**view, "private_metadata": metadata},
            values=renegotiation(date(2026, 12, 4), "yes"),
        )
        assert reply.json()["response_action"] == "errors", metadata
    assert await promise_row(bot, row.id) == row


async def test_a_gone_message_does_not_turn_a_saved_click_into_an_error(bot: Bot) -> None:
    await with_acme(bot)
    _, row = await logged(bot, f"Acme send the deck by friday <@{BOB}|bob>")
    await eventually(lambda: bot.stub.messages(BOB))
    bot.stub.fail_next("chat.update", error="message_not_found")
    before, _ = await click_dm(bot, BOB, dm(bot, BOB), "Kept")
    answer = await answer_after(bot, before)
    assert "kept* on time" in answer and "went wrong" not in answer
    assert (await promise_row(bot, row.id)).status == "kept"


async def test_an_account_name_with_a_mention_never_pings(bot: Bot) -> None:
    await add_account(bot, "&lt;!channel&gt; &amp; Co")  # a name typed with a literal <!channel>
    (account,) = await rows(bot, t.accounts)
    assert account.name == "<!channel> & Co"
    name = "&lt;!channel&gt; &amp; Co"  # as Slack sends it in command text
    _, row = await logged(bot, f"{name} send the deck by friday <@{BOB}|bob>")
    assert row.account_id == account.id
    await eventually(lambda: bot.stub.messages(BOB))
    await promise(bot, f"list {name}")
    await promise(bot, "list")
    opens = len(bot.stub.calls_to("views.open"))
    await click_dm(bot, BOB, dm(bot, BOB), "Renegotiate")
    view = await opened_view(bot, opens)
    await bot.slack.submit(user_id=BOB, view=view, values=renegotiation(date(2026, 12, 4), "yes"))
    await eventually(lambda: "renegotiated 1×" in shown(dm(bot, BOB)["blocks"]))
    assert await tick(bot, utc(3, 14, month=12)) == 1
    await click_dm(bot, BOB, dm(bot, BOB), "Kept")
    await eventually(lambda: not has_actions(dm(bot, BOB)["blocks"]))
    await bot.slack.event({"type": "app_home_opened", "user": ALICE, "tab": "home"})
    await eventually(lambda: bot.stub.home_views.get(ALICE))
    sent = [json.dumps(c.args) for c in bot.stub.calls] + [
        json.dumps(r.body) for r in bot.stub.responses
    ]
    assert any("&lt;!channel&gt; &amp; Co" in s for s in sent)
    leaks = [s for s in sent if "<!channel>" in s]
    assert leaks == []


# --- App Home ------------------------------------------------------------------------------------


async def test_home_shows_my_open_promises_overdue_first(bot: Bot) -> None:
    await with_acme(bot)
    await add_account(bot, "Globex")
    _, later = await logged(bot, "Acme send the deck by 2026-12-10")
    _, soon = await logged(bot, "Globex call back by tomorrow")
    _, bobs = await logged(bot, f"Acme demo by friday <@{BOB}|bob>")
    bot.clock.advance(days=3)  # Thursday: the Tuesday call is two days late
    await bot.slack.event({"type": "app_home_opened", "user": ALICE, "tab": "home"})
    home = await eventually(lambda: bot.stub.home_views.get(ALICE))
    text = shown(home["blocks"])
    assert "My open promises" in text
    assert [
        int(r[0]["value"]) for r in action_rows(home["blocks"]) if "promise" in r[0]["action_id"]
    ] == [
        soon.id,
        later.id,
    ]
    assert text.index("*Globex*") < text.index("send the deck")
    assert "overdue 2 days" in text
    assert str(bobs.id) not in [e["value"] for r in action_rows(home["blocks"]) for e in r]
    # answering from the App Home updates it
    b = button(home["blocks"], "Kept", soon.id)
    await bot.slack.click(
        user_id=ALICE, action_id=b["action_id"], value=b["value"], block_id=b["block_id"], view=home
    )
    await eventually(lambda: "overdue 2 days" not in shown(bot.stub.home_views[ALICE]["blocks"]))
    assert (await promise_row(bot, soon.id)).kept_on_time == 0
    remaining = bot.stub.home_views[ALICE]["blocks"]
    assert [int(r[0]["value"]) for r in action_rows(remaining)] == [later.id]


async def test_home_without_promises_says_so(bot: Bot) -> None:
    await bot.slack.event({"type": "app_home_opened", "user": CAROL, "tab": "home"})
    home = await eventually(lambda: bot.stub.home_views.get(CAROL))
    assert "No open promises" in shown(home["blocks"])


# --- reminders (what `trustloop tick` runs) -------------------------------------------------------


async def tick(bot: Bot, when: datetime) -> int:
    bot.clock.now = when
    report = await bot.svc.run_due_work(when)
    return report.promise_reminders


def reminders(bot: Bot, user: str) -> list[dict[str, Any]]:
    return [m for m in bot.stub.messages(user) if "did you keep it?" in shown(m["blocks"])]


async def test_reminders_before_on_and_after_the_due_date(bot: Bot) -> None:
    await with_acme(bot)
    _, row = await logged(bot)  # Alice, Helsinki (UTC+2), due Friday 27 Nov
    assert await tick(bot, utc(25, 7)) == 0  # Wednesday
    assert await tick(bot, utc(26, 6, 59)) == 0
    assert await tick(bot, utc(26, 7)) == 1  # Thursday 09:00 Helsinki
    sent = reminders(bot, ALICE)
    assert len(sent) == 1
    assert "Due on the next working day" in shown(sent[0]["blocks"])
    assert sent[0]["text"] == "Due on the next working day: your promise to Acme"
    labels = [e["text"]["text"] for r in action_rows(sent[0]["blocks"]) for e in r]
    assert labels[:3] == ["Kept", "Renegotiate", "Broken"]
    assert await tick(bot, utc(26, 7)) == 0  # the same instant twice
    assert await tick(bot, utc(26, 15)) == 0
    assert await tick(bot, utc(27, 7)) == 1  # Friday 09:00: due today
    assert "Due today" in shown(reminders(bot, ALICE)[-1]["blocks"])
    assert await tick(bot, utc(28, 7)) == 1  # Saturday: one day late
    assert "Overdue by 1 day " in shown(reminders(bot, ALICE)[-1]["blocks"])
    assert await tick(bot, utc(29, 7)) == 0  # Sunday: the gap grows
    assert await tick(bot, utc(30, 7)) == 1  # Monday: three days late
    assert "Overdue by 3 days" in shown(reminders(bot, ALICE)[-1]["blocks"])
    assert len(reminders(bot, ALICE)) == 4
    stored = await promise_row(bot, row.id)
    assert (stored.reminder_seq, stored.last_reminded_at) == (4, utc(30, 7))
    # Kept from the reminder: no more reminders
    await click_dm(bot, ALICE, dm(bot, ALICE), "Kept")
    await eventually(lambda: not has_actions(dm(bot, ALICE)["blocks"]))
    assert (await promise_row(bot, row.id)).kept_on_time == 0
    assert await tick(bot, utc(4, 7, month=12)) == 0


async def test_two_ticks_racing_send_a_reminder_once(bot: Bot) -> None:
    await with_acme(bot)
    await logged(bot)
    bot.clock.now = utc(26, 7)
    reports = await asyncio.gather(*(bot.svc.run_due_work(utc(26, 7)) for _ in range(3)))
    assert sorted(r.promise_reminders for r in reports) == [0, 0, 1]
    assert len(reminders(bot, ALICE)) == 1


async def test_before_reminder_for_a_monday_promise_comes_on_friday(bot: Bot) -> None:
    await with_acme(bot)
    await logged(bot, "Acme send the deck by 2026-11-30")
    assert await tick(bot, utc(27, 7)) == 1  # Friday 09:00 Helsinki
    (sent,) = reminders(bot, ALICE)
    assert sent["text"] == "Due on the next working day: your promise to Acme"  # not "tomorrow"
    assert "Due on the next working day" in shown(sent["blocks"])
    assert await tick(bot, utc(28, 7)) == 0  # nothing at the weekend
    assert await tick(bot, utc(29, 7)) == 0
    assert await tick(bot, utc(30, 7)) == 1  # due today


async def test_a_renegotiated_promise_starts_its_reminders_over(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot)
    assert await tick(bot, utc(27, 7)) == 1  # due today (the Thursday one was never sent)
    opens = len(bot.stub.calls_to("views.open"))
    await click_ephemeral(bot, ALICE, body["blocks"], "Renegotiate")
    view = await opened_view(bot, opens)
    await bot.slack.submit(user_id=ALICE, view=view, values=renegotiation(date(2026, 12, 2), "yes"))
    assert (await promise_row(bot, row.id)).reminder_seq == 0
    assert await tick(bot, utc(28, 7)) == 0  # not overdue any more
    assert await tick(bot, utc(1, 7, month=12)) == 1  # Tuesday: due tomorrow
    assert await tick(bot, utc(2, 7, month=12)) == 1  # due today
    assert "Due today" in shown(reminders(bot, ALICE)[-1]["blocks"])


async def test_each_owner_is_reminded_at_nine_in_their_own_timezone(bot: Bot) -> None:
    await with_acme(bot)
    await logged(bot, "Acme send the deck by friday")  # Alice, Helsinki
    await logged(bot, f"Acme send the notes by friday <@{BOB}|bob>")  # Bob, New York
    assert await tick(bot, utc(27, 7)) == 1  # 09:00 Helsinki, 02:00 New York
    assert len(reminders(bot, ALICE)) == 1 and reminders(bot, BOB) == []
    assert await tick(bot, utc(27, 14)) == 1  # 09:00 New York
    assert "send the notes" in shown(reminders(bot, BOB)[-1]["blocks"])
    assert "Due today" in shown(reminders(bot, BOB)[-1]["blocks"])


async def test_after_a_long_outage_only_one_reminder_is_sent(bot: Bot) -> None:
    await with_acme(bot)
    _, row = await logged(bot)
    # the bot was down from Monday until Saturday 5 December (due 27 November)
    assert await tick(bot, utc(5, 12, month=12)) == 1
    assert await tick(bot, utc(5, 12, month=12)) == 0
    assert await tick(bot, utc(5, 18, month=12)) == 0
    (sent,) = reminders(bot, ALICE)
    assert "Overdue by 8 days" in shown(sent["blocks"])  # as things stand, not as scheduled
    assert (await promise_row(bot, row.id)).reminder_seq == 5  # the latest due: D+7
    assert await tick(bot, utc(11, 7, month=12)) == 1  # the next step of the schedule: D+14
    assert len(reminders(bot, ALICE)) == 2
    assert (await promise_row(bot, row.id)).reminder_seq == 6


async def test_no_reminder_at_night_in_the_owners_timezone(bot: Bot) -> None:
    await with_acme(bot)
    await logged(bot)  # Alice, Helsinki; due Friday
    # the bot was down on Thursday; it comes back late in the evening, Helsinki time
    assert await tick(bot, utc(26, 20)) == 0  # 22:00
    assert await tick(bot, utc(27, 3)) == 0  # 05:00
    assert await tick(bot, utc(27, 5, 59)) == 0  # 07:59
    assert reminders(bot, ALICE) == []
    assert await tick(bot, utc(27, 6)) == 1  # 08:00: morning
    assert "Due today" in shown(reminders(bot, ALICE)[-1]["blocks"])  # it is the due day
    assert await tick(bot, utc(27, 7)) == 0  # at most one reminder a day
    assert await tick(bot, utc(28, 7)) == 1  # Saturday: overdue
    assert len(reminders(bot, ALICE)) == 2


async def test_away_owners_are_not_reminded(bot: Bot) -> None:
    await with_acme(bot)
    await logged(bot)
    before = len(bot.stub.responses)
    await bot.slack.command("/trust", "away until friday", user_id=ALICE)
    await eventually(lambda: len(bot.stub.responses) > before)
    assert "away until" in str(bot.stub.responses[-1].body)
    assert await tick(bot, utc(26, 7)) == 0
    assert await tick(bot, utc(27, 7)) == 0
    assert reminders(bot, ALICE) == []
    assert await tick(bot, utc(28, 7)) == 1  # back on Saturday: one reminder, overdue
    (sent,) = reminders(bot, ALICE)
    assert "Overdue by 1 day " in shown(sent["blocks"])


async def test_a_failed_reminder_dm_does_not_break_the_tick(bot: Bot) -> None:
    await with_acme(bot)
    _, row = await logged(bot, f"Acme send the deck by friday <@{BOB}|bob>")
    await eventually(lambda: bot.stub.messages(BOB))
    bot.stub.fail_next("chat.postMessage", error="channel_not_found")
    assert await tick(bot, utc(26, 14)) == 0
    assert (await promise_row(bot, row.id)).status == "open"
    assert await tick(bot, utc(27, 14)) == 1


async def test_tick_on_the_command_line_sends_a_promise_reminder_once(
    bot: Bot, tmp_path: Path
) -> None:
    await with_acme(bot)
    await logged(bot)
    env = env_for(SLACK_BOT_TOKEN=TOKEN, SLACK_API_URL=bot.stub.api_url, DATABASE_URL=bot.db_url)
    code, out, err = await run("tick", "--now", "2026-11-26T07:00:00Z", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "promise reminders 1" in out
    (sent,) = reminders(bot, ALICE)
    assert "Due on the next working day" in shown(sent["blocks"])
    code, out, _ = await run("tick", "--now", "2026-11-26T07:00:00Z", env=env, cwd=tmp_path)
    assert code == 0 and "promise reminders 0" in out
    assert len(reminders(bot, ALICE)) == 1
