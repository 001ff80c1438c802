"""The workspace page over the real bot, without a browser: what it shows and what clicks send.

The page's own endpoints are called the way its script calls them; every click must reach
the real Bolt app as the signed Slack payload it expects (the bot then acts on it).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.localslack.web import Workspace, build_page_app
from storage import tables as t
from tests.conftest import ALICE, BOB, Bot, eventually

MSG = re.compile(r'<div class="msg( ephemeral)?" data-channel="([^"]+)" data-ts="([^"]+)"')
BUTTON = re.compile(
    r'<button type="button" class="bk-button[^"]*" data-action-id="([^"]*)" '
    r'data-block-id="([^"]*)" data-type="([^"]*)"(?: data-value="([^"]*)")?[^>]*>(.*?)</button>'
)


@dataclass
class Page:
    """The page's HTTP client, its workspace and the bot behind it."""

    client: TestClient
    ws: Workspace
    bot: Bot
    payloads: list[dict[str, Any]]

    async def html(self, user: str = ALICE, c: str | None = None) -> str:
        params = {"as": user} | ({"c": c} if c else {})
        resp = await self.client.get("/", params=params)
        assert resp.status == 200
        return await resp.text()

    async def post(self, path: str, **data: str) -> None:
        resp = await self.client.post(path, data=data, headers={"Accept": "application/json"})
        assert resp.status == 200, await resp.text()
        assert "version" in await resp.json()

    async def command(self, line: str, user: str = ALICE, c: str = "C1") -> None:
        await self.post("/ui/command", **{"as": user, "c": c, "text": line})

    async def click(self, user: str, message: Message, label: str) -> None:
        action_id, block_id, kind, value = message.button(label)
        await self.post(
            "/ui/action",
            **{"as": user, "channel": message.channel, "ts": message.ts},
            block_id=block_id,
            action_id=action_id,
            type=kind,
            value=value,
        )


@dataclass
class Message:
    """One message as the page shows it."""

    channel: str
    ts: str
    ephemeral: bool
    html: str

    def button(self, label: str) -> tuple[str, str, str, str]:
        for action_id, block_id, kind, value, text in BUTTON.findall(self.html):
            if text.startswith(label):
                return action_id, block_id, kind, value
        raise AssertionError(f"no button {label!r} in {self.html}")


def messages(html: str) -> list[Message]:
    found = list(MSG.finditer(html))
    out = []
    for n, m in enumerate(found):
        end = found[n + 1].start() if n + 1 < len(found) else html.find('<form id="composer"')
        out.append(Message(m.group(2), m.group(3), bool(m.group(1)), html[m.start() : end]))
    return out


def modal_of(html: str) -> str:
    start = html.find('<form class="modal"')
    return html[start : html.find("</form>", start)] if start >= 0 else ""


@pytest.fixture
async def page(bot: Bot) -> AsyncIterator[Page]:
    bot.stub.add_channel("C1", name="general", members=[ALICE, BOB, "UCAROL", "UBOT"])
    payloads: list[dict[str, Any]] = []
    send = bot.slack._payload

    async def recording(payload: dict[str, Any]) -> Any:
        payloads.append(payload)
        return await send(payload)

    bot.slack._payload = recording  # type: ignore[method-assign]
    ws = Workspace(stub=bot.stub, slack=bot.slack, clock=bot.clock, default_user=ALICE, quiet=0.1)
    client = TestClient(TestServer(build_page_app(ws), host="127.0.0.1"))
    await client.start_server()
    yield Page(client, ws, bot, payloads)
    await client.close()


async def add_account(page: Page, name: str = "Acme") -> None:
    await page.command(f"/trust account add {name} tier A")
    await eventually(lambda: any("Created account" in e.text for e in page.ws.ephemerals))


async def checkin_row(page: Page, user: str) -> Any:
    c = t.checkins
    async with page.bot.svc.engine.connect() as conn:
        return (await conn.execute(select(c).where(c.c.user_id == user))).one()


# --- what the page shows -----------------------------------------------------------------


async def test_page_shows_the_workspace_and_escapes_what_users_typed(page: Page) -> None:
    await page.command("/trust account add <script>alert(1)</script> & co tier A")
    await eventually(lambda: page.ws.ephemerals)
    html = await page.html(ALICE)
    assert '<a class="nav active" id="nav-C1"' in html and "# general" in html
    assert 'id="nav-dm"' in html and 'id="nav-home"' in html
    assert "@alice — alice" in html  # the user picker
    shown = messages(html)
    assert len(shown) == 1 and shown[0].ephemeral and "Only visible to you" in shown[0].html
    assert "Created account <b>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</b>" in html
    assert "<script>alert" not in html
    # the command reached the bot as Slack sends it: &, <, > escaped
    async with page.bot.svc.engine.connect() as conn:
        names = (await conn.execute(select(t.accounts.c.name))).scalars().all()
    assert names == ["<script>alert(1)</script> & co"]
    # someone else does not see Alice's ephemeral
    assert "Created account" not in await page.html(BOB)


