"""Scenario tests over HTTP: "My accounts" on the App Home and its Open button."""

from __future__ import annotations

from typing import Any

from bot import ids
from tests.conftest import ALICE, BOB, CAROL, Bot, eventually


async def trust(bot: Bot, text: str, user: str = ALICE) -> dict[str, Any]:
    """Run /trust and return the answer posted to its response_url."""
    before = len(bot.stub.responses)
    reply = await bot.slack.command("/trust", text, user_id=user)
    assert reply.status == 200
    await eventually(lambda: len(bot.stub.responses) > before)
    return bot.stub.responses[-1].body


async def add_account(bot: Bot, text: str, user: str = ALICE) -> None:
    answer = await trust(bot, f"account add {text}", user=user)
    assert "Created account" in answer["text"], answer


async def promise(bot: Bot, text: str, user: str = ALICE) -> None:
    """Log a promise and wait for its own confirmation (sent once it is stored)."""
    reply = await bot.slack.command("/promise", text, user_id=user)
    assert reply.status == 200
    if not reply.json().get("text"):
        token = bot.slack.last_response_url.rsplit("/", 1)[-1]
        await eventually(lambda: any(r.url_token == token for r in bot.stub.responses))


async def checkin(bot: Bot, text: str, user: str = ALICE) -> None:
    """Log an interaction with /checkin and wait until its check-ins exist."""
    before = len(bot.stub.calls_to("chat.postMessage"))
    reply = await bot.slack.command("/checkin", text, user_id=user)
    assert reply.status == 200
    await eventually(lambda: len(bot.stub.calls_to("chat.postMessage")) > before)


async def open_home(bot: Bot, user: str) -> dict[str, Any]:
    """Open the Home tab and return the view published in answer."""
    before = len(bot.stub.calls_to("views.publish"))
    reply = await bot.slack.event({"type": "app_home_opened", "user": user, "tab": "home"})
    assert reply.status == 200
    await eventually(lambda: len(bot.stub.calls_to("views.publish")) > before)
    return bot.stub.home_views[user]


def account_rows(home: dict[str, Any]) -> list[dict[str, Any]]:
    """The account sections (those with an Open button), in order."""
    return [
        b for b in home["blocks"] if b.get("accessory", {}).get("action_id") == ids.OPEN_ACCOUNT
    ]


def my_accounts(home: dict[str, Any]) -> list[dict[str, Any]]:
    """The blocks of the "My accounts" part of the Home tab (up to the footer)."""
    blocks = home["blocks"]
    start = next(
        n
        for n, b in enumerate(blocks)
        if b["type"] == "header" and b["text"]["text"] == "My accounts"
    )
    return blocks[start:-1]


async def test_owner_sees_their_accounts_riskiest_first_with_health(bot: Bot) -> None:
    await add_account(bot, f"Acme tier A <@{ALICE}|alice>")
    await add_account(bot, f"Globex <@{ALICE}|alice>")
    await add_account(bot, f"Initech <@{BOB}|bob>")
    await promise(bot, "Acme send the deck by 2026-11-24")
    await promise(bot, "Acme fix the bug by 2026-11-25")
    await promise(bot, "Acme call back by 2026-11-25")
    bot.clock.advance(days=6)  # three promises overdue: Acme is at risk
    home = await open_home(bot, ALICE)
    rows = account_rows(home)
    texts = [r["text"]["text"] for r in rows]
    assert len(rows) == 2 and "Initech" not in str(my_accounts(home))
    assert texts[0].startswith(":red_circle: *Acme* · at risk")
    assert "3 promises overdue" in texts[0]
    assert "`········`" in texts[0] and "no ratings yet" in texts[0]  # the trend sparkline
    assert "*Globex* · not enough data" in texts[1]
    assert rows[0]["accessory"]["text"]["text"] == "Open"
    assert "took part in" not in str(my_accounts(home))
    # the other sections are still there, before it
    shown = str(home["blocks"])
    assert shown.index("Your trust check-ins") < shown.index("My open promises")
    assert shown.index("My open promises") < shown.index("My accounts")


