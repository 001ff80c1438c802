"""Scenario tests over HTTP: account card, ranked accounts, digest subscriptions and posting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot import ids
from storage import tables as t
from tests.conftest import ALICE, BOB, CAROL, Bot, eventually


async def trust(bot: Bot, text: str, user: str = ALICE, channel: str = "C1") -> dict[str, Any]:
    """Run /trust and return the ephemeral answer posted to its response_url."""
    before = len(bot.stub.responses)
    reply = await bot.slack.command("/trust", text, user_id=user, channel_id=channel)
    assert reply.status == 200
    await eventually(lambda: len(bot.stub.responses) > before)
    return bot.stub.responses[-1].body


async def add_accounts(bot: Bot, *names: str) -> None:
    for name in names:
        answer = await trust(bot, f"account add {name}")
        assert "Created account" in answer["text"], answer


async def checkin_answered(bot: Bot, account: str, rating: int, user: str = BOB) -> None:
    """Log an interaction with `user` and answer its check-in with `rating` from the DM."""
    before = len(bot.stub.calls_to("chat.postMessage"))
    await bot.slack.command("/checkin", f"{account} call <@{user}|x>", user_id=ALICE)
    await eventually(lambda: len(bot.stub.calls_to("chat.postMessage")) > before)
    channel = bot.stub.dm_channel_for(user)
    message = {**bot.stub.messages(channel)[-1], "channel": channel}
    button = next(
        {**e, "block_id": b["block_id"]}
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"].startswith(str(rating))
    )
    updates = len(bot.stub.calls_to("chat.update"))
    await bot.slack.click(
        user_id=user,
        action_id=button["action_id"],
        value=button["value"],
        block_id=button["block_id"],
        message=message,
    )
    await eventually(lambda: len(bot.stub.calls_to("chat.update")) > updates)


async def promise(bot: Bot, text: str) -> None:
    """Log a promise with /promise and wait for its confirmation."""
    before = len(bot.stub.responses)
    await bot.slack.command("/promise", text, user_id=ALICE)
    await eventually(lambda: len(bot.stub.responses) > before)
    assert (
        "Logged" in str(bot.stub.responses[-1].body)
        or "promise" in str(bot.stub.responses[-1].body).casefold()
    )


def text_of(blocks: list[dict[str, Any]]) -> str:
    return str(blocks)


async def test_account_card_shows_level_reasons_promises_and_interactions(bot: Bot) -> None:
    await add_accounts(bot, "Acme <@UBOB> tier A")
    answer = await trust(bot, "account acme")
    assert answer["response_type"] == "ephemeral"
    assert "not enough data" in text_of(answer["blocks"])
    await checkin_answered(bot, "Acme", 2)
    await promise(bot, "Acme send the deck by 2026-11-30")
    answer = await trust(bot, 'account "Acme"')
    shown = text_of(answer["blocks"])
    assert "*Acme*" in shown and "tier A" in shown
    assert "trust is 2.0 on average over 1 check-in" in shown
    assert "send the deck" in shown
    assert "Last interactions" in shown and "call" in shown
    assert "<@UBOB>" in shown  # the team: who took part


async def test_unknown_account_suggests_names_and_creates_nothing(bot: Bot) -> None:
    await add_accounts(bot, "Acme")
    answer = await trust(bot, "account Acmee")
    assert "There is no account called *Acmee*" in answer["text"]
    assert "*Acme*" in answer["text"]
    async with bot.svc.engine.connect() as conn:
        assert len((await conn.execute(select(t.accounts))).all()) == 1


async def test_accounts_are_ranked_and_paged(bot: Bot) -> None:
    await add_accounts(bot, *[f"Client{n:02d}" for n in range(12)])
    await add_accounts(bot, "Bigco tier A value 1M")
    await promise(bot, "Bigco fix the bug by 2026-11-24")
    await promise(bot, "Bigco send docs by 2026-11-25")
    await promise(bot, "Bigco call back by 2026-11-26")
    bot.clock.advance(days=6)
    async with bot.svc.engine.connect() as conn:
        assert len((await conn.execute(select(t.promises))).all()) == 3
    answer = await trust(bot, "accounts")
    blocks = answer["blocks"]
    accounts = [b for b in blocks if b.get("accessory", {}).get("action_id") == ids.OPEN_ACCOUNT]
    assert len(accounts) == 10
    assert "Bigco" in accounts[0]["text"]["text"] and ":red_circle:" in accounts[0]["text"]["text"]
    assert "3 promises overdue" in accounts[0]["text"]["text"]
    nav = next(b for b in blocks if b.get("block_id") == ids.ACCOUNTS_NAV_BLOCK)
    nxt = nav["elements"][0]
    assert nxt["text"]["text"].startswith("Next")
    before = len(bot.stub.responses)
    await bot.slack.click(
        user_id=ALICE,
        action_id=nxt["action_id"],
        value=nxt["value"],
        block_id=ids.ACCOUNTS_NAV_BLOCK,
        message={"ts": "1.0", "blocks": blocks, "text": ""},
        channel_id="C1",
    )
    await eventually(lambda: len(bot.stub.responses) > before)
    page2 = bot.stub.responses[-1].body
    assert page2["replace_original"] is True
    assert "Page 2 of 2" in text_of(page2["blocks"])
    # Open on a row: the account card, privately
    before = len(bot.stub.responses)
    await bot.slack.click(
        user_id=ALICE,
        action_id=ids.OPEN_ACCOUNT,
        value=accounts[0]["accessory"]["value"],
        message={"ts": "1.0", "blocks": blocks, "text": ""},
        channel_id="C1",
    )
    await eventually(lambda: len(bot.stub.responses) > before)
    card = bot.stub.responses[-1].body
    assert card["response_type"] == "ephemeral" and "Open promises (3)" in text_of(card["blocks"])


async def test_open_with_a_tampered_or_foreign_id_shows_nothing(bot: Bot) -> None:
    await add_accounts(bot, "Acme")
    for value in ["999", "abc", "-1"]:
        before = len(bot.stub.responses)
        await bot.slack.click(
            user_id=ALICE,
            action_id=ids.OPEN_ACCOUNT,
            value=value,
            message={"ts": "1.0", "blocks": [], "text": ""},
            channel_id="C1",
        )
        await eventually(lambda n=before: len(bot.stub.responses) > n)
        body = bot.stub.responses[-1].body
        assert "Acme" not in str(body)


async def test_digest_subscription_needs_an_admin_and_the_bot_in_the_channel(bot: Bot) -> None:
    answer = await trust(bot, "digest here", user=BOB)
    assert "Only workspace admins" in answer["text"]
    bot.stub.add_user(CAROL, name="carol", tz="Europe/Helsinki", is_admin=True)
    answer = await trust(bot, "digest here", user=CAROL)
    assert "/invite @trustloop" in answer["text"]
    bot.stub.add_channel("C1", name="general", members=[ALICE, BOB, CAROL, "UBOT"])
    answer = await trust(bot, "digest here", user=CAROL)
    assert "subscribed to the weekly trust digest" in answer["text"]
    assert "every Monday at 09:00 (Europe/Helsinki)" in answer["text"]
    answer = await trust(bot, "digest here friday 16:30 America/New_York tier A,B", user=CAROL)
    assert (
        "updated for" in answer["text"]
        and "every Friday at 16:30 (America/New_York)" in answer["text"]
    )
    async with bot.svc.engine.connect() as conn:
        rows = (await conn.execute(select(t.digest_subscriptions))).all()
    assert len(rows) == 1 and rows[0].tiers == "A,B" and rows[0].weekday == 4
    answer = await trust(bot, "digest off", user=BOB)
    assert "Only workspace admins" in answer["text"]
    answer = await trust(bot, "digest off", user=CAROL)
    assert "no longer" in answer["text"]
    answer = await trust(bot, "digest off", user=CAROL)
    assert "isn't subscribed" in answer["text"]


async def test_a_demoted_admin_loses_digest_rights_within_minutes(bot: Bot) -> None:
    bot.stub.add_user(CAROL, name="carol", tz="Europe/Helsinki", is_admin=True)
    bot.stub.add_channel("C1", name="general", members=[ALICE, BOB, CAROL, "UBOT"])
    answer = await trust(bot, "digest here", user=CAROL)
    assert "subscribed to the weekly trust digest" in answer["text"]
    bot.stub.add_user(CAROL, name="carol", tz="Europe/Helsinki", is_admin=False)
    bot.clock.advance(minutes=1)  # still within the admin check's few minutes: cached
    answer = await trust(bot, "digest here monday 10:00", user=CAROL)
    assert "updated for" in answer["text"]
    bot.clock.advance(minutes=10)  # the user cache (a day) would still say admin
    answer = await trust(bot, "digest off", user=CAROL)
    assert "Only workspace admins" in answer["text"]


async def test_bad_digest_schedules_get_clear_answers(bot: Bot) -> None:
    bot.stub.add_user(CAROL, name="carol", tz="Europe/Helsinki", is_admin=True)
    bot.stub.add_channel("C1", name="general", members=[ALICE, BOB, CAROL, "UBOT"])
    for text, words in [
        ("digest here monday 25:00", "25:00"),
        ("digest here mnday 09:00", "Monday"),
        ("digest here Mars/Olympus", "Mars/Olympus"),
        ("digest here <!channel>", "&lt;!channel&gt;"),
    ]:
        answer = await trust(bot, text, user=CAROL)
        assert ":warning:" in answer["text"], (text, answer)
        assert words in answer["text"], (text, answer["text"])
    reply = await bot.slack.command("/trust", "digest", user_id=CAROL)
    assert "/trust digest here" in reply.json()["text"]
    async with bot.svc.engine.connect() as conn:
        assert (await conn.execute(select(t.digest_subscriptions))).all() == []


async def test_digest_preview_and_empty_workspace(bot: Bot) -> None:
    answer = await trust(bot, "digest preview", user=BOB)
    assert "Nothing to report yet" in text_of(answer["blocks"])
    await add_accounts(bot, "Acme tier A")
    await promise(bot, "Acme <!channel> fix by 2026-11-24")
    await promise(bot, "Acme call back by 2026-11-25")
    bot.clock.advance(days=8)  # 2 overdue (30) + no contact for 8 days, tier A (10)
    answer = await trust(bot, "digest preview", user=BOB)
    shown = text_of(answer["blocks"])
    assert answer["response_type"] == "ephemeral"
    assert "Trust digest" in shown and "1 at risk" in shown
    assert "<!channel>" not in shown and "@channel fix" in shown


async def subscribe(bot: Bot) -> None:
    bot.stub.add_user(CAROL, name="carol", tz="Europe/Helsinki", is_admin=True)
    bot.stub.add_channel("C9", name="account-health", members=[CAROL, "UBOT"])
    answer = await trust(bot, "digest here monday 09:00 Europe/Helsinki", user=CAROL, channel="C9")
    assert "subscribed" in answer["text"]


async def test_digest_posts_once_a_week_at_its_time(bot: Bot) -> None:
    bot.clock.now = bot.clock.now.replace(hour=6, minute=0)  # Monday 08:00 in Helsinki
    await add_accounts(bot, "Acme tier A")
    await promise(bot, "Acme fix by 2026-11-24")
    await subscribe(bot)
    report = await bot.svc.run_due_work(bot.clock.now)
    assert report.digests == 0 and bot.stub.messages("C9") == []
    bot.clock.advance(hours=1)  # 09:00 Helsinki: due
    report = await bot.svc.run_due_work(bot.clock.now)
    assert report.digests == 1
    posted = [m for m in bot.stub.messages("C9") if m.get("blocks")]
    assert len(posted) == 1 and "Trust digest" in str(posted[0]["blocks"])
    # the trend chart goes up through Slack's external upload flow, into the same channel
    assert len(bot.stub.calls_to("files.getUploadURLExternal")) == 1
    completed = bot.stub.calls_to("files.completeUploadExternal")
    assert len(completed) == 1 and completed[0].args["channel_id"] == "C9"
    upload = next(iter(bot.stub.uploads.values()))
    assert upload.content is not None and upload.content.startswith(b"\x89PNG")
    # the same instant again, a later tick the same week, a restart: nothing more
    for later in (0, 1, 50):
        bot.clock.advance(hours=later)
        assert (await bot.svc.run_due_work(bot.clock.now)).digests == 0
    assert len([m for m in bot.stub.messages("C9") if m.get("blocks")]) == 1
    # next week it posts again
    bot.clock.now = bot.clock.now + timedelta(days=7)
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 1
    async with bot.svc.engine.connect() as conn:
        rows = (await conn.execute(select(t.digest_posts).order_by(t.digest_posts.c.id))).all()
    assert [(str(r.week), r.status) for r in rows] == [
        ("2026-11-23", "posted"),
        ("2026-11-30", "posted"),
    ]


async def test_racing_ticks_post_once(bot: Bot) -> None:
    import asyncio

    await add_accounts(bot, "Acme")
    await subscribe(bot)
    reports = await asyncio.gather(*[bot.svc.run_due_work(bot.clock.now) for _ in range(4)])
    assert sum(r.digests for r in reports) == 1
    assert len([m for m in bot.stub.messages("C9") if m.get("blocks")]) == 1


async def test_failed_post_is_retried_with_backoff_never_duplicated(bot: Bot) -> None:
    await add_accounts(bot, "Acme")
    await subscribe(bot)
    bot.stub.fail_next("chat.postMessage", error="fatal_error", times=1)
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 0
    async with bot.svc.engine.connect() as conn:
        row = (await conn.execute(select(t.digest_posts))).one()
    assert row.status == "failed" and row.error == "fatal_error" and row.attempts == 1
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 0  # not before the gap
    bot.clock.advance(minutes=1)
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 1
    bot.clock.advance(minutes=30)
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 0
    assert len([m for m in bot.stub.messages("C9") if m.get("blocks")]) == 1


async def test_removed_bot_is_recorded_not_retried_forever(bot: Bot) -> None:
    await add_accounts(bot, "Acme")
    await subscribe(bot)
    bot.stub.add_channel("C9", name="account-health", members=[CAROL])
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 0
    async with bot.svc.engine.connect() as conn:
        row = (await conn.execute(select(t.digest_posts))).one()
    assert row.status == "gave_up" and row.error == "not_in_channel"


async def test_digest_posts_even_when_the_chart_upload_fails(bot: Bot) -> None:
    await add_accounts(bot, "Acme")
    await subscribe(bot)
    bot.stub.fail_next("files.getUploadURLExternal", error="invalid_arguments")
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 1
    assert len([m for m in bot.stub.messages("C9") if m.get("blocks")]) == 1
    async with bot.svc.engine.connect() as conn:
        row = (await conn.execute(select(t.digest_posts))).one()
    assert row.status == "posted" and row.chart_error == "invalid_arguments"


async def test_dst_week_posts_exactly_once(bot: Bot) -> None:
    """Sunday 03:30 in Helsinki does not exist on 28 March 2027: posted once, at the jump."""
    from datetime import UTC, datetime

    bot.stub.add_user(CAROL, name="carol", tz="Europe/Helsinki", is_admin=True)
    bot.stub.add_channel("C9", name="account-health", members=[CAROL, "UBOT"])
    answer = await trust(bot, "digest here sunday 03:30 Europe/Helsinki", user=CAROL, channel="C9")
    assert "subscribed" in answer["text"]
    bot.clock.now = datetime(2027, 3, 27, 12, 0, tzinfo=UTC)
    posted_at = []
    while bot.clock.now < datetime(2027, 3, 29, 0, 0, tzinfo=UTC):
        if (await bot.svc.run_due_work(bot.clock.now)).digests:
            posted_at.append(bot.clock.now)
        bot.clock.advance(minutes=15)
    assert posted_at == [datetime(2027, 3, 28, 1, 0, tzinfo=UTC)]  # 04:00 EEST, when clocks jump
    assert len([m for m in bot.stub.messages("C9") if m.get("blocks")]) == 1


async def test_a_bot_that_was_down_posts_once_later_that_week_not_for_missed_weeks(
    bot: Bot,
) -> None:
    await add_accounts(bot, "Acme")
    bot.clock.now = bot.clock.now.replace(hour=5)  # Monday 07:00 in Helsinki, before 09:00
    await subscribe(bot)
    bot.clock.advance(days=2, hours=10)  # down until Wednesday afternoon
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 1
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 0
    bot.clock.advance(days=13)  # down over the whole next week: that week is not posted late
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 1  # only this week's
    async with bot.svc.engine.connect() as conn:
        weeks = [str(r.week) for r in (await conn.execute(select(t.digest_posts))).all()]
    assert weeks == ["2026-11-23", "2026-12-07"]


async def test_channels_due_together_share_one_digest_and_chart(bot: Bot, monkeypatch) -> None:
    """Same workspace, tiers and instant: computed once, posted (with its chart) to each."""
    await add_accounts(bot, "Acme tier A", "Globex tier B")
    bot.stub.add_user(CAROL, name="carol", tz="Europe/Helsinki", is_admin=True)
    for channel, tiers in (("C7", ""), ("C8", ""), ("C9", " tier A")):
        bot.stub.add_channel(channel, name=f"health-{channel}", members=[CAROL, "UBOT"])
        answer = await trust(
            bot, f"digest here monday 09:00 Europe/Helsinki{tiers}", user=CAROL, channel=channel
        )
        assert "subscribed" in answer["text"], answer
    computed: list[tuple[str, ...]] = []
    real = bot.svc.health.digest

    async def counting(**kwargs: Any) -> Any:
        computed.append(kwargs.get("tiers", ()))
        return await real(**kwargs)

    monkeypatch.setattr(bot.svc.health, "digest", counting)
    assert (await bot.svc.run_due_work(bot.clock.now)).digests == 3
    assert sorted(computed) == [(), ("A",)]
    for channel in ("C7", "C8", "C9"):
        assert len([m for m in bot.stub.messages(channel) if m.get("blocks")]) == 1
    shared = [
        str(m["blocks"]) for c in ("C7", "C8") for m in bot.stub.messages(c) if m.get("blocks")
    ]
    tier_a = [str(m["blocks"]) for m in bot.stub.messages("C9") if m.get("blocks")]
    assert shared[0] == shared[1] != tier_a[0]
    completed = bot.stub.calls_to("files.completeUploadExternal")
    assert sorted(c.args["channel_id"] for c in completed) == ["C7", "C8", "C9"]
