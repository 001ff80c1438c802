"""`trustloop demo`: the whole product offline, on a local stand-in for a Slack workspace.

The demo never contacts slack.com and never touches the user's database: it starts a
`SlackStub` (the local Slack Web API stand-in, the same one the tests use) with a six-person
team and #account-health, creates a fresh SQLite database in a temporary directory
(deleted when the demo ends), and runs the real bot exactly as `trustloop run` does in HTTP
mode (`build_app` + `HttpRunner` on 127.0.0.1, a random free port). Everything the bot is
asked to do arrives as Slack-signed HTTP requests (`SlackRequests`).

`trustloop demo` (`run_interactive`): the seeded sample company of `bot.sample_data` (30
accounts, twelve weeks) is written to that database for the six people, #account-health
is subscribed with `/trust digest here` and this week's digest is posted through the due
work of `trustloop tick`; then the workspace page (`bot.localslack.web`) is served on
127.0.0.1:PORT, the URL and a guided tour are printed, and the bot keeps its wall clock and
scheduler until SIGINT or SIGTERM. It never opens a browser.

`trustloop demo --script` (`run_script`): a scripted week on a clock that moves only when
the story moves it (`Services.run_due_work` is the code path of `trustloop tick`), printed
as a plain-text transcript of what each user saw, rendered from the Block Kit the bot sent
to the stand-in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from bot import ids
from bot.app import build_app
from bot.clock import utcnow
from bot.config import Settings
from bot.localslack.render import EMOJI
from bot.localslack.requests import Reply, SlackRequests
from bot.localslack.server import Call, SlackStub
from bot.localslack.web import Workspace, build_page_app
from bot.runner import EVENTS_PATH, HttpRunner
from bot.sample_data import SampleSummary, SampleUser, create_sample_database
from bot.scheduler import start_scheduler
from bot.services import Services, TickReport
from bot.slack import build_client
from storage.models import Account

TEAM_ID = "T0DEMO"
TEAM_NAME = "Northwind Demo"
CHANNEL_ID = "C0HEALTH"
CHANNEL_NAME = "account-health"
BOT_USER_ID = "UTRUSTLOOP"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
SETTLE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Person:
    """A member of the sample team."""

    user_id: str
    name: str
    real_name: str
    tz: str
    role: str


MAIJA = Person("UMAIJA", "maija", "Maija Virtanen", "Europe/Helsinki", "head of accounts")
OLIVER = Person("UOLIVER", "oliver", "Oliver Bennett", "Europe/London", "account manager")
DANA = Person("UDANA", "dana", "Dana Brooks", "America/New_York", "solutions engineer")
LEA = Person("ULEA", "lea", "Lea Nieminen", "Europe/Helsinki", "customer success")
PRIYA = Person("UPRIYA", "priya", "Priya Shah", "Europe/London", "support lead")
SAM = Person("USAM", "sam", "Sam Rivera", "America/Los_Angeles", "account executive")
TEAM: tuple[Person, ...] = (MAIJA, OLIVER, DANA, LEA, PRIYA, SAM)


def _m(person: Person) -> str:
    """A mention as Slack sends it in slash-command text (should_escape: true)."""
    return f"<@{person.user_id}|{person.name}>"


ACCOUNTS: tuple[str, ...] = (
    f'"Northwind Traders" tier A value 480k {_m(MAIJA)}',
    f"Acme Oy tier A value 250000 {_m(OLIVER)}",
    f"Globex tier B value 90k {_m(DANA)}",
    f"Initech tier B value 60,000 {_m(LEA)}",
    f"Umbrella Health tier C value 20k {_m(PRIYA)}",
    f"Hooli tier C {_m(SAM)}",
)


class DemoError(Exception):
    """The scripted story did not go as expected (the message says which step)."""


class FakeClock:
    """The bot's clock during the demo: it only moves when the story moves it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        """The current (story) instant."""
        return self.now


# --- rendering Block Kit as text -----------------------------------------------------------

_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]*)(?:\|([^>]*))?>")
_EMOJI = {f":{code}:": symbol for code, symbol in EMOJI.items()}


