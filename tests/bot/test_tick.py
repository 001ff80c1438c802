"""Time-based work (reminders, expiries, away) through the same code path as `trustloop tick`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage import tables as t
from tests.conftest import ALICE, BOB, Bot, eventually
from tests.handlers.test_actions import button, checkin_row, dm_of, has_actions, log_checkin


async def test_one_reminder_after_four_hours_then_expiry(bot: Bot) -> None:
    await log_checkin(bot)  # 10:00 UTC Monday; Bob is in New York (05:00 there)
    start = bot.clock.now
    assert (await bot.svc.run_due_work(bot.clock.advance(hours=3, minutes=59))).reminded == 0
    # 14:00 UTC = 09:00 New York: daytime, due
    report = await bot.svc.run_due_work(bot.clock.advance(minutes=1))
    assert report.reminded == 2  # Bob, and Alice who closed her modal without answering
    assert (await bot.svc.run_due_work(bot.clock.now)).reminded == 0  # same instant twice
    assert (await bot.svc.run_due_work(bot.clock.advance(hours=5))).reminded == 0  # only one
    messages = bot.stub.messages(bot.stub.dm_channel_for(BOB))
    assert len(messages) == 2 and "Reminder" in str(messages[-1]["blocks"])
    # Alice (the caller) had the modal; her reminder comes as a DM with buttons
    assert bot.stub.messages(bot.stub.dm_channel_for(ALICE))
    assert (await bot.svc.run_due_work(start + timedelta(days=3, seconds=-1))).expired == 0
    report = await bot.svc.run_due_work(start + timedelta(days=3))
    assert report.expired == 2
    row = await checkin_row(bot, BOB)
    assert row.status == "expired"
    assert all(not has_actions(m) for m in bot.stub.messages(bot.stub.dm_channel_for(BOB)))
    assert (await bot.svc.run_due_work(bot.clock.advance(days=4))).expired == 0


async def test_no_reminder_at_night_in_the_users_timezone(bot: Bot) -> None:
    bot.clock.now = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)  # 21:00 in Helsinki
    bot.stub.add_user("UHEL", name="hel", tz="Europe/Helsinki")
    await log_checkin(bot, teammates=("UHEL",))
    # 23:00 UTC = 01:00 Helsinki: due, but night
    assert (await bot.svc.run_due_work(bot.clock.advance(hours=4))).reminded == 0
    assert (await bot.svc.run_due_work(bot.clock.advance(hours=4))).reminded == 0  # 05:00
    assert (await bot.svc.run_due_work(bot.clock.advance(hours=2, minutes=59))).reminded == 0
    # 06:00 UTC = 08:00 Helsinki: morning, for UHEL and for Alice (also in Helsinki)
    assert (await bot.svc.run_due_work(bot.clock.advance(minutes=1))).reminded == 2


async def test_a_bot_that_was_down_catches_up_once(bot: Bot) -> None:
    await log_checkin(bot)
    # down for a day: the reminder is sent once, not a burst
    report = await bot.svc.run_due_work(bot.clock.advance(hours=28))
    assert report.reminded == 2  # Alice's and Bob's, once each
    # down for a week: expire, no stale reminder
    await log_checkin_second(bot)
    report = await bot.svc.run_due_work(bot.clock.advance(days=7))
    assert report.reminded == 0 and report.expired >= 2


async def log_checkin_second(bot: Bot) -> None:
    before = len(bot.stub.calls_to("chat.postMessage"))
    await bot.slack.command("/checkin", f"Acme email <@{BOB}|bob>", user_id=ALICE)
    await eventually(lambda: len(bot.stub.calls_to("chat.postMessage")) > before)


async def test_away_pauses_checkins_and_counts_as_away(bot: Bot) -> None:
    await bot.slack.command("/trust", "away until friday", user_id=BOB)
    await eventually(lambda: bot.stub.responses)
    assert "away until" in str(bot.stub.responses[-1].body)
    await log_checkin(bot, teammates=())
    await eventually(lambda: len(bot.stub.responses) >= 3)  # away, account, first check-in
    await bot.slack.command("/checkin", f"Acme call <@{BOB}|bob>", user_id=ALICE)
    await eventually(lambda: len(bot.stub.responses) >= 4)
    assert "is away" in str(bot.stub.responses[-1].body)
    assert not bot.stub.calls_to("chat.postMessage")
    async with bot.svc.engine.connect() as conn:
        status = (
            await conn.execute(select(t.checkins.c.status).where(t.checkins.c.user_id == BOB))
        ).scalar_one()
    assert status == "away"
    await bot.slack.command("/trust", "back", user_id=BOB)
    await eventually(lambda: "Welcome back" in str(bot.stub.responses[-1].body))


async def test_pending_checkin_of_someone_who_goes_away_is_not_reminded(bot: Bot) -> None:
    await log_checkin(bot)
    await bot.slack.command("/trust", "away until 2026-12-31", user_id=BOB)
    await eventually(lambda: "away until" in str(bot.stub.responses[-1].body))
    assert (await bot.svc.run_due_work(bot.clock.advance(hours=5))).reminded == 1  # Alice only
    report = await bot.svc.run_due_work(bot.clock.advance(days=3))
    assert report.away == 1
    assert (await checkin_row(bot, BOB)).status == "away"


async def test_away_with_a_bad_date_explains(bot: Bot) -> None:
    await bot.slack.command("/trust", "away until 31.2.", user_id=BOB)
    await eventually(lambda: bot.stub.responses)
    text = str(bot.stub.responses[-1].body)
    assert "February" in text


async def test_away_from_the_home_tab(bot: Bot) -> None:
    await bot.slack.event({"type": "app_home_opened", "user": BOB, "tab": "home"})
    home = await eventually(lambda: bot.stub.home_views.get(BOB))
    away = next(b["accessory"] for b in home["blocks"] if b.get("block_id") == "home_away")
    await bot.slack.click(user_id=BOB, action_id=away["action_id"], value=away["value"], view=home)
    opened = await eventually(lambda: bot.stub.calls_to("views.open"))
    values = {
        "away_until": {"away_until_input": {"type": "datepicker", "selected_date": "2026-11-27"}}
    }
    reply = await bot.slack.submit(user_id=BOB, view=opened[-1].response["view"], values=values)
    assert reply.status == 200
    await eventually(lambda: "You are away until" in str(bot.stub.home_views[BOB]["blocks"]))
    past = {
        "away_until": {"away_until_input": {"type": "datepicker", "selected_date": "2026-11-01"}}
    }
    reply = await bot.slack.submit(user_id=BOB, view=opened[-1].response["view"], values=past)
    assert reply.json()["response_action"] == "errors"
    home = bot.stub.home_views[BOB]
    back = next(b["accessory"] for b in home["blocks"] if b.get("block_id") == "home_away")
    assert back["text"]["text"] == "I'm back"
    await bot.slack.click(user_id=BOB, action_id=back["action_id"], value="back", view=home)
    await eventually(lambda: "Going on holiday" in str(bot.stub.home_views[BOB]["blocks"]))


async def test_button_after_expiry_changes_nothing(bot: Bot) -> None:
    await log_checkin(bot)
    message = dm_of(bot, BOB)
    await bot.svc.run_due_work(bot.clock.advance(days=4))
    b = button(message, "5")
    await bot.slack.click(user_id=BOB, action_id=b["action_id"], value=b["value"], message=message)
    await eventually(
        lambda: any(
            "already answered" in str(r.body) or "expired" in str(r.body)
            for r in bot.stub.responses
        )
    )
    assert (await checkin_row(bot, BOB)).status == "expired"
