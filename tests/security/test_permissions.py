"""Who may do what, for the cases the scenario suites leave out.

Already covered elsewhere (not repeated here): digest here/off refused to a plain member and
allowed to an admin (`tests/handlers/test_health.py`); every promise button refused to a
stranger, the cancel form submitted by a stranger, and the owner, creator, account owner
and an admin allowed (`tests/handlers/test_promises.py`); someone else's rating click
(`tests/handlers/test_actions.py`).

Here: `DIGEST_MANAGERS`; the renegotiate and edit forms submitted by a stranger; an owner
who hands a promise over loses the right to change it; someone else's Skip, Add details,
check-in form, and account-suggestion buttons (which create accounts). PRODUCT.md puts no
limit on who creates accounts (and has no account edit), so any member may; what is checked
is that nobody acts through another person's command.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from bot import ids
from storage import tables as t
from tests.conftest import ALICE, BOB, CAROL, Bot, eventually, make_settings
from tests.handlers.test_promises import (
    click_ephemeral,
    events_of,
    form_values,
    logged,
    opened_view,
    promise_row,
    renegotiation,
    with_acme,
)
from tests.security.conftest import button, command, dm, snapshot

MANAGER = "UMANAGER"


async def trust(bot: Bot, text: str, user: str, channel: str = "C9") -> str:
    return str((await command(bot.slack, bot.stub, "/trust", text, user, channel))["text"])


async def stored(bot: Bot) -> dict[str, Any]:
    """Every table but the user cache (looking someone up is not a change)."""
    rows = await snapshot(bot.svc.engine)
    rows.pop("slack_users")
    return rows


async def subscriptions(bot: Bot) -> list[Any]:
    async with bot.svc.engine.connect() as conn:
        return list((await conn.execute(select(t.digest_subscriptions))).all())


async def test_digest_managers_may_subscribe_and_nobody_else_who_is_not_an_admin(
    bot: Bot,
) -> None:
    bot.svc.settings = make_settings(
        bot.stub.api_url, bot.db_url, digest_managers=f"{MANAGER},UOTHER"
    )
    bot.stub.add_user(MANAGER, name="manager", tz="Europe/Helsinki")  # not an admin
    bot.stub.add_channel("C9", name="account-health", members=[MANAGER, BOB, "UBOT"])
    assert "Only workspace admins" in await trust(bot, "digest here", BOB)
    assert await subscriptions(bot) == []
    assert "subscribed to" in await trust(bot, "digest here friday 16:00", MANAGER)
    assert "Only workspace admins" in await trust(bot, "digest off", BOB)
    assert [s.active for s in await subscriptions(bot)] == [1]
    assert "Trust digest" in str(
        await command(bot.slack, bot.stub, "/trust", "digest preview", BOB, "C9")
    )  # anyone may look, only to themselves
    assert "no longer" in await trust(bot, "digest off", MANAGER)
    assert [s.active for s in await subscriptions(bot)] == [0]


async def test_a_stranger_cannot_submit_the_renegotiate_or_edit_form(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot)
    for label, values in [
        ("Renegotiate", renegotiation(date(2026, 12, 4), "yes")),
        ("Edit", form_values(None, "rewritten by carol", CAROL, date(2026, 12, 4))),
    ]:
        opens = len(bot.stub.calls_to("views.open"))
        await click_ephemeral(bot, ALICE, body["blocks"], label)  # Alice opens her form...
        view = await opened_view(bot, opens)
        reply = await bot.slack.submit(user_id=CAROL, view=view, values=values)  # ...Carol sends
        assert reply.json()["response_action"] == "errors", label
        assert "Only the owner" in str(reply.json()["errors"]), label
    assert await promise_row(bot, row.id) == row
    assert [e.kind for e in await events_of(bot, row.id)] == ["created"]


async def test_an_owner_who_hands_a_promise_over_may_no_longer_change_it(bot: Bot) -> None:
    await with_acme(bot)
    body, row = await logged(bot, f"Acme send the deck by friday <@{BOB}|bob>")  # Alice logs
    await eventually(lambda: bot.stub.messages(BOB))
    message = dm(bot, BOB)  # Bob owns it: his DM has the buttons
    opens = len(bot.stub.calls_to("views.open"))
    await click_ephemeral(bot, ALICE, body["blocks"], "Edit")
    view = await opened_view(bot, opens)
    values = form_values(None, "send the deck", CAROL, date(2026, 12, 4))
    reply = await bot.slack.submit(user_id=ALICE, view=view, values=values)
    assert reply.status == 200 and reply.text in ("", "{}")
    handed_over = await promise_row(bot, row.id)
    assert handed_over.owner_id == CAROL
    # Bob's old DM still shows the buttons; they no longer work for him.
    before = len(bot.stub.responses)
    kept = button(message["blocks"], "Kept")
    await bot.slack.click(
        user_id=BOB,
        action_id=kept["action_id"],
        value=kept["value"],
        block_id=kept["block_id"],
        message=message,
    )
    await eventually(lambda: len(bot.stub.responses) > before)
    assert "Only the promise's owner" in str(bot.stub.responses[-1].body)
    assert await promise_row(bot, row.id) == handed_over
    # Carol, the new owner, may.
    before = len(bot.stub.responses)
    await click_ephemeral(bot, CAROL, body["blocks"], "Kept")
    await eventually(lambda: len(bot.stub.responses) > before)
    assert (await promise_row(bot, row.id)).status == "kept"
    assert (await events_of(bot, row.id))[-1].actor_id == CAROL


async def log_checkin_with_bob(bot: Bot) -> dict[str, Any]:
    await command(bot.slack, bot.stub, "/trust", "account add Acme", ALICE)
    await bot.slack.command("/checkin", f"Acme call <@{BOB}|bob>", user_id=ALICE)
    await eventually(lambda: bot.stub.messages(BOB))
    return dm(bot, BOB)


async def test_someone_else_cannot_skip_open_or_submit_your_check_in(bot: Bot) -> None:
    message = await log_checkin_with_bob(bot)
    rows = await stored(bot)
    opens = len(bot.stub.calls_to("views.open"))
    for label in ("Skip", "Add details"):
        b = button(message["blocks"], label)
        before = len(bot.stub.responses)
        await bot.slack.click(
            user_id=CAROL,
            action_id=b["action_id"],
            value=b["value"],
            block_id=b["block_id"],
            message=message,
        )
        await eventually(lambda n=before: len(bot.stub.responses) > n)
        assert "isn't yours" in str(bot.stub.responses[-1].body), label
    assert len(bot.stub.calls_to("views.open")) == opens  # Carol got no form
    # Bob opens his form; Carol submits it.
    details = button(message["blocks"], "Add details")
    await bot.slack.click(
        user_id=BOB,
        action_id=details["action_id"],
        value=details["value"],
        block_id=details["block_id"],
        message=message,
    )
    view = await opened_view(bot, opens)
    reply = await bot.slack.submit(
        user_id=CAROL,
        view=view,
        values={
            ids.RATING_BLOCK: {ids.RATING_INPUT: {"selected_option": {"value": "1"}}},
            ids.PROMISES_MADE_BLOCK: {ids.PROMISES_MADE_INPUT: {"value": "a promise by friday"}},
        },
    )
    assert "isn't yours" in reply.text
    assert await stored(bot) == rows  # no answer, and no promise either


async def test_only_the_person_who_ran_the_command_can_use_its_suggestion_buttons(
    bot: Bot,
) -> None:
    await command(bot.slack, bot.stub, "/trust", "account add Acme Corp", ALICE)
    for name, text in [("/checkin", "Acme Crop call"), ("/promise", "Acme Cporp send the deck")]:
        answer = await command(bot.slack, bot.stub, name, text, ALICE)
        rows = await stored(bot)
        for label in ("Use Acme Corp", "Create"):
            b = button(answer["blocks"], label)
            before = len(bot.stub.responses)
            await bot.slack.click(
                user_id=CAROL,
                action_id=b["action_id"],
                value=b["value"],
                block_id=b["block_id"],
                message={"ts": "1.0", "channel": "C1", "blocks": answer["blocks"]},
            )
            await eventually(lambda n=before: len(bot.stub.responses) > n)
            assert "nothing changed" in str(bot.stub.responses[-1].body), (name, label)
        assert await stored(bot) == rows, name  # no account, interaction, promise
        # Alice's own click still works afterwards: Carol's did not use up her draft.
        create = button(answer["blocks"], "Create")
        before = len(bot.stub.responses)
        await bot.slack.click(
            user_id=ALICE,
            action_id=create["action_id"],
            value=create["value"],
            block_id=create["block_id"],
            message={"ts": "1.0", "channel": "C1", "blocks": answer["blocks"]},
        )
        await eventually(lambda n=before: len(bot.stub.responses) > n + 1)
        assert len((await stored(bot))["accounts"]) == len(rows["accounts"]) + 1