def render_text(text: str, names: Mapping[str, str] | None = None) -> str:
    """Slack mrkdwn as a reader sees it: dates by fallback, mentions by name, unescaped."""
    known = names or {}
    text = _DATE.sub(lambda m: m.group(1), text)
    text = _USER.sub(lambda m: "@" + (known.get(m.group(1)) or m.group(2) or m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    for code, symbol in _EMOJI.items():
        text = text.replace(code, symbol)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_of(obj: Any, names: Mapping[str, str] | None) -> str:
    """The text of a text object (plain_text or mrkdwn)."""
    if isinstance(obj, dict):
        return render_text(str(obj.get("text") or ""), names)
    return ""


def _element(element: Any, names: Mapping[str, str] | None) -> str:
    """One interactive element as text: buttons in brackets, inputs as placeholders."""
    if not isinstance(element, dict):
        return ""
    kind = element.get("type")
    if kind == "button":
        return f"[{_text_of(element.get('text'), names)}]"
    if kind in ("mrkdwn", "plain_text"):
        return _text_of(element, names)
    if kind == "radio_buttons":
        return "  ".join(f"( ) {_text_of(o.get('text'), names)}" for o in element["options"])
    if kind == "checkboxes":
        return "  ".join(f"[ ] {_text_of(o.get('text'), names)}" for o in element["options"])
    if kind == "datepicker":
        return f"[📅 {element.get('initial_date') or 'pick a date'}]"
    if kind == "plain_text_input":
        return "[______________]"
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    placeholder = _text_of(element.get("placeholder"), names)
    initial = element.get("initial_option")
    if isinstance(initial, dict):
        placeholder = _text_of(initial.get("text"), names)
    return f"[{placeholder or 'choose'} ▾]"


def render_blocks(blocks: Sequence[Any], names: Mapping[str, str] | None = None) -> str:
    """Block Kit blocks as plain text lines, roughly as Slack lays them out."""
    lines: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {_text_of(block.get('text'), names)} ==")
        elif kind == "section":
            text = _text_of(block.get("text"), names)
            section = text.splitlines() or [""]
            for f in block.get("fields") or []:
                section.append(_text_of(f, names))
            accessory = block.get("accessory")
            if accessory:
                section[-1] = f"{section[-1]}  {_element(accessory, names)}".strip()
            lines.extend(section)
        elif kind == "context":
            parts = [_element(e, names) for e in block.get("elements") or []]
            lines.extend("  " + line for line in " · ".join(parts).splitlines())
        elif kind == "actions":
            lines.append(" ".join(_element(e, names) for e in block.get("elements") or []))
        elif kind == "divider":
            lines.append("-" * 24)
        elif kind == "input":
            label = _text_of(block.get("label"), names)
            optional = " (optional)" if block.get("optional") else ""
            lines.append(f"{label}{optional}: {_element(block.get('element'), names)}")
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
    return "\n".join(lines)


def render_view(view: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """A modal or Home tab as text: title, blocks, then its submit and close buttons."""
    lines = []
    if view.get("title"):
        lines.append(f"┌ {_text_of(view.get('title'), names)} ┐")
    lines.append(render_blocks(view.get("blocks") or [], names))
    buttons = [_text_of(view.get(k), names) for k in ("submit", "close") if view.get(k)]
    if buttons:
        lines.append(" ".join(f"[{b}]" for b in buttons))
    return "\n".join(lines)


def _message_text(body: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """A message body (blocks, or text when there are none) as text."""
    blocks = body.get("blocks")
    if isinstance(blocks, list) and blocks:
        return render_blocks(blocks, names)
    return render_text(str(body.get("text") or ""), names)


# --- the running demo ------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoResult:
    """Where a demo ran and what the local Slack stand-in served."""

    bot_url: str
    api_url: str
    database_url: str
    web_api_calls: int
    violations: list[str] = field(default_factory=list)


@dataclass
class Demo:
    """The running stand-in, database and bot, plus the story that drives them."""

    stub: SlackStub
    svc: Services
    clock: FakeClock
    slack: SlackRequests
    bot_url: str
    database_url: str
    out: TextIO = sys.stdout
    names: dict[str, str] = field(default_factory=dict)
    _baseline: set[asyncio.Task[Any]] = field(default_factory=set)
    _seen_modals: set[str] = field(default_factory=set)

    # --- output ---------------------------------------------------------------------------

    def say(self, text: str = "", indent: int = 0) -> None:
        """Write lines to the transcript."""
        pad = " " * indent
        for line in text.splitlines() or [""]:
            self.out.write((pad + line).rstrip() + "\n")

    def show(self, title: str, body: str) -> None:
        """A titled, indented piece of what someone saw."""
        self.say(f"→ {title}", 2)
        self.say(body, 6)

    def when(self) -> str:
        """The story time, as a short UTC label."""
        return self.clock.now.strftime("%a %H:%M UTC")

    def step(self, who: Person | None, what: str) -> None:
        """Start a step: the time, who, and what they do."""
        actor = f"{who.name} " if who else ""
        self.say()
        self.say(f"[{self.when()}] {actor}{what}")

    def at(self, days: int, hour: int, minute: int) -> None:
        """Move the story clock to a day after START and a UTC time."""
        self.clock.now = START.replace(hour=hour, minute=minute) + timedelta(days=days)

    # --- waiting until the bot is done ----------------------------------------------------

    def _activity(self) -> tuple[int, int, int]:
        return len(self.stub.calls), len(self.stub.responses), len(self.stub.ephemerals)

    async def settle(self, until: Callable[[], bool] | None = None) -> None:
        """Wait until `until` holds and the bot has finished the work it does after acking."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT
        me = asyncio.current_task()
        last, quiet = self._activity(), 0
        while quiet < 3:
            if loop.time() > deadline:
                raise DemoError(f"the bot did not finish the step at {self.when()} in time")
            await asyncio.sleep(0.01)
            busy = any(
                t is not me and t not in self._baseline and not t.done()
                for t in asyncio.all_tasks()
            )
            now = self._activity()
            done = until is None or until()
            quiet = quiet + 1 if (not busy and now == last and done) else 0
            last = now

    # --- what the stand-in saw --------------------------------------------------------------

    def _owner_of(self, channel: str) -> str:
        for uid, name in self.names.items():
            if channel == f"D{uid[1:]}":
                return f"{name}'s DM with trustloop"
        return f"#{CHANNEL_NAME}" if channel == CHANNEL_ID else channel

    def report(
        self,
        marks: tuple[int, int, int],
        actor: Person | None,
        reply: Reply | None = None,
        *,
        show_home: bool = False,
    ) -> None:
        """Print everything users saw since `marks`: the HTTP answer, API calls, responses."""
        if reply is not None:
            self._report_reply(reply, actor)
        responses = self.stub.responses[marks[1] :]
        for r in responses:
            if r.body.get("delete_original"):
                self.say("→ the message with the buttons disappears", 2)
        for call in self.stub.calls[marks[0] :]:
            self._report_call(call, actor, show_home)
        for e in self.stub.ephemerals[marks[2] :]:
            who = self.names.get(str(e.get("user")), "?")
            self.show(f"only {who} sees (ephemeral):", _message_text(e, self.names))
        for r in responses:
            if r.body.get("delete_original"):
                continue
            who = actor.name if actor else "the user"
            verb = "message replaced" if r.body.get("replace_original") else "only " + who + " sees"
            self.show(f"{verb} (ephemeral):", _message_text(r.body, self.names))

    def _report_reply(self, reply: Reply, actor: Person | None) -> None:
        if reply.status != 200:
            self.say(f"→ the bot answered HTTP {reply.status}", 2)
            return
        try:
            body = reply.json()
        except ValueError:
            body = {"text": reply.text}
        if not isinstance(body, dict) or not body:
            return
        who = actor.name if actor else "the user"
        action = body.get("response_action")
        if action == "errors":
            errors = "\n".join(f"{k}: {v}" for k, v in (body.get("errors") or {}).items())
            self.show("the modal stays open and shows:", errors)
        elif action == "update":
            self.show("the modal changes to:", render_view(body.get("view") or {}, self.names))
        elif action == "clear":
            self.say("→ the modal closes", 2)
        elif body.get("text") or body.get("blocks"):
            self.show(f"only {who} sees (ephemeral):", _message_text(body, self.names))

    def _report_call(self, call: Call, actor: Person | None, show_home: bool) -> None:
        args, method = call.args, call.method
        if call.response.get("ok") is not True:
            if method not in ("users.info",):
                self.say(f"→ (Slack answered {method}: {call.response.get('error')})", 2)
            return
        if method == "chat.postMessage":
            where = self._owner_of(str(call.response.get("channel") or args.get("channel")))
            self.show(f"new message in {where}:", _message_text(args, self.names))
        elif method == "chat.update":
            where = self._owner_of(str(args.get("channel")))
            self.show(f"message in {where} updated in place:", _message_text(args, self.names))
        elif method == "chat.postEphemeral":
            who = self.names.get(str(args.get("user")), "?")
            self.show(f"only {who} sees (ephemeral):", _message_text(args, self.names))
        elif method == "files.completeUploadExternal" and args.get("channel_id"):
            where = self._owner_of(str(args.get("channel_id")))
            titles = ", ".join(str(f.get("title")) for f in call.response.get("files") or [])
            comment = render_text(str(args.get("initial_comment") or ""), self.names)
            self.show(f"an image is posted in {where}:", f"[image: {titles}]\n{comment}")
        elif method in ("views.open", "views.push", "views.update"):
            view = args.get("view") or {}
            who = actor.name if actor else "the user"
            key = str(view.get("callback_id") or "")
            if key and key in self._seen_modals:
                first = render_blocks((view.get("blocks") or [])[:1], self.names)
                title = _text_of(view.get("title"), self.names)
                self.show(f"a modal opens for {who} (“{title}”, as above):", first)
            else:
                self._seen_modals.add(key)
                self.show(f"a modal opens for {who}:", render_view(view, self.names))
        elif method == "views.publish":
            who = self.names.get(str(args.get("user_id")), "?")
            if show_home:
                self.show(
                    f"{who}'s App Home tab shows:", render_view(args.get("view") or {}, self.names)
                )
            else:
                self.say(f"→ {who}'s App Home tab is refreshed in the background", 2)

    # --- driving the bot --------------------------------------------------------------------

    async def command(
        self, who: Person, command: str, text: str, *, until: Callable[[], bool] | None = None
    ) -> Reply:
        """`who` types a slash command in #account-health."""
        self.step(who, f"types in #{CHANNEL_NAME}: {command} {render_text(text, self.names)}")
        marks = self._activity()
        reply = await self.slack.command(
            command,
            text,
            user_id=who.user_id,
            channel_id=CHANNEL_ID,
            channel_name=CHANNEL_NAME,
            user_name=who.name,
        )
        await self.settle(until)
        self.report(marks, who, reply, show_home=True)
        return reply

    async def click(
        self,
        who: Person,
        label: str,
        *,
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        where: str,
        until: Callable[[], bool] | None = None,
        after: str | None = None,
        ephemeral: bool = False,
    ) -> None:
        """`who` clicks the button whose text starts with `label` in a message or view.

        `after`: the first such button below the section whose text contains it.
        `ephemeral`: the message is one only `who` sees (a command's answer).
        """
        source = message if message is not None else view
        assert source is not None
        element, block_id = _button(source.get("blocks") or [], label, after=after)
        self.step(who, f"clicks [{_text_of(element.get('text'), None)}] {where}")
        marks = self._activity()
        reply = await self.slack.click(
            user_id=who.user_id,
            action_id=str(element["action_id"]),
            value=element.get("value"),
            block_id=block_id,
            message=message,
            view=view,
            ephemeral=ephemeral,
        )
        await self.settle(until)
        self.report(marks, who, reply, show_home=view is not None)

    async def submit(
        self, who: Person, view: dict[str, Any], values: dict[str, Any], what: str
    ) -> None:
        """`who` fills in a modal and presses its submit button."""
        self.step(who, what)
        marks = self._activity()
        reply = await self.slack.submit(user_id=who.user_id, view=view, values=values)
        await self.settle()
        if reply.status == 200 and not reply.text.strip():
            self.say("→ the modal closes: the answer is stored", 2)
        self.report(marks, who, reply)

    async def open_home(self, who: Person) -> None:
        """`who` opens the bot's App Home tab (Slack sends app_home_opened)."""
        self.step(who, "opens the trustloop App Home tab")
        marks = self._activity()
        reply = await self.slack.event(
            {"type": "app_home_opened", "user": who.user_id, "channel": "D0HOME", "tab": "home"}
        )
        await self.settle(lambda: len(self.stub.calls_to("views.publish")) > 0)
        self.report(marks, who, reply, show_home=True)

    async def tick(self, why: str, note: str = "") -> TickReport:
        """Run the time-based work due at the story's current instant, like `trustloop tick`."""
        self.step(None, f"trustloop tick — {why}")
        local = ", ".join(
            f"{p.name} {self.clock.now.astimezone(ZoneInfo(p.tz)):%H:%M}"
            for p in (MAIJA, OLIVER, DANA, SAM)
        )
        self.say(f"(local time: {local}; reminders wait for 08:00-21:00 local)", 2)
        marks = self._activity()
        report = await self.svc.run_due_work(self.clock.now)
        await self.settle()
        self.say(f"→ {report}", 2)
        if note:
            self.say(f"({note})", 2)
        self.report(marks, None)
        return report

    def dm(self, who: Person) -> dict[str, Any]:
        """The latest message in `who`'s DM with the bot (as a click target)."""
        channel = self.stub.dm_channel_for(who.user_id)
        messages = self.stub.messages(channel)
        if not messages:
            raise DemoError(f"{who.name} has no DM from trustloop at {self.when()}")
        return {**messages[-1], "channel": channel}

    def last_modal(self) -> dict[str, Any]:
        """The view of the most recent views.open."""
        opened = self.stub.calls_to("views.open")
        if not opened:
            raise DemoError(f"no modal was opened by {self.when()}")
        view = opened[-1].response["view"]
        assert isinstance(view, dict)
        return view

    def _dms(self, n: int) -> Callable[[], bool]:
        before = len(self.stub.calls_to("chat.postMessage"))
        return lambda: len(self.stub.calls_to("chat.postMessage")) >= before + n

    # --- the story ------------------------------------------------------------------------------

    async def play(self) -> None:
        """The scripted story, from the first command to expiries three days later."""
        self._baseline = set(asyncio.all_tasks())
        self.intro()

        self.chapter("1. Setting up: help and the accounts")
        self.at(0, 9, 0)
        await self.command(MAIJA, "/trust", "help")
        for i, text in enumerate(ACCOUNTS):
            self.at(0, 9, 2 + i)
            await self.command(MAIJA, "/trust", f"account add {text}", until=self._responses(1))

        self.chapter("2. Priya is off for the rest of the week")
        self.at(0, 9, 10)
        await self.command(PRIYA, "/trust", "away until friday", until=self._responses(1))

        self.chapter("3. Oliver logs a QBR with Acme Oy; Maija and Dana get check-ins")
        self.at(0, 9, 20)
        await self.command(
            OLIVER,
            "/checkin",
            f"Acme Oy qbr {_m(MAIJA)} {_m(DANA)} Renewal talk: SSO fix first & a 5% discount",
            until=self._dms(2),
        )
        self.at(0, 9, 21)
        await self.submit(
            OLIVER, self.last_modal(), _rating(4), "picks “4 · good” in his own modal and saves"
        )

        self.at(0, 9, 25)
        maija_dm = self.dm(MAIJA)
        await self.click(
            MAIJA,
            "5",
            message=maija_dm,
            where="in her DM",
            until=lambda: bool(self.stub.calls_to("chat.update")),
        )
        await self.click(
            MAIJA,
            "2",
            message=maija_dm,
            where="on the same message a moment later (a double click)",
            until=self._responses(1),
        )

        self.chapter("4. Dana logs a call with Globex; Priya is away")
        self.at(0, 9, 30)
        await self.command(
            DANA,
            "/checkin",
            f"Globex call {_m(SAM)} {_m(PRIYA)} Escalation about late invoices",
            until=self._dms(1),
        )
        self.say("(dana closes her own check-in modal without answering)", 2)
        self.at(0, 9, 32)
        await self.click(
            DANA,
            "Add details",
            message=self.dm(DANA),
            where="on the Acme Oy check-in in her DM",
            until=lambda: bool(self.stub.calls_to("views.open")),
        )
        self.at(0, 9, 34)
        await self.submit(
            DANA,
            self.last_modal(),
            _details(
                2,
                direction="worse",
                stage="calculative",
                concern="They won't sign <until the SSO fix ships> & legal is slow",
            ),
            "rates 2, direction worse, stage calculative, writes a concern, and saves",
        )

        self.chapter("5. Lea mistypes an account name")
        self.at(0, 9, 40)
        reply = await self.command(
            LEA, "/checkin", f"Northwnd meeting {_m(OLIVER)} Steering group; new CFO joined"
        )
        # /checkin acks at once; the suggestions arrive on the command's response_url
        token = (self.slack.last_response_url or "").rsplit("/", 1)[-1]
        answer = reply.json() or next(r.body for r in self.stub.responses if r.url_token == token)
        suggestion = {"ts": "1700000000.000001", "channel": CHANNEL_ID, **answer}
        self.at(0, 9, 41)
        await self.click(
            LEA,
            "Use Northwind",
            message=suggestion,
            where="under the suggestion",
            until=self._dms(1),
        )
        self.at(0, 9, 42)
        await self.submit(LEA, self.last_modal(), _rating(3), "picks “3 · steady” and saves")
        self.at(0, 9, 45)
        await self.click(
            OLIVER,
            "Skip",
            message=self.dm(OLIVER),
            where="on the Northwind Traders check-in in his DM",
            until=lambda: len(self.stub.calls_to("chat.update")) >= 3,
        )

        self.chapter("6. Sam looks at the App Home (and never answers)")
        self.at(0, 11, 0)
        await self.open_home(SAM)

        self.chapter("7. Time passes: reminders respect quiet hours, then check-ins expire")
        self.at(0, 13, 30)
        await self.tick(
            "4 hours after the check-ins were sent",
            "sam's reminder waits: it is 05:30 in Los Angeles",
        )
        await self.tick("the same instant again: nothing is done twice")
        self.at(0, 16, 30)
        await self.tick("morning in Los Angeles")
        self.at(3, 10, 0)
        await self.tick(
            "Thursday, three days later",
            "sam's check-in and its reminder both show the outcome; no buttons are left",
        )
        self.at(3, 10, 5)
        await self.open_home(SAM)

        self.chapter("8. Promises: logged, kept and renegotiated")
        self.at(3, 10, 10)
        await self.command(
            OLIVER,
            "/promise",
            "Acme Oy send the SSO fix timeline by tomorrow",
            until=self._responses(1),
        )
        self.at(3, 10, 11)
        await self.command(
            OLIVER,
            "/promise",
            "Acme Oy the 5% discount offer in writing by next week",
            until=self._responses(1),
        )
        self.at(3, 10, 12)
        await self.command(
            DANA,
            "/promise",
            f"Globex a credit note for the late invoices by monday {_m(SAM)}",
            until=self._all(self._dms(1), self._responses(1)),
        )
        self.at(3, 10, 15)
        reply = await self.command(OLIVER, "/promise", "list mine", until=self._responses(1))
        listing = {"ts": "1700000000.000002", "channel": CHANNEL_ID, **self.answer(reply)}
        self.at(3, 10, 16)
        await self.click(
            OLIVER,
            "Kept",
            message=listing,
            where="on “send the SSO fix timeline” in the list",
            after="SSO fix timeline",
            ephemeral=True,
            until=self._responses(1),
        )
        self.at(3, 10, 17)
        await self.click(
            OLIVER,
            "Renegotiate",
            message=listing,
            where="on “the 5% discount offer” in the list",
            after="discount offer",
            ephemeral=True,
            until=self._opened(1),
        )
        self.at(3, 10, 18)
        await self.submit(
            OLIVER,
            self.last_modal(),
            _renegotiated("2026-12-04", told=True),
            "picks Friday 4 December, says the customer agreed, and saves",
        )

        self.chapter("9. Monday: the weekly digest and a promise reminder, through tick")
        self.at(7, 6, 50)
        await self.command(MAIJA, "/trust", "digest here", until=self._responses(1))
        self.at(7, 7, 0)
        await self.tick(
            "Monday 09:00 in Helsinki: #account-health's digest is due",
            "one digest per channel and week: later ticks this week post nothing",
        )
        self.at(7, 17, 0)
        await self.tick("Monday 09:00 in Los Angeles: sam's promise is due today")
        self.at(7, 17, 5)
        await self.click(
            SAM,
            "Broken",
            message=self.dm(SAM),
            where="on the reminder in his DM",
            until=lambda: len(self.stub.calls_to("chat.update")) > 0,
        )
        self.outro()

    def answer(self, reply: Reply) -> dict[str, Any]:
        """A command's answer: the ack's body, or what followed on its response_url."""
        token = (self.slack.last_response_url or "").rsplit("/", 1)[-1]
        body = reply.json()
        if body:
            return dict(body)
        posted = [r.body for r in self.stub.responses if r.url_token == token]
        if not posted:
            raise DemoError(f"no answer to the command at {self.when()}")
        return dict(posted[-1])

    def _opened(self, n: int) -> Callable[[], bool]:
        before = len(self.stub.calls_to("views.open"))
        return lambda: len(self.stub.calls_to("views.open")) >= before + n

    @staticmethod
    def _all(*checks: Callable[[], bool]) -> Callable[[], bool]:
        return lambda: all(check() for check in checks)

    def _responses(self, n: int) -> Callable[[], bool]:
        before = len(self.stub.responses)
        return lambda: len(self.stub.responses) >= before + n

    def chapter(self, title: str) -> None:
        """A chapter heading in the transcript."""
        self.say()
        self.say(f"━━ {title} ━━")

    def intro(self) -> None:
        """Who is in the sample workspace, and how the demo runs."""
        self.say("trustloop demo — the whole product offline, on a local stand-in for Slack")
        self.say(f"Workspace “{TEAM_NAME}” with #{CHANNEL_NAME} and six people:")
        for p in TEAM:
            local = START.astimezone(ZoneInfo(p.tz))
            self.say(f"@{p.name:<7} {p.real_name:<15} {p.role:<19} {p.tz} ({local:%H:%M})", 2)
        self.say(
            f"The story starts {START:%A %Y-%m-%d %H:%M} UTC; the bot's clock moves only "
            "when the story moves it."
        )
        self.say("Every request below is a Slack-signed HTTP request to the real bot.")

    def outro(self) -> None:
        """What the demo showed, in numbers."""
        self.say()
        self.say("━━ Done ━━")
        self.say(
            f"The local Slack stand-in served {len(self.stub.calls)} Web API calls; "
            "nothing was sent to slack.com."
        )


def _button(
    blocks: Sequence[Any], label: str, *, after: str | None = None
) -> tuple[dict[str, Any], str]:
    """The first button whose text starts with `label` (below a section naming `after`)."""
    found = after is None
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if not found:
            found = str(after) in str((block.get("text") or {}).get("text", ""))
            continue
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if (
                isinstance(element, dict)
                and element.get("type") == "button"
                and str((element.get("text") or {}).get("text", "")).startswith(label)
            ):
                return element, str(block.get("block_id") or "b")
    raise DemoError(f"no button starting with {label!r}" + (f" after {after!r}" if after else ""))


def _rating(n: int) -> dict[str, Any]:
    """Modal state with a rating picked."""
    return {
        "rating": {"rating_input": {"type": "radio_buttons", "selected_option": {"value": str(n)}}}
    }


def _details(rating: int, *, direction: str, stage: str, concern: str) -> dict[str, Any]:
    """Modal state with every check-in detail filled in."""
    return {
        **_rating(rating),
        "direction": {
            "direction_input": {"type": "radio_buttons", "selected_option": {"value": direction}}
        },
        "stage": {"stage_input": {"type": "static_select", "selected_option": {"value": stage}}},
        "concern": {"concern_input": {"type": "plain_text_input", "value": concern}},
    }


def _renegotiated(day: str, *, told: bool) -> dict[str, Any]:
    """Renegotiate modal state: the new date and whether the customer was told."""
    return {
        ids.DUE_BLOCK: {ids.DUE_INPUT: {"type": "datepicker", "selected_date": day}},
        ids.TOLD_BLOCK: {
            ids.TOLD_INPUT: {
                "type": "radio_buttons",
                "selected_option": {"value": "yes" if told else "no"},
            }
        },
    }


def build_stub(token: str) -> SlackStub:
    """The local Slack stand-in with the sample team and #account-health."""
    stub = SlackStub(
        bot_token=token,
        team_id=TEAM_ID,
        bot_user_id=BOT_USER_ID,
        team_name=TEAM_NAME,
        team_domain="northwind-demo",
    )
    for p in TEAM:
        stub.add_user(p.user_id, name=p.name, real_name=p.real_name, tz=p.tz, is_admin=p is MAIJA)
    stub.add_channel(
        CHANNEL_ID, name=CHANNEL_NAME, members=[BOT_USER_ID, *(p.user_id for p in TEAM)]
    )
    return stub


@asynccontextmanager
async def open_demo(out: TextIO) -> AsyncIterator[Demo]:
    """Start the stand-in, a fresh database and the real bot; stop them in reverse order."""
    from storage import db  # here, so that Alembic's import-time logging is silenced too

    token = "xoxb-demo-" + secrets.token_hex(8)
    signing_secret = secrets.token_hex(16)
    stub = build_stub(token)
    await stub.start()
    try:
        with tempfile.TemporaryDirectory(prefix="trustloop-demo-") as tmp:
            database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'trustloop-demo.db'}"
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                slack_bot_token=token,  # type: ignore[arg-type]
                slack_signing_secret=signing_secret,  # type: ignore[arg-type]
                slack_app_token=None,
                slack_api_url=stub.api_url,
                database_url=database_url,
                host="127.0.0.1",
                port=3000,
                checkin_reminder_hours=4.0,
                checkin_expiry_hours=72.0,
                quiet_hours_start=21,
                quiet_hours_end=8,
                default_timezone="UTC",
                log_level="WARNING",
            )
            engine = db.create_engine(database_url)
            try:
                await db.upgrade(engine)
                clock = FakeClock()
                svc = Services(
                    engine=engine,
                    client=build_client(token, stub.api_url, timeout=5),
                    settings=settings,
                    clock=clock,
                )
                app = build_app(svc, signing_secret=signing_secret)
                runner = HttpRunner(app, engine, host="127.0.0.1", port=0)
                await runner.start()
                try:
                    port = int(runner.runner.addresses[0][1])
                    bot_url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
                    requests = SlackRequests(
                        bot_url=bot_url,
                        signing_secret=signing_secret,
                        stub=stub,
                        team_id=TEAM_ID,
                        team_domain="northwind-demo",
                    )
                    yield Demo(
                        stub=stub,
                        svc=svc,
                        clock=clock,
                        slack=requests,
                        bot_url=bot_url,
                        database_url=database_url,
                        out=out,
                        names={p.user_id: p.name for p in TEAM} | {BOT_USER_ID: "trustloop"},
                    )
                finally:
                    await runner.close()
            finally:
                await engine.dispose()
    finally:
        await stub.stop()


async def run_script(out: TextIO) -> DemoResult:
    """Play the scripted story once, writing the transcript to `out`; stop everything."""
    async with open_demo(out) as demo:
        await demo.play()
        result = DemoResult(
            bot_url=demo.bot_url,
            api_url=demo.stub.api_url,
            database_url=demo.database_url,
            web_api_calls=len(demo.stub.calls),
            violations=list(demo.stub.violations),
        )
    return result


# --- the live workspace: `trustloop demo` ---------------------------------------------------

SAMPLE_ACCOUNTS = 30
SAMPLE_WEEKS = 12
SAMPLE_SEED = 2026


def sample_team() -> list[SampleUser]:
    """The demo's six people as the sample-data generator's users (Maija is the admin)."""
    return [SampleUser(p.user_id, p.name, p.real_name, p.tz, is_admin=p is MAIJA) for p in TEAM]


@dataclass(frozen=True)
class TourAccounts:
    """Sample accounts the guided tour names: one for /checkin, one for /promise."""

    checkin: str
    promise: str


def pick_tour_accounts(accounts: Sequence[Account]) -> TourAccounts:
    """Oliver's biggest accounts with plain names (easy to type), tier A first."""
    plain = [a for a in accounts if a.name.isascii() and a.name.replace(" ", "").isalnum()]
    pool = plain or list(accounts)
    if not pool:
        raise DemoError("the sample data has no accounts")
    ranked = sorted(
        pool,
        key=lambda a: (a.owner_id != OLIVER.user_id, a.tier, -(a.yearly_value or 0), a.id),
    )
    second = ranked[1] if len(ranked) > 1 else ranked[0]
    return TourAccounts(checkin=ranked[0].name, promise=second.name)


def tour_steps(picks: TourAccounts) -> list[str]:
    """What to click first, in Slack mrkdwn (the page renders it; the terminal strips it)."""
    return [
        f"*#{CHANNEL_NAME}* shows this week's digest: the accounts most at risk, and why.",
        "Pick *@oliver* under “Viewing as”, then type "
        f'`/checkin "{picks.checkin}" call @dana Renewal talk` and press Enter: your own '
        "check-in opens; pick a rating and *Save*.",
        "Switch to *@dana*: *trustloop · Messages* has the check-in Oliver asked for. "
        "Click a rating; the message changes in place.",
        "Open *trustloop · Home*: pending check-ins, open promises with their buttons, "
        "your accounts and their health.",
        f'Then try `/promise "{picks.promise}" send the pricing sheet by friday`, '
        f'`/promise list mine`, `/trust accounts`, `/trust account "{picks.checkin}"` '
        "or `/trust help`.",
    ]


def _terminal(step: str) -> str:
    """A tour step for the terminal: no mrkdwn markers."""
    return step.replace("*", "").replace("`", "")


@dataclass
class LiveDemo:
    """The running workspace page, Slack stand-in, bot and sample database."""

    url: str
    bot_url: str
    api_url: str
    database_url: str
    workspace: Workspace
    svc: Services
    summary: SampleSummary
    picks: TourAccounts
    digest_posted: bool


def _settings(token: str, secret: str, api_url: str, database_url: str) -> Settings:
    """The bot's settings in the demo: built here, never read from the environment."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=token,  # type: ignore[arg-type]
        slack_signing_secret=secret,  # type: ignore[arg-type]
        slack_app_token=None,
        slack_api_url=api_url,
        database_url=database_url,
        host="127.0.0.1",
        port=3000,
        log_level="WARNING",
    )


async def post_first_digest(workspace: Workspace, svc: Services) -> bool:
    """Maija subscribes #account-health; due work (the `tick` path) posts this week's digest."""
    await workspace.command(MAIJA.user_id, CHANNEL_ID, "/trust digest here")
    report = await svc.run_due_work(svc.now())
    if not report.digests:
        # Early on a Monday, before 09:00 in Helsinki, this week's digest is not due yet:
        # subscribe for the current minute instead, so that the demo shows one.
        local = svc.now().astimezone(ZoneInfo(MAIJA.tz))
        when = f"{local:%A} {local:%H:%M}".lower()
        await workspace.command(MAIJA.user_id, CHANNEL_ID, f"/trust digest here {when}")
        report = await svc.run_due_work(svc.now())
    await workspace.settle()
    return report.digests > 0


@asynccontextmanager
async def open_live_demo(
    *,
    port: int,
    accounts: int = SAMPLE_ACCOUNTS,
    weeks: int = SAMPLE_WEEKS,
    seed: int = SAMPLE_SEED,
) -> AsyncIterator[LiveDemo]:
    """Sample data, the stand-in, the real bot and the page on 127.0.0.1:`port`; all stopped after.

    The bot keeps the wall clock and its scheduler, as `trustloop run` does; this week's
    digest is posted to #account-health before the page is handed over.
    """
    from storage import db  # here, so that Alembic's import-time logging is silenced too

    _check_port(port)  # before the sample data is generated: say so at once
    token = "xoxb-demo-" + secrets.token_hex(8)
    signing_secret = secrets.token_hex(16)
    stub = build_stub(token)
    await stub.start()
    try:
        with tempfile.TemporaryDirectory(prefix="trustloop-demo-") as tmp:
            database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'trustloop-demo.db'}"
            settings = _settings(token, signing_secret, stub.api_url, database_url)
            summary = await create_sample_database(
                database_url,
                team_id=TEAM_ID,
                accounts=accounts,
                weeks=weeks,
                seed=seed,
                now=utcnow(),
                users=sample_team(),
            )
            engine = db.create_engine(database_url)
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                    svc = Services(
                        engine=engine,
                        client=build_client(token, stub.api_url, timeout=10, session=http),
                        settings=settings,
                    )
                    async with _serving(svc, stub, signing_secret, port) as (workspace, url):
                        posted = await post_first_digest(workspace, svc)
                        scheduler = start_scheduler(
                            svc, interval_seconds=settings.tick_interval_seconds
                        )
                        try:
                            yield LiveDemo(
                                url=url,
                                bot_url=workspace.slack.bot_url,
                                api_url=stub.api_url,
                                database_url=database_url,
                                workspace=workspace,
                                svc=svc,
                                summary=summary,
                                picks=pick_tour_accounts(await svc.accounts(team_id=TEAM_ID)),
                                digest_posted=posted,
                            )
                        finally:
                            await scheduler.close()
            finally:
                await engine.dispose()
    finally:
        await stub.stop()


def _port_taken(port: int, reason: str | None) -> DemoError:
    return DemoError(f"port {port} on 127.0.0.1 is taken ({reason}); set PORT to a free port")


def _check_port(port: int) -> None:
    """Fail early when the page's port is taken (the page binds it for real later)."""
    if not port:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise _port_taken(port, exc.strerror) from None


@asynccontextmanager
async def _serving(
    svc: Services, stub: SlackStub, signing_secret: str, port: int
) -> AsyncIterator[tuple[Workspace, str]]:
    """The bot on a free loopback port and the workspace page on `port`."""
    app = build_app(svc, signing_secret=signing_secret)
    runner = HttpRunner(app, svc.engine, host="127.0.0.1", port=0)
    await runner.start()
    page = None
    try:
        bot_url = f"http://127.0.0.1:{runner.runner.addresses[0][1]}{EVENTS_PATH}"
        slack = SlackRequests(
            bot_url=bot_url,
            signing_secret=signing_secret,
            stub=stub,
            team_id=TEAM_ID,
            team_domain="northwind-demo",
        )
        picks = pick_tour_accounts(await svc.accounts(team_id=TEAM_ID))
        workspace = Workspace(
            stub=stub,
            slack=slack,
            clock=svc.now,
            default_user=MAIJA.user_id,
            default_channel=CHANNEL_ID,
            tour=tour_steps(picks),
        )
        page = web.AppRunner(build_page_app(workspace), access_log=None)
        await page.setup()
        try:
            await web.TCPSite(page, "127.0.0.1", port).start()
        except OSError as exc:
            raise _port_taken(port, exc.strerror) from None
        yield workspace, f"http://127.0.0.1:{page.addresses[0][1]}/"
    finally:
        if page is not None:
            await page.cleanup()
        await runner.close()


def _intro(out: TextIO, live: LiveDemo) -> None:
    """The terminal's welcome: the URL, what the workspace holds, what to click first."""
    s = live.summary
    lines = [
        "trustloop demo — the whole product offline, in a local Slack workspace you can click",
        "",
        f"  Open {live.url} in your browser.",
        "",
        f"Workspace “{TEAM_NAME}”: {s.accounts} sample accounts across tiers A/B/C, a team of "
        f"six and {SAMPLE_WEEKS} weeks of history ({s.interactions} interactions, "
        f"{s.checkins} check-ins, {s.promises} promises), generated by bot/sample_data.py into "
        "a temporary SQLite file that is deleted when the demo stops.",
        (
            f"This week's digest is posted in #{CHANNEL_NAME}."
            if live.digest_posted
            else f"#{CHANNEL_NAME} is subscribed to the weekly digest."
        ),
        "",
        "What to click first:",
        *(f"  {n}. {_terminal(step)}" for n, step in enumerate(live.workspace.tour, 1)),
        "",
        "Nothing goes to slack.com: the real bot runs unchanged in HTTP mode at "
        f"{live.bot_url}, against the local Slack stand-in at {live.api_url}.",
        "Press Ctrl-C to stop.",
    ]
    for line in lines:
        out.write(line + "\n")
    out.flush()


async def run_interactive(out: TextIO, *, port: int, stop: asyncio.Event | None = None) -> None:
    """`trustloop demo`: serve the workspace page on 127.0.0.1:`port` until SIGINT/SIGTERM.

    Never opens a browser. `stop` (for tests) ends it like a signal does.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with open_live_demo(port=port) as live:
            _intro(out, live)
            await stop.wait()
            out.write("Stopping…\n")
            out.flush()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def run_demo(settings: Settings, *, script: bool, out: TextIO | None = None) -> int:
    """`trustloop demo [--script]`: run the offline demo; returns the exit code."""
    stream = out or sys.stdout
    previous = logging.root.manager.disable
    # Errors only: no JSON log noise (e.g. Bolt warns that SLACK_BOT_TOKEN from the
    # environment is unused, which is true and intended here).
    logging.disable(logging.WARNING)
    try:
        if script:
            asyncio.run(run_script(stream))
        else:
            asyncio.run(run_interactive(stream, port=settings.port))
    except DemoError as exc:
        print(f"trustloop demo: {exc}", file=sys.stderr)
        return 1
    finally:
        logging.disable(previous)
        stream.flush()
    return 0


__all__ = [
    "Demo",
    "DemoResult",
    "LiveDemo",
    "open_demo",
    "open_live_demo",
    "render_blocks",
    "render_text",
    "render_view",
    "run_demo",
    "run_interactive",
    "run_script",
]
