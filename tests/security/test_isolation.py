"""Two workspaces in one database: neither ever sees or changes the other's data.

Workspace T1 and workspace T2 both have an account called "Acme", interactions, check-ins,
promises, drafts and a digest subscription. A T2 user then drives every command, button,
modal, the App Home and the account search, with button values and `private_metadata`
tampered to name T1's rows (ids are small integers shared by both workspaces' tables).
Afterwards T1's rows are exactly as they were, nothing the bot sent in answer names T1's
accounts, texts or people, and the bot touched no T1 message, DM or home tab. The digest
tick and `trustloop export --team` keep each workspace's data to itself as well.
"""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot import ids
from bot.localslack.requests import SlackRequests
from storage import tables as t
from tests.bot.test_cli import env_for, run
from tests.conftest import ALICE, BOB, CAROL, START, Bot, eventually
from tests.security.conftest import (
    button,
    command,
    dm,
    post_payload,
    requests_for,
    snapshot,
    user_obj,
)

T1, T2 = "T0001", "T0002"
ANN, BEN = "UANN", "UBEN"  # T2's people
SECRET_WORD = "zebra"  # in every T1 text; T2 must never see it
T1_PEOPLE = (ALICE, BOB, CAROL)
T1_PLACES = ("C1", *(f"D{u[1:]}" for u in T1_PEOPLE))  # T1's channel and T1's DMs


async def settle(bot: Bot) -> None:
    """Wait until the bot has stopped sending (work continues after each ack)."""
    last, quiet = -1, 0
    while quiet < 5:
        now = len(bot.stub.calls) + len(bot.stub.responses)
        quiet = quiet + 1 if now == last else 0
        last = now
        await asyncio.sleep(0.03)


async def ids_of(bot: Bot, table: Any, team: str, **where: Any) -> list[int]:
    query = select(table.c.id).where(table.c.team_id == team)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with bot.svc.engine.connect() as conn:
        return list((await conn.execute(query.order_by(table.c.id))).scalars())


async def seed_t1(bot: Bot) -> None:
    """T1: accounts, an interaction with three check-ins, a promise, a draft, a subscription."""
    stub, t1 = bot.stub, bot.slack
    stub.add_user(CAROL, name="carol", tz="Europe/Helsinki", is_admin=True)
    stub.add_channel("C1", name="general", members=[ALICE, BOB, CAROL, "UBOT"])
    await command(t1, stub, "/trust", f"account add Acme tier A value 1M <@{ALICE}|alice>", ALICE)
    await command(t1, stub, "/trust", "account add Globex Zebra Holdings tier B", ALICE)
    opens = len(stub.calls_to("views.open"))
    answer = await command(
        t1,
        stub,
        "/checkin",
        f"Acme call <@{BOB}|bob> <@{CAROL}|carol> zebra note about pricing",
        ALICE,
    )
    assert "Logged a call" in answer["text"]
    modal = stub.calls_to("views.open")[opens].response["view"]
    rate = button(dm(bot, BOB)["blocks"], "2")
    await t1.click(
        user_id=BOB,
        action_id=rate["action_id"],
        value=rate["value"],
        block_id=rate["block_id"],
        message=dm(bot, BOB),
    )
    reply = await t1.submit(
        user_id=ALICE,
        view=modal,
        values={
            ids.RATING_BLOCK: {ids.RATING_INPUT: {"selected_option": {"value": "1"}}},
            ids.CONCERN_BLOCK: {ids.CONCERN_INPUT: {"value": "zebra concern: pricing"}},
        },
    )
    assert reply.status == 200 and reply.text == ""
    await command(
        t1, stub, "/promise", f"Acme send the zebra deck by 2026-11-24 <@{BOB}|bob>", ALICE
    )
    await command(t1, stub, "/promise", "Globex Zebra Holdings zebra audit by friday", ALICE)
    await command(t1, stub, "/checkin", "Acmee call", ALICE)  # leaves a draft
    answer = await command(t1, stub, "/trust", "digest here", CAROL)
    assert "subscribed" in answer["text"]
    await eventually(lambda: stub.messages(BOB))