async def test_participant_who_owns_nothing_sees_accounts_they_took_part_in(bot: Bot) -> None:
    await add_account(bot, f"Acme <@{ALICE}|alice>")
    await add_account(bot, f"Globex <@{ALICE}|alice>")
    await add_account(bot, "Initech")
    await checkin(bot, f"Initech call <@{CAROL}|carol>")
    bot.clock.advance(weeks=9)  # Initech: more than 8 weeks ago, no longer recent
    await checkin(bot, f"Acme meeting <@{CAROL}|carol>")
    home = await open_home(bot, CAROL)
    section = str(my_accounts(home))
    assert "took part in over the last 8 weeks" in section
    rows = account_rows(home)
    assert len(rows) == 1 and "*Acme*" in rows[0]["text"]["text"]
    assert "Globex" not in section and "Initech" not in section
    assert "You don't own any accounts yet" in section


async def test_no_accounts_shows_how_to_add_one(bot: Bot) -> None:
    await add_account(bot, f"Acme <@{ALICE}|alice>")
    home = await open_home(bot, BOB)
    assert account_rows(home) == []
    section = my_accounts(home)
    assert section[1]["text"]["text"] == (
        "You don't own any accounts yet: `/trust account add <name> @you`"
    )


async def test_many_accounts_show_ten_and_the_home_stays_within_limits(bot: Bot) -> None:
    for n in range(12):
        await add_account(bot, f"Client{n:02d} <@{ALICE}|alice>")
    for n in range(16):  # more pending check-ins and promises than the Home shows
        await checkin(bot, f"Client00 call <@{ALICE}|alice>", user=BOB)
        await promise(bot, f"Client01 step {n} by 2026-12-10")
    home = await open_home(bot, ALICE)  # the stub fails the test on any limit violation
    assert len(home["blocks"]) <= 100
    assert len(account_rows(home)) == 10
    assert "…and 2 more — `/trust accounts`" in str(my_accounts(home))
    assert "…and 1 more waiting" in str(home["blocks"])
    assert "…and 1 more: `/promise list mine`" in str(home["blocks"])


async def test_open_on_home_shows_the_account_card_in_a_modal(bot: Bot) -> None:
    await add_account(bot, f"Acme tier A <@{ALICE}|alice>")
    await promise(bot, "Acme send the deck by 2026-11-30")
    home = await open_home(bot, ALICE)
    row = account_rows(home)[0]
    opens = len(bot.stub.calls_to("views.open"))
    responses = len(bot.stub.responses)
    reply = await bot.slack.click(
        user_id=ALICE,
        action_id=ids.OPEN_ACCOUNT,
        value=row["accessory"]["value"],
        block_id=row.get("block_id", "b"),
        view=home,
    )
    assert reply.status == 200
    await eventually(lambda: len(bot.stub.calls_to("views.open")) > opens)
    view = bot.stub.calls_to("views.open")[-1].args["view"]
    assert view["type"] == "modal"
    assert view["title"]["text"] == "Account" and view["close"]["text"] == "Close"
    card = str(view["blocks"])
    assert "*Acme*" in card and "tier A" in card
    assert "Open promises (1)" in card and "send the deck" in card
    assert len(bot.stub.responses) == responses  # no response_url on the Home: nothing else


async def test_open_on_home_with_a_tampered_id_says_so_in_a_modal(bot: Bot) -> None:
    await add_account(bot, f"Acme <@{ALICE}|alice>")
    home = await open_home(bot, ALICE)
    for value in ["999", "abc"]:
        opens = len(bot.stub.calls_to("views.open"))
        await bot.slack.click(user_id=ALICE, action_id=ids.OPEN_ACCOUNT, value=value, view=home)
        await eventually(lambda n=opens: len(bot.stub.calls_to("views.open")) > n)
        view = bot.stub.calls_to("views.open")[-1].args["view"]
        assert "doesn't exist in this workspace" in str(view["blocks"])
        assert "Acme" not in str(view)