async def test_other_text_and_unknown_commands_get_a_hint(page: Page) -> None:
    await page.command("hello there")
    await page.command("/giphy cats")
    html = await page.html(ALICE)
    assert "Here you talk to trustloop with slash commands" in html
    assert "<code>/giphy</code> is not a valid command." in html
    assert page.bot.stub.calls == []  # nothing reached the bot


async def test_command_text_is_escaped_like_slack_does(page: Page) -> None:
    assert page.ws.escape_command_text("Acme call @bob, @nobody #general @here a<b & c>") == (
        "Acme call <@UBOB|bob>, @nobody <#C1|general> <!here> a&lt;b &amp; c&gt;"
    )


# --- clicks --------------------------------------------------------------------------------


async def test_checkin_modal_and_a_rating_click_in_a_teammates_dm(page: Page) -> None:
    await add_account(page)
    await page.command("/checkin Acme call @bob Renewal talk")
    dm = page.bot.stub.dm_channel_for(BOB)
    await eventually(lambda: page.bot.stub.messages(dm))

    # Alice's own check-in opens as a modal on her page only
    html = await page.html(ALICE)
    modal = modal_of(html)
    assert "Trust check-in" in modal and "Acme" in modal
    assert modal_of(await page.html(BOB)) == ""
    assert "Logged a <b>call</b> with <b>Acme</b>" in html

    # Bob's DM: the check-in with its five buttons; he clicks 4
    bob_dm = messages(await page.html(BOB, "dm"))
    assert [m.channel for m in bob_dm] == [dm]
    checkin = bob_dm[0]
    assert "How is trust with <b>Acme</b>" in checkin.html
    await page.click(BOB, checkin, "4 · good")
    payload = page.payloads[-1]
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == BOB and payload["team"]["id"] == "T0001"
    assert payload["container"] == {
        "type": "message",
        "message_ts": checkin.ts,
        "channel_id": dm,
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == checkin.ts and payload["message"]["blocks"]
    assert payload["response_url"].startswith(page.bot.stub.base_url + "/response/")
    assert payload["trigger_id"] and payload["actions"][0]["action_id"] == "checkin_rate_4"
    assert payload["actions"][0]["text"]["text"] == "4 · good"

    row = await checkin_row(page, BOB)
    assert row.status == "answered" and row.rating == 4
    answered = messages(await page.html(BOB, "dm"))[0]
    assert "You rated trust <b>4 · good</b>" in answered.html
    assert 'data-action-id="checkin_rate' not in answered.html
    assert "(edited)" in answered.html

    # Alice saves her modal: state.values carries the radio button she picked
    view_id = re.search(r'name="view_id" value="([^"]+)"', modal)
    assert view_id
    await page.post("/ui/submit", **{"as": ALICE, "view_id": view_id.group(1), "input-0": "5"})
    submitted = page.payloads[-1]
    assert submitted["type"] == "view_submission"
    assert (
        submitted["view"]["state"]["values"]["rating"]["rating_input"]["selected_option"]["value"]
        == "5"
    )
    assert modal_of(await page.html(ALICE)) == ""
    row = await checkin_row(page, ALICE)
    assert row.status == "answered" and row.rating == 5


async def test_the_form_modal_options_errors_update_and_close(page: Page) -> None:
    await add_account(page, "Acme & Co")
    await page.command("/checkin")
    html = await page.html(ALICE)
    modal = modal_of(html)
    assert "Log an interaction" in modal
    assert ">@bob</option>" in modal and "@robot" not in modal  # people pickers: no bots
    # the external select's options came from the bot (block_suggestion)
    suggestion = next(p for p in page.payloads if p["type"] == "block_suggestion")
    assert suggestion["action_id"] == "account_select" and suggestion["value"] == ""
    option = re.search(r'<option value="(\d+)">Acme &amp; Co</option>', modal)
    assert option
    view_id = re.search(r'name="view_id" value="([^"]+)"', modal).group(1)  # type: ignore[union-attr]

    # no account picked: the modal stays open with the error, and the typed note
    await page.post(
        "/ui/submit", **{"as": ALICE, "view_id": view_id, "input-1": "call", "input-3": "a <note>"}
    )
    modal = modal_of(await page.html(ALICE))
    assert "Pick an account" in modal and "a &lt;note&gt;</textarea>" in modal

    # with the account: the bot answers response_action update; the same modal asks for trust
    await page.post(
        "/ui/submit",
        **{"as": ALICE, "view_id": view_id, "input-0": option.group(1), "input-1": "qbr"},
        **{"input-2": BOB},
    )
    modal = modal_of(await page.html(ALICE))
    assert "Trust check-in" in modal and f'value="{view_id}"' in modal
    await eventually(lambda: page.bot.stub.messages(page.bot.stub.dm_channel_for(BOB)))

    # Cancel closes it
    await page.post("/ui/close", **{"as": ALICE, "view_id": view_id})
    assert modal_of(await page.html(ALICE)) == ""
    assert view_id not in page.bot.stub.open_views


async def test_a_click_on_an_ephemeral_suggestion_deletes_it(page: Page) -> None:
    await add_account(page)
    await page.command("/checkin Acm call")
    await eventually(lambda: any("no account called" in e.text for e in page.ws.ephemerals))
    suggestion = next(m for m in messages(await page.html(ALICE)) if "Use Acme" in m.html)
    assert suggestion.ephemeral
    await page.click(ALICE, suggestion, "Use Acme")
    assert page.payloads[-1]["container"]["is_ephemeral"] is True
    html = await page.html(ALICE)
    assert "Use Acme" not in html  # delete_original on its response_url
    assert "Trust check-in" in modal_of(html)  # the check-in carries on


async def test_opening_the_home_tab_sends_app_home_opened(page: Page) -> None:
    resp = await page.client.get("/ui/open-home", params={"as": ALICE}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/?as=UALICE&c=home"
    assert page.bot.stub.calls_to("views.publish")
    html = await page.html(ALICE, "home")
    assert '<a class="nav active" id="nav-home"' in html
    assert "Your trust check-ins" in html and "No check-ins waiting for you." in html

    # a button on the Home tab: a block_actions with the view as container, then a modal
    home_view = page.bot.stub.home_views[ALICE]
    action_id, block_id, kind, value = Message("", "", False, html).button("I&#x27;m away")
    await page.post(
        "/ui/action",
        **{"as": ALICE, "view_id": home_view["id"], "block_id": block_id},
        action_id=action_id,
        type=kind,
        value=value,
    )
    assert page.payloads[-1]["container"] == {"type": "view", "view_id": home_view["id"]}
    modal = modal_of(await page.html(ALICE, "home"))
    assert "Away" in modal and 'type="date"' in modal
    view_id = re.search(r'name="view_id" value="([^"]+)"', modal).group(1)  # type: ignore[union-attr]
    await page.post("/ui/submit", **{"as": ALICE, "view_id": view_id, "input-0": "2026-11-27"})
    html = await page.html(ALICE, "home")
    assert "You are away until" in html and modal_of(html) == ""


# --- plumbing ------------------------------------------------------------------------------


async def test_files_are_served_from_the_stand_in(page: Page) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    await page.bot.svc.client.files_upload_v2(
        channel="C1", content=png, filename="chart.png", title="Trend"
    )
    html = await page.html(ALICE)
    file_id = re.search(r'<img src="/files/(F\w+)" alt="Trend">', html)
    assert file_id
    resp = await page.client.get(f"/files/{file_id.group(1)}")
    assert resp.status == 200 and resp.content_type == "image/png"
    assert await resp.read() == png
    assert (await page.client.get("/files/F404")).status == 404


async def test_version_moves_and_only_this_page_may_post(page: Page) -> None:
    before = (await (await page.client.get("/ui/version")).json())["version"]
    await page.command("/trust help")
    after = (await (await page.client.get("/ui/version")).json())["version"]
    assert after != before
    html = await page.html(ALICE)
    assert "trustloop commands" in html  # the help ack, shown to Alice only
    refused = await page.client.post(
        "/ui/command",
        data={"as": ALICE, "text": "/trust help"},
        headers={"Origin": "http://evil.example"},
    )
    assert refused.status == 403
    rebound = await page.client.get("/", headers={"Host": "evil.example:3000"})
    assert rebound.status == 403
    # without the script, a form post is answered with a redirect back to the page
    plain = await page.client.post(
        "/ui/dismiss", data={"as": ALICE, "ts": "1", "back": "C1"}, allow_redirects=False
    )
    assert plain.status == 303 and plain.headers["Location"] == "/?as=UALICE&c=C1"