async def seed_t2(bot: Bot, t2: SlackRequests) -> None:
    """T2: its own Acme (tier C), an interaction, a promise, a draft, a subscription."""
    stub = bot.stub
    stub.add_user(ANN, name="ann", tz="Europe/Helsinki", is_admin=True)
    stub.add_user(BEN, name="ben", tz="Europe/Helsinki")
    stub.add_channel("C2", name="t2-general", members=[ANN, BEN, "UBOT"])
    await command(t2, stub, "/trust", f"account add Acme tier C <@{ANN}|ann>", ANN, "C2")
    await command(t2, stub, "/checkin", f"Acme meeting <@{BEN}|ben> kickoff", ANN, "C2")
    await command(t2, stub, "/promise", "Acme send the t2 deck by friday", ANN, "C2")
    await command(t2, stub, "/checkin", "Acmee call", ANN, "C2")
    answer = await command(t2, stub, "/trust", "digest here", ANN, "C2")
    assert "subscribed" in answer["text"]


async def two_workspaces(bot: Bot) -> SlackRequests:
    await seed_t1(bot)
    t2 = requests_for(bot, T2)
    await seed_t2(bot, t2)
    await settle(bot)
    return t2


def view(callback_id: str, metadata: Any = "", kind: str = "modal") -> dict[str, Any]:
    """A view as Slack sends it back on submit, with whatever private_metadata we like."""
    return {
        "id": "VTAMPERED",
        "type": kind,
        "callback_id": callback_id,
        "private_metadata": metadata if isinstance(metadata, str) else json.dumps(metadata),
        "blocks": [],
    }


def picked(value: Any) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": str(value)}}


def text_input(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def date_input(day: date) -> dict[str, Any]:
    return {"type": "datepicker", "selected_date": day.isoformat()}


def leaks(outputs: list[str]) -> list[str]:
    """Outputs that name T1's texts or T1's people."""
    return [
        o
        for o in outputs
        if SECRET_WORD in o.casefold() or any(person in o for person in T1_PEOPLE)
    ]


def touched_t1(bot: Bot, since: int) -> list[str]:
    """Web API calls after `since` that reach a T1 channel, DM or person."""
    hits = []
    for call in bot.stub.calls[since:]:
        args = call.args
        targets = {str(args.get(k)) for k in ("channel", "user", "users", "user_id")}
        if targets & {*T1_PLACES, *T1_PEOPLE}:
            hits.append(f"{call.method} {json.dumps(args)[:200]}")
    return hits


async def test_a_t2_user_can_neither_see_nor_change_t1(bot: Bot, tmp_path: Path) -> None:
    t2 = await two_workspaces(bot)
    stub = bot.stub
    t1_accounts = await ids_of(bot, t.accounts, T1)
    (t1_promise, t1_second) = await ids_of(bot, t.promises, T1)
    t1_pending = await ids_of(bot, t.checkins, T1, status="pending")
    (t1_draft,) = await ids_of(bot, t.drafts, T1)
    (t2_draft,) = await ids_of(bot, t.drafts, T2)
    (t1_interaction,) = await ids_of(bot, t.interactions, T1)
    (t2_promise,) = await ids_of(bot, t.promises, T2)
    assert t1_pending and len(t1_accounts) == 2
    t1_rows = await snapshot(bot.svc.engine, T1)
    calls_before, responses_before = len(stub.calls), len(stub.responses)
    replies: list[str] = []

    # --- every command, as T2's admin and as T2's plain member ------------------------------
    for user in (ANN, BEN):
        for name, text, channel in [
            ("/checkin", f"Acme call <@{BEN}|ben> follow-up", "C2"),
            ("/checkin", "Globex call", "C2"),
            ("/promise", "Acme t2 second by friday", "C2"),
            ("/promise", "Globex audit by friday", "C2"),
            ("/promise", "list", "C2"),
            ("/promise", "list mine", "C2"),
            ("/promise", "list overdue", "C2"),
            ("/promise", "list Acme", "C2"),
            ("/promise", "list Globex", "C2"),
            ("/trust", "help", "C2"),
            ("/trust", "account Acme", "C2"),
            ("/trust", "account Globex", "C2"),
            ("/trust", "accounts", "C2"),
            ("/trust", "accounts page 2", "C2"),
            ("/trust", "digest preview", "C2"),
            ("/trust", "digest preview", "C1"),  # T1's channel: T2's digest, if any
            ("/trust", "digest off", "C1"),  # T1's subscription is not T2's to end
            ("/trust", "away until friday", "C2"),
            ("/trust", "back", "C2"),
        ]:
            answer = await command(t2, stub, name, text, user, channel)
            replies.append(json.dumps(answer))
        for name in ("/checkin", "/promise"):  # no text: a form opens
            opens = len(stub.calls_to("views.open"))
            await t2.command(name, "", user_id=user, channel_id="C2")
            await eventually(lambda n=opens: len(stub.calls_to("views.open")) > n)
    card = await command(t2, stub, "/trust", "account Acme", ANN, "C2")
    assert "tier C" in json.dumps(card) and "tier A" not in json.dumps(card)  # T2's own Acme

    # --- buttons with T1's ids in their values ----------------------------------------------
    message = {"ts": "1700000000.000100", "blocks": [], "text": ""}
    clicks = [
        *[(f"{ids.RATE_CHECKIN}_5", str(c)) for c in t1_pending],
        *[(ids.SKIP_CHECKIN, str(c)) for c in t1_pending],
        *[(ids.CHECKIN_DETAILS, str(c)) for c in t1_pending],
        *[
            (action, str(p))
            for p in (t1_promise, t1_second)
            for action in (
                ids.PROMISE_KEPT,
                ids.PROMISE_BROKEN,
                ids.PROMISE_RENEGOTIATE,
                ids.PROMISE_CANCEL,
                ids.PROMISE_EDIT,
            )
        ],
        *[(ids.OPEN_ACCOUNT, str(a)) for a in t1_accounts],
        (f"{ids.ACCOUNTS_PAGE}_next", "2"),
        (f"{ids.ACCOUNTS_PAGE}_prev", "1"),
        (ids.PICK_ACCOUNT, f"{t1_draft}:{t1_accounts[0]}"),
        (ids.PICK_ACCOUNT, f"{t2_draft}:{t1_accounts[1]}"),  # T2's own draft, T1's account
        (ids.CREATE_ACCOUNT, f"{t1_draft}:"),
        (ids.PICK_PROMISE_ACCOUNT, f"{t1_draft}:{t1_accounts[0]}"),
        (ids.CREATE_PROMISE_ACCOUNT, f"{t1_draft}:"),
    ]
    for action_id, value in clicks:
        before = len(stub.calls) + len(stub.responses)
        reply = await t2.click(
            user_id=ANN, action_id=action_id, value=value, message=message, channel_id="C2"
        )
        assert reply.status == 200
        await eventually(lambda n=before: len(stub.calls) + len(stub.responses) > n)
    home = {"id": "VHOME", "type": "home", "blocks": []}
    for action_id, value in [
        *[(ids.OPEN_ACCOUNT, str(a)) for a in t1_accounts],
        *[(f"{ids.RATE_CHECKIN}_4", str(c)) for c in t1_pending],
        (ids.PROMISE_KEPT, str(t1_promise)),
        (ids.AWAY_OPEN, ""),
        (ids.AWAY_BACK, ""),
    ]:
        before = len(stub.calls) + len(stub.responses)
        await t2.click(user_id=ANN, action_id=action_id, value=value, view=home)
        await eventually(lambda n=before: len(stub.calls) + len(stub.responses) > n)
    notices = [json.dumps(c.args["view"]) for c in stub.calls_to("views.open")]
    assert any("couldn't find that promise" in n for n in notices)  # said, even on the Home

    # --- modals whose private_metadata or selects name T1's rows ----------------------------
    friday = date(2026, 11, 27)
    submissions = [
        view(ids.CHECKIN_MODAL, {"c": t1_pending[0], "ch": None, "ts": None}),
        view(ids.RENEGOTIATE_MODAL, {"p": t1_promise}),
        view(ids.CANCEL_MODAL, {"p": t1_promise}),
        view(ids.PROMISE_EDIT_MODAL, {"p": t1_promise}),
        view(ids.NEW_INTERACTION_MODAL),
        view(ids.PROMISE_MODAL),
    ]
    values = {
        ids.RATING_BLOCK: {ids.RATING_INPUT: picked(5)},
        ids.CONCERN_BLOCK: {ids.CONCERN_INPUT: text_input("t2 concern")},
        ids.DUE_BLOCK: {ids.DUE_INPUT: date_input(friday)},
        ids.TOLD_BLOCK: {ids.TOLD_INPUT: {"selected_option": {"value": "yes"}}},
        ids.REASON_BLOCK: {ids.REASON_INPUT: text_input("no longer needed")},
        ids.WHAT_BLOCK: {ids.WHAT_INPUT: text_input("rewritten by T2")},
        ids.OWNER_BLOCK: {ids.OWNER_INPUT: {"selected_user": ANN}},
        ids.ACCOUNT_BLOCK: {ids.ACCOUNT_SELECT: picked(t1_accounts[1])},
        ids.PROMISE_ACCOUNT_BLOCK: {ids.ACCOUNT_SELECT: picked(t1_accounts[1])},
        ids.KIND_BLOCK: {ids.KIND_INPUT: picked("call")},
        ids.PARTICIPANTS_BLOCK: {ids.PARTICIPANTS_INPUT: {"selected_users": [BEN]}},
        ids.INTERACTION_BLOCK: {ids.INTERACTION_INPUT: picked(t1_interaction)},
    }
    for submitted in submissions:
        reply = await t2.submit(user_id=ANN, view=submitted, values=values)
        assert reply.status == 200
        answer = reply.json()
        assert answer.get("response_action") in {"errors", "update"}, (submitted, answer)
        replies.append(reply.text)
    # T2's own account in the promise form, but one of T1's interactions linked to it
    own = {**values, ids.PROMISE_ACCOUNT_BLOCK: {ids.ACCOUNT_SELECT: picked(999_999)}}
    async with bot.svc.engine.connect() as conn:
        t2_acme = (
            await conn.execute(select(t.accounts.c.id).where(t.accounts.c.team_id == T2))
        ).scalar_one()
    own[ids.PROMISE_ACCOUNT_BLOCK] = {ids.ACCOUNT_SELECT: picked(t2_acme)}
    reply = await t2.submit(user_id=ANN, view=view(ids.PROMISE_MODAL), values=own)
    assert reply.json()["response_action"] == "errors"
    assert ids.INTERACTION_BLOCK in reply.json()["errors"]

    # --- the account search and the App Home ------------------------------------------------
    for query in ("", "Glob", "zebra", "Acme"):
        reply = await post_payload(
            t2,
            {
                "type": "block_suggestion",
                "user": user_obj(T2, ANN),
                "team": {"id": T2},
                "action_id": ids.ACCOUNT_SELECT,
                "block_id": ids.ACCOUNT_BLOCK,
                "value": query,
                "view": view(ids.NEW_INTERACTION_MODAL),
            },
        )
        labels = [o["text"]["text"] for o in reply.json()["options"]]
        assert all(label == "Acme" for label in labels), (query, labels)
        replies.append(reply.text)
    for user in (ANN, BEN):
        before = len(stub.calls_to("views.publish"))
        await t2.event({"type": "app_home_opened", "user": user, "tab": "home"})
        await eventually(lambda n=before: len(stub.calls_to("views.publish")) > n)
    await settle(bot)

    # --- T1 is untouched, and nothing T2 got names T1 ---------------------------------------
    assert await snapshot(bot.svc.engine, T1) == t1_rows
    outputs = replies + sent_since(bot, calls_before, responses_before)
    assert leaks(outputs) == []
    assert touched_t1(bot, calls_before) == []
    assert (await ids_of(bot, t.promises, T2))[0] == t2_promise  # and T2's own work went on
    assert len(await ids_of(bot, t.interactions, T2)) == 3

    # --- the export of T2 holds T2's rows only ----------------------------------------------
    code, _out, err = await run(
        "export",
        str(tmp_path / "t2"),
        "--team",
        T2,
        env=env_for(DATABASE_URL=bot.db_url),
        cwd=tmp_path,
    )
    assert code == 0, err
    exported = 0
    for path in sorted((tmp_path / "t2").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                exported += 1
                assert row["team_id"] == T2, (path.name, row)
                assert leaks([json.dumps(row)]) == [], (path.name, row)
    assert exported > 5


def sent_since(bot: Bot, calls: int, responses: int) -> list[str]:
    return sent_calls(bot, calls) + [json.dumps(r.body) for r in bot.stub.responses[responses:]]


def sent_calls(bot: Bot, since: int) -> list[str]:
    return [json.dumps(c.args, ensure_ascii=False) for c in bot.stub.calls[since:]]


async def test_the_tick_keeps_each_workspaces_digest_and_reminders_to_itself(bot: Bot) -> None:
    """Digests, check-in reminders and promise reminders of both workspaces in one tick."""
    await two_workspaces(bot)
    since = len(bot.stub.calls)
    report = await bot.svc.run_due_work(START + timedelta(days=7))  # Monday 30 Nov, 12:00
    assert report.digests == 2 and report.promise_reminders >= 2
    t2_people, t2_places = (ANN, BEN), ("C2", "DANN", "DBEN")
    t2_words = ("t2 deck", "kickoff", *t2_people)
    by_place: dict[str, list[str]] = {}
    for call in bot.stub.calls[since:]:
        if call.method in {"chat.postMessage", "chat.update", "views.publish"}:
            # Where it landed: a DM posted to a user id lands in (and names) their D… channel.
            place = str(
                call.response.get("channel") or call.args.get("channel") or call.args.get("user_id")
            )
            by_place.setdefault(place, []).append(json.dumps(call.args, ensure_ascii=False))
    assert {"C1", "C2", "DALICE", "DANN"} <= set(by_place), set(by_place)
    for place, messages in by_place.items():
        if place in t2_places or place in t2_people:
            assert leaks(messages) == [], place
        else:
            assert place in {*T1_PLACES, *T1_PEOPLE}, place
            assert [m for m in messages if any(w in m for w in t2_words)] == [], place
    assert SECRET_WORD in " ".join(by_place["C1"]).casefold()  # T1's digest is T1's
    # Each digest counts its own workspace only (T1 has 2 accounts, T2 has 1).
    assert "of 2 accounts" in by_place["C1"][0] and "of 1 accounts" in by_place["C2"][0]


async def test_a_modal_cannot_point_the_bot_at_a_message_it_was_not_opened_from(
    bot: Bot,
) -> None:
    """The message a promise modal updates comes from its private_metadata; tampered, it
    must not let T2 overwrite T1's messages, nor anyone's DM but the submitter's own."""
    t2 = await two_workspaces(bot)
    (t2_promise,) = await ids_of(bot, t.promises, T2)
    bob_dm, ben_dm = dm(bot, BOB), dm(bot, BEN)  # a T1 DM, and a T2 teammate's DM
    friday = date(2026, 11, 27)
    forms = [
        (
            ids.RENEGOTIATE_MODAL,
            bob_dm,
            {
                ids.DUE_BLOCK: {ids.DUE_INPUT: date_input(friday + timedelta(days=7))},
                ids.TOLD_BLOCK: {ids.TOLD_INPUT: {"selected_option": {"value": "yes"}}},
            },
        ),
        (
            ids.PROMISE_EDIT_MODAL,
            ben_dm,
            {
                ids.WHAT_BLOCK: {ids.WHAT_INPUT: text_input("send the t2 deck, v2")},
                ids.OWNER_BLOCK: {ids.OWNER_INPUT: {"selected_user": ANN}},
                ids.DUE_BLOCK: {ids.DUE_INPUT: date_input(friday + timedelta(days=7))},
            },
        ),
        (
            ids.CANCEL_MODAL,
            bob_dm,
            {ids.REASON_BLOCK: {ids.REASON_INPUT: text_input("customer went quiet")}},
        ),
    ]
    since = len(bot.stub.calls)
    for callback_id, target, values in forms:
        metadata = {"p": t2_promise, "ch": target["channel"], "ts": target["ts"]}
        reply = await t2.submit(user_id=ANN, view=view(callback_id, metadata), values=values)
        assert reply.status == 200 and reply.text == "", reply.text  # ANN's change is saved
    await eventually(lambda: len(bot.stub.calls_to("views.publish")) >= 3)
    await settle(bot)
    async with bot.svc.engine.connect() as conn:
        status = (
            await conn.execute(select(t.promises.c.status).where(t.promises.c.id == t2_promise))
        ).scalar_one()
    assert status == "cancelled"
    updates = [c.args["channel"] for c in bot.stub.calls[since:] if c.method == "chat.update"]
    assert updates == []
    assert dm(bot, BOB) == bob_dm and dm(bot, BEN) == ben_dm
