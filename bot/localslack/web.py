"""The local workspace as a web page: a clickable Slack stand-in over a running `SlackStub`.

`Workspace` reads the stub's state (users, channels, DMs, messages after updates, App Home
views, open modals, uploaded files) and what the bot sent back on response_urls, and keeps
what only the page needs on top of it: who each modal belongs to (by the trigger id that
opened it), ephemeral messages (from command replies, response_urls and
chat.postEphemeral), errors shown in a modal, options loaded for external selects, and what
each user has read. Everything a person does on the page goes to the real bot as the
Slack-signed request Slack would send (`SlackRequests`): slash commands typed in the box,
``block_actions`` for buttons and selects (with ``response_url``, ``trigger_id``,
``container`` and the message or view), ``view_submission`` with ``state.values`` built
from the modal's inputs, ``block_suggestion`` for external selects, and ``app_home_opened``
when the Home tab is opened.

`build_page_app` serves it with aiohttp: ``GET /`` renders the page on the server (Block
Kit to HTML in `bot.localslack.render`, all text escaped), a little JavaScript posts clicks
to ``/ui/...`` and polls ``/ui/version`` to redraw what changed. No front-end build chain.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from bot.clock import utcnow
from bot.localslack import render
from bot.localslack.assets import PAGE_CSS, PAGE_JS
from bot.localslack.limits import check_message, check_view
from bot.localslack.render import Viewer, esc
from bot.localslack.requests import Reply, SlackRequests
from bot.localslack.server import SlackStub

COMMANDS: tuple[str, ...] = ("/checkin", "/promise", "/trust")
HOME = "home"
DM = "dm"
SETTLE_QUIET = 0.3  # seconds without Web API activity: the bot is done with a request
SETTLE_LIMIT = 5.0
MAX_PENDING = 200


@dataclass
class Ephemeral:
    """A message only one user sees (``user`` None: an in-channel reply everyone sees)."""

    ts: str
    channel: str
    user: str | None
    text: str
    blocks: list[Any]
    at: datetime
    author: str = "trustloop"


P = ParamSpec("P")
R = TypeVar("R")


def _one_at_a_time(
    method: Callable[Concatenate[Workspace, P], Awaitable[R]],
) -> Callable[Concatenate[Workspace, P], Awaitable[R]]:
    """Run a page action only after the one before it is done."""

    @functools.wraps(method)
    async def serialized(self: Workspace, *args: P.args, **kwargs: P.kwargs) -> R:
        async with self._busy:
            return await method(self, *args, **kwargs)

    return serialized


@dataclass(frozen=True)
class _Origin:
    """Where a response_url was handed out: who acted, where, on which message."""

    user: str
    channel: str
    ephemeral_ts: str | None = None
    message_ts: str | None = None


@dataclass(frozen=True)
class Person:
    """A workspace member as the page lists them."""

    user_id: str
    name: str
    real_name: str
    tz: str


@dataclass
class Workspace:
    """The page's view of the local workspace, and the requests a person's clicks send."""

    stub: SlackStub
    slack: SlackRequests
    clock: Callable[[], datetime] = utcnow
    default_user: str | None = None
    default_channel: str | None = None
    tour: Sequence[str] = ()
    commands: Sequence[str] = COMMANDS
    quiet: float = SETTLE_QUIET
    ephemerals: list[Ephemeral] = field(default_factory=list)
    modals: dict[str, list[str]] = field(default_factory=dict)  # user -> view ids, top last
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # view id -> block errors
    external: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    revision: int = 0
    _tokens: dict[str, _Origin] = field(default_factory=dict)
    _triggers: dict[str, str] = field(default_factory=dict)
    _pending_views: list[Any] = field(default_factory=list)
    _pending_responses: list[Any] = field(default_factory=list)
    _cursor: list[int] = field(default_factory=lambda: [0, 0, 0])
    _seen: dict[tuple[str, str], datetime] = field(default_factory=dict)
    _read: dict[tuple[str, str], int] = field(default_factory=dict)
    # One action at a time, as one person at a keyboard: which trigger id and response_url
    # a request carried is read back from `slack` right after it is sent.
    _busy: asyncio.Lock = field(default_factory=asyncio.Lock)

    # --- who and where -----------------------------------------------------------------

    def people(self) -> list[Person]:
        """The workspace's human members."""
        return [
            Person(u.id, u.name, u.real_name, u.tz)
            for u in self.stub.users()
            if not u.is_bot and not u.deleted
        ]

    def person(self, user_id: str | None) -> Person:
        """A member by id (the default user, or the first member, when unknown)."""
        people = self.people()
        if not people:
            raise LookupError("the workspace has no members")
        by_id = {p.user_id: p for p in people}
        return by_id.get(user_id or "") or by_id.get(self.default_user or "") or people[0]

    def channels_of(self, user_id: str) -> list[tuple[str, str]]:
        """(id, name) of the channels ``user_id`` is in (not DMs)."""
        return [
            (c.id, c.name)
            for c in self.stub.conversations()
            if not (c.is_im or c.is_mpim) and user_id in c.members
        ]

    def viewer(self, user_id: str) -> Viewer:
        """How blocks are rendered for ``user_id``: their timezone, names they see."""
        person = self.person(user_id)
        return Viewer(
            user_id=person.user_id,
            tz=person.tz,
            now=self.clock(),
            users={u.id: u.name for u in self.stub.users()},
            channels={c.id: c.name for c in self.stub.conversations() if not c.is_im},
            people={p.user_id: p.name for p in self.people()},
        )

    def resolve(self, user_id: str, conversation: str | None) -> str:
        """A conversation id from the page's ``c`` parameter (``home``, ``dm`` or an id)."""
        if conversation == HOME:
            return HOME
        if conversation in (None, "", DM):
            if conversation == DM:
                return self.stub.dm_channel_for(user_id)
            channels = self.channels_of(user_id)
            wanted = self.default_channel
            if wanted and any(cid == wanted for cid, _ in channels):
                return wanted
            return channels[0][0] if channels else self.stub.dm_channel_for(user_id)
        visible = {cid for cid, _ in self.channels_of(user_id)}
        visible.add(self.stub.dm_channel_for(user_id))
        if conversation in visible:
            return conversation
        return self.resolve(user_id, None)

    # --- reading the stub --------------------------------------------------------------

    def activity(self) -> tuple[int, int, int]:
        """How much the bot has done so far: Web API calls, response_url posts, ephemerals."""
        return len(self.stub.calls), len(self.stub.responses), len(self.stub.ephemerals)

    def version(self) -> str:
        """Changes whenever anything on the page may have changed."""
        calls, responses, ephemerals = self.activity()
        return f"{calls}.{responses}.{ephemerals}.{self.revision}"

    def sync(self) -> None:
        """Take in what the bot did since the last sync: modals, response_urls, ephemerals."""
        # The stub's records only grow (unless a test clears them: start over then).
        self._cursor = [min(c, n) for c, n in zip(self._cursor, self.activity(), strict=True)]
        calls = self.stub.calls[self._cursor[0] :]
        responses = self.stub.responses[self._cursor[1] :]
        ephemerals = self.stub.ephemerals[self._cursor[2] :]
        self._cursor = [
            self._cursor[0] + len(calls),
            self._cursor[1] + len(responses),
            self._cursor[2] + len(ephemerals),
        ]
        self._pending_views = self._apply_views(
            [*self._pending_views, *(c for c in calls if c.method in ("views.open", "views.push"))]
        )
        self._pending_responses = self._apply_responses([*self._pending_responses, *responses])
        for record in ephemerals:
            self.ephemerals.append(
                Ephemeral(
                    ts=str(record["ts"]),
                    channel=str(record["channel"]),
                    user=str(record["user"]),
                    text=str(record.get("text") or ""),
                    blocks=list(record.get("blocks") or []),
                    at=self.clock(),
                )
            )
        now = self.clock()
        for conv in self.stub.conversations():
            for message in self.stub.messages(conv.id):
                self._seen.setdefault((conv.id, str(message["ts"])), now)

    def _apply_views(self, calls: Iterable[Any]) -> list[Any]:
        """Put opened and pushed modals on their user's stack; keep those not yet placed."""
        waiting = []
        for call in calls:
            if call.response.get("ok") is not True:
                continue
            user = self._triggers.get(str(call.args.get("trigger_id") or ""))
            if user is None:
                waiting.append(call)
                continue
            view_id = str(call.response["view"]["id"])
            stack = self.modals.setdefault(user, [])
            if call.method == "views.open":
                for old in stack:
                    self.stub.open_views.pop(old, None)
                stack[:] = [view_id]
            else:
                stack.append(view_id)
        return waiting[-MAX_PENDING:]

    def _apply_responses(self, responses: Iterable[Any]) -> list[Any]:
        """Apply what the bot posted to response_urls this page handed out."""
        waiting = []
        for response in responses:
            origin = self._tokens.get(response.url_token)
            if origin is None:
                waiting.append(response)
                continue
            body = response.body
            target = self._ephemeral(origin.ephemeral_ts) if origin.ephemeral_ts else None
            if body.get("delete_original"):
                if target is not None:
                    self.ephemerals.remove(target)
                continue
            if body.get("replace_original") and target is not None:
                target.text = str(body.get("text") or "")
                target.blocks = list(body.get("blocks") or [])
                continue
            in_channel = body.get("response_type") == "in_channel"
            self._add_ephemeral(origin.channel, None if in_channel else origin.user, body)
        return waiting[-MAX_PENDING:]

    def _ephemeral(self, ts: str | None) -> Ephemeral | None:
        return next((e for e in self.ephemerals if e.ts == ts), None)

    def _add_ephemeral(
        self, channel: str, user: str | None, body: Mapping[str, Any], author: str = "trustloop"
    ) -> Ephemeral:
        record = Ephemeral(
            ts=self.stub.new_ts(),
            channel=channel,
            user=user,
            text=str(body.get("text") or ""),
            blocks=list(body.get("blocks") or []),
            at=self.clock(),
            author=author,
        )
        self.ephemerals.append(record)
        self.revision += 1
        return record

    def messages_for(self, user_id: str, channel: str) -> list[dict[str, Any]]:
        """What ``user_id`` sees in ``channel``: its messages and their ephemerals, in order."""
        self.sync()
        shown: list[dict[str, Any]] = []
        for message in self.stub.messages(channel):
            at = self._seen.get((channel, str(message["ts"])), self.clock())
            shown.append({**message, "channel": channel, "at": at, "author": "trustloop"})
        for e in self.ephemerals:
            if e.channel == channel and e.user in (None, user_id):
                shown.append(
                    {
                        "ts": e.ts,
                        "text": e.text,
                        "blocks": e.blocks,
                        "channel": channel,
                        "at": e.at,
                        "author": e.author,
                        "ephemeral": e.user is not None,
                    }
                )
        shown.sort(key=lambda m: float(m["ts"]))
        return shown

    def unread(self, user_id: str, channel: str) -> int:
        """How many messages in ``channel`` ``user_id`` has not looked at yet."""
        return max(
            0, len(self.messages_for(user_id, channel)) - self._read.get((user_id, channel), 0)
        )

    def mark_read(self, user_id: str, channel: str) -> None:
        """``user_id`` has looked at everything in ``channel``."""
        self._read[(user_id, channel)] = len(self.messages_for(user_id, channel))

    def modal_of(self, user_id: str) -> dict[str, Any] | None:
        """The modal on top of ``user_id``'s stack, if one is open."""
        stack = self.modals.get(user_id) or []
        while stack and stack[-1] not in self.stub.open_views:
            stack.pop()
        return self.stub.open_views.get(stack[-1]) if stack else None

    def home_of(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view published for ``user_id``, if any."""
        return self.stub.home_views.get(user_id)

    # --- waiting for the bot -------------------------------------------------------------

    async def settle(self, *, limit: float = SETTLE_LIMIT) -> None:
        """Wait until the bot has made no Web API call for `quiet` seconds (at most ``limit``)."""
        quiet = self.quiet
        loop = asyncio.get_running_loop()
        start = loop.time()
        last, since = self.activity(), start
        while loop.time() - start < limit:
            await asyncio.sleep(0.05)
            now = self.activity()
            if now != last:
                last, since = now, loop.time()
            elif loop.time() - since >= quiet:
                break
        self.sync()

    def _sent(self, user_id: str, origin: _Origin | None = None) -> None:
        """Remember whose trigger id and response_url the last request carried."""
        if self.slack.last_trigger_id:
            self._triggers[self.slack.last_trigger_id] = user_id
        if origin is not None and self.slack.last_response_url:
            self._tokens[self.slack.last_response_url.rsplit("/", 1)[-1]] = origin

    def _note(self, user_id: str, channel: str, text: str, author: str = "Slackbot") -> None:
        self._add_ephemeral(channel, user_id, {"text": text}, author=author)

    def _reply_trouble(self, reply: Reply) -> str | None:
        if reply.status != 200:
            return f"trustloop did not answer as expected (HTTP {reply.status})."
        return None

    # --- what people do ------------------------------------------------------------------

    @_one_at_a_time
    async def command(self, user_id: str, channel: str, line: str) -> None:
        """``user_id`` types ``line`` in ``channel``'s message box; slash commands go to the bot."""
        person = self.person(user_id)
        line = line.strip()
        if not line:
            return
        if not line.startswith("/"):
            self._note(
                person.user_id,
                channel,
                "Here you talk to trustloop with slash commands: try `/trust help`, "
                "`/checkin <account>` or `/promise <account> <what> by <when>`.",
            )
            return
        name, _, text = line.partition(" ")
        if name not in self.commands:
            self._note(person.user_id, channel, f"`{name}` is not a valid command.")
            return
        conv = next((c for c in self.stub.conversations() if c.id == channel), None)
        channel_name = "directmessage" if conv is None or conv.is_im else conv.name
        self.sync()
        origin = _Origin(user=person.user_id, channel=channel)
        reply = await self.slack.command(
            name,
            self.escape_command_text(text.strip()),
            user_id=person.user_id,
            channel_id=channel,
            channel_name=channel_name,
            user_name=person.name,
        )
        self._sent(person.user_id, origin)
        trouble = self._reply_trouble(reply)
        if trouble:
            self._note(person.user_id, channel, trouble)
        else:
            body = _json(reply)
            if body.get("text") or body.get("blocks"):
                self.stub.violations.extend(f"command reply: {p}" for p in check_message(body))
                in_channel = body.get("response_type") == "in_channel"
                self._add_ephemeral(channel, None if in_channel else person.user_id, body)
        await self.settle()

    def escape_command_text(self, text: str) -> str:
        """Command text as Slack sends it with ``should_escape``: &, <, > escaped; @name,
        #channel, @here turned into ``<@U…|name>``, ``<#C…|name>``, ``<!here>``."""
        users = {u.name.lower(): u for u in self.stub.users() if not u.deleted}
        channels = {c.name.lower(): c for c in self.stub.conversations() if not c.is_im}
        words = []
        for word in text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split(" "):
            core = word.rstrip(".,;:!?)")
            tail = word[len(core) :]
            if core.startswith("@") and core[1:].lower() in users:
                user = users[core[1:].lower()]
                word = f"<@{user.id}|{user.name}>{tail}"
            elif core.lower() in ("@here", "@channel", "@everyone"):
                word = f"<!{core[1:].lower()}>{tail}"
            elif core.startswith("#") and core[1:].lower() in channels:
                chan = channels[core[1:].lower()]
                word = f"<#{chan.id}|{chan.name}>{tail}"
            words.append(word)
        return " ".join(words)

    @_one_at_a_time
    async def click(
        self,
        user_id: str,
        *,
        block_id: str,
        action_id: str,
        value: str | None = None,
        kind: str = "button",
        channel: str | None = None,
        ts: str | None = None,
        view_id: str | None = None,
        selected: str | None = None,
    ) -> None:
        """``user_id`` clicks (or picks in) an element of a message or a view."""
        person = self.person(user_id)
        self.sync()
        if view_id:
            view = self._view(person.user_id, view_id)
            if view is None:
                return
            picked = _selection(kind, selected, action_id, view.get("blocks") or [])
            await self.slack.click(
                user_id=person.user_id,
                action_id=action_id,
                value=value,
                block_id=block_id,
                view=view,
                selected=picked,
                action_type=kind,
            )
            self._sent(person.user_id)
        elif channel and ts:
            message, ephemeral = self._message(person.user_id, channel, ts)
            if message is None:
                return
            picked = _selection(kind, selected, action_id, message.get("blocks") or [])
            origin = _Origin(
                user=person.user_id,
                channel=channel,
                ephemeral_ts=ts if ephemeral else None,
                message_ts=None if ephemeral else ts,
            )
            reply = await self.slack.click(
                user_id=person.user_id,
                action_id=action_id,
                value=value,
                block_id=block_id,
                message=message,
                channel_id=channel,
                selected=picked,
                action_type=kind,
                ephemeral=ephemeral,
            )
            self._sent(person.user_id, origin)
            trouble = self._reply_trouble(reply)
            if trouble:
                self._note(person.user_id, channel, trouble)
        else:
            return
        await self.settle()

    def _view(self, user_id: str, view_id: str) -> dict[str, Any] | None:
        """A view ``user_id`` can see: their App Home or a modal on their stack."""
        home = self.home_of(user_id)
        if home is not None and home["id"] == view_id:
            return dict(home)
        if view_id in (self.modals.get(user_id) or []):
            view = self.stub.open_views.get(view_id)
            return dict(view) if view is not None else None
        return None

    def _message(self, user_id: str, channel: str, ts: str) -> tuple[dict[str, Any] | None, bool]:
        """The message ``ts`` in ``channel`` as ``user_id`` sees it, and whether it is ephemeral."""
        for message in self.messages_for(user_id, channel):
            if message["ts"] == ts:
                clean = {k: v for k, v in message.items() if k not in ("at", "author", "ephemeral")}
                return clean, bool(message.get("ephemeral"))
        return None, False

    @_one_at_a_time
    async def submit(self, user_id: str, view_id: str, form: Mapping[str, Sequence[str]]) -> None:
        """``user_id`` presses a modal's submit button with what they filled in."""
        person = self.person(user_id)
        self.sync()
        view = self._view(person.user_id, view_id)
        if view is None or view.get("type") != "modal":
            return
        values = render.form_state(
            view.get("blocks") or [], form, external=self.external.get(view_id)
        )
        self.stub.open_views[view_id]["state"] = {"values": values}
        self.errors.pop(view_id, None)
        reply = await self.slack.submit(user_id=person.user_id, view=view, values=values)
        self._sent(person.user_id)
        self.revision += 1
        stack = self.modals.setdefault(person.user_id, [])
        if reply.status != 200:
            self.errors[view_id] = {"": "We had some trouble connecting. Try again?"}
            return
        body = _json(reply)
        action = body.get("response_action")
        new_view = body.get("view") if isinstance(body.get("view"), dict) else None
        if action == "errors":
            self.errors[view_id] = {str(k): str(v) for k, v in (body.get("errors") or {}).items()}
        elif action == "update" and new_view is not None:
            self._checked(new_view)
            self.stub.open_views[view_id] = self._answered_view(view, new_view, view_id)
            self.external.pop(view_id, None)
        elif action == "push" and new_view is not None:
            self._checked(new_view)
            pushed = f"V{secrets.token_hex(5).upper()}"
            self.stub.open_views[pushed] = self._answered_view(view, new_view, pushed)
            stack.append(pushed)
        elif action == "clear":
            self._close(person.user_id, everything=True)
        else:
            self._close(person.user_id, view_id=view_id)
        await self.settle()

    def _checked(self, view: dict[str, Any]) -> None:
        """Hold views answered in a response_action to Slack's limits too."""
        self.stub.violations.extend(f"view_submission response: {p}" for p in check_view(view))

    def _answered_view(
        self, base: Mapping[str, Any], view: Mapping[str, Any], view_id: str
    ) -> dict[str, Any]:
        """The view Slack keeps after a response_action update (same id) or push (new id)."""
        return self.stub.view_object(
            view,
            view_id,
            root_view_id=base.get("root_view_id") or view_id,
            previous_view_id=base.get("id") if base.get("id") != view_id else None,
        )

    def _close(self, user_id: str, *, view_id: str | None = None, everything: bool = False) -> None:
        stack = self.modals.setdefault(user_id, [])
        while stack:
            top = stack.pop()
            self.stub.open_views.pop(top, None)
            self.errors.pop(top, None)
            self.external.pop(top, None)
            if not everything and (view_id is None or top == view_id):
                break
        self.revision += 1

    def close(self, user_id: str, view_id: str) -> None:
        """``user_id`` closes the modal on top (Cancel or ×); the one below shows again."""
        person = self.person(user_id)
        if view_id in (self.modals.get(person.user_id) or []):
            self._close(person.user_id, view_id=view_id)

    @_one_at_a_time
    async def open_home(self, user_id: str) -> None:
        """``user_id`` opens trustloop's Home tab: Slack sends ``app_home_opened``."""
        person = self.person(user_id)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": person.user_id,
            "channel": self.stub.dm_channel_for(person.user_id),
            "tab": "home",
            "event_ts": f"{self.clock().timestamp():.6f}",
        }
        home = self.home_of(person.user_id)
        if home is not None:
            event["view"] = home
        await self.slack.event(event)
        await self.settle()

    def dismiss(self, user_id: str, ts: str) -> None:
        """``user_id`` dismisses one of their ephemeral messages."""
        target = self._ephemeral(ts)
        if target is not None and target.user == user_id:
            self.ephemerals.remove(target)
            self.revision += 1

    async def load_options(self, user_id: str) -> None:
        """Ask the bot for the options of the external selects in ``user_id``'s open modal."""
        view = self.modal_of(user_id)
        if view is None:
            return
        loaded = self.external.setdefault(view["id"], {})
        for block_id, action_id, element in render.input_elements(view.get("blocks") or []):
            key = f"{block_id}/{action_id}"
            if element.get("type") != "external_select" or key in loaded:
                continue
            reply = await self.slack.options(
                user_id=user_id, view=view, block_id=block_id, action_id=action_id
            )
            body = _json(reply) if reply.status == 200 else {}
            options = [o for o in body.get("options") or [] if isinstance(o, dict)]
            for group in body.get("option_groups") or []:
                options += [o for o in (group or {}).get("options") or [] if isinstance(o, dict)]
            loaded[key] = options


def _selection(
    kind: str, selected: str | None, action_id: str, blocks: Sequence[Any]
) -> dict[str, Any] | None:
    """What Slack puts in the action for a select or date picker (None for a button)."""
    if kind == "button" or selected is None:
        return None
    if kind == "datepicker":
        return {"selected_date": selected}
    if kind == "users_select":
        return {"selected_user": selected}
    for block in blocks:
        if not isinstance(block, dict):
            continue
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                for option in render.select_options(element):
                    if str(option.get("value")) == selected:
                        return {"selected_option": dict(option)}
    return {"selected_option": {"value": selected}}


def _json(reply: Reply) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# --- the page ----------------------------------------------------------------------------


def _sig(html: str) -> str:
    return hashlib.sha1(html.encode()).hexdigest()[:12]


def _url(user_id: str, conversation: str) -> str:
    return "/?" + urlencode({"as": user_id, "c": conversation})


def _message_html(message: Mapping[str, Any], viewer: Viewer, workspace: Workspace) -> str:
    ephemeral = bool(message.get("ephemeral"))
    author = str(message.get("author") or "trustloop")
    at: datetime = message["at"]
    local = at.astimezone(viewer.zone)
    attrs = f'data-channel="{esc(message["channel"])}" data-ts="{esc(message["ts"])}"' + (
        ' data-ephemeral="1"' if ephemeral else ""
    )
    only = (
        '<span class="only-you">Only visible to you</span>'
        '<button type="button" class="dismiss" '
        f'data-dismiss="{esc(message["ts"])}">Dismiss</button>'
        if ephemeral
        else ""
    )
    edited = ' <span class="edited">(edited)</span>' if message.get("edited") else ""
    badge = '<span class="app-badge">APP</span>' if author == "trustloop" else ""
    return (
        f'<div class="msg{" ephemeral" if ephemeral else ""}" {attrs}>'
        f'<div class="avatar {esc(author.lower())}">{esc(author[:1].upper())}</div>'
        f'<div class="msg-body"><div class="msg-meta"><b>{esc(author)}</b>{badge}'
        f'<span class="time" title="{esc(at.isoformat())}">{local:%H:%M}</span>{edited}{only}</div>'
        f'<div class="msg-content">{render.message_html(message, viewer)}</div></div></div>'
    )


def _modal_html(workspace: Workspace, user_id: str, viewer: Viewer, back: str) -> str:
    view = workspace.modal_of(user_id)
    if view is None:
        return ""
    view_id = str(view["id"])
    errors = workspace.errors.get(view_id) or {}
    form = render.Form(
        values=((view.get("state") or {}).get("values") or {}),
        errors=errors,
        options=workspace.external.get(view_id) or {},
    )
    body = render.blocks_html(view.get("blocks") or [], viewer, form)
    general = errors.get("")
    if general:
        body = f'<div class="bk-error" role="alert">{esc(general)}</div>' + body
    title = render.text_html(view.get("title"), viewer)
    close = render.text_html(view.get("close"), viewer) or "Close"
    submit = (
        f'<button type="submit" class="bk-button primary modal-submit">'
        f"{render.text_html(view.get('submit'), viewer)}</button>"
        if view.get("submit")
        else ""
    )
    depth = len(workspace.modals.get(user_id) or [])
    back = '<span class="modal-depth">‹ </span>' if depth > 1 else ""
    return (
        '<div class="modal-backdrop">'
        f'<form class="modal" id="modal-form" method="post" action="/ui/submit" '
        f'data-view-id="{esc(view_id)}" data-callback-id="{esc(view.get("callback_id") or "")}">'
        f'<input type="hidden" name="as" value="{esc(user_id)}">'
        f'<input type="hidden" name="view_id" value="{esc(view_id)}">'
        f'<input type="hidden" name="back" value="{esc(back)}">'
        f'<div class="modal-title">{back}<span>{title}</span>'
        f'<button type="button" class="modal-x" data-close="{esc(view_id)}" '
        'aria-label="Close">×</button></div>'
        f'<div class="modal-body" data-view-id="{esc(view_id)}">{body}</div>'
        f'<div class="modal-footer"><button type="button" class="bk-button" '
        f'data-close="{esc(view_id)}">{close}</button>{submit}</div></form></div>'
    )


def _sidebar_html(workspace: Workspace, user_id: str, current: str) -> str:
    people = workspace.people()
    options = "".join(
        f'<option value="{esc(p.user_id)}"{" selected" if p.user_id == user_id else ""}>'
        f"@{esc(p.name)} — {esc(p.real_name)}</option>"
        for p in people
    )
    dm = workspace.stub.dm_channel_for(user_id)

    def nav(conv: str, label: str, href: str, element_id: str) -> str:
        unread = workspace.unread(user_id, conv) if conv != HOME and conv != current else 0
        badge = f'<span class="badge">{unread}</span>' if unread else ""
        active = " active" if conv == current else ""
        bold = " unread" if unread else ""
        return (
            f'<a class="nav{active}{bold}" id="{esc(element_id)}" href="{esc(href)}">'
            f"{label}{badge}</a>"
        )

    channels = "".join(
        nav(cid, f"# {esc(name)}", _url(user_id, cid), f"nav-{cid}")
        for cid, name in workspace.channels_of(user_id)
    )
    home_href = "/ui/open-home?" + urlencode({"as": user_id})
    return (
        f'<div class="ws-name">{esc(workspace.stub.team_name)}</div>'
        '<label class="as-user">Viewing as<select id="as-user">'
        f"{options}</select></label>"
        '<div class="nav-title">Apps</div>'
        + nav(HOME, "trustloop · Home", home_href, "nav-home")
        + nav(dm, "trustloop · Messages", _url(user_id, DM), "nav-dm")
        + '<div class="nav-title">Channels</div>'
        + channels
    )


def render_page(workspace: Workspace, user_id: str, conversation: str) -> str:
    """The whole page for ``user_id`` looking at ``conversation``."""
    workspace.sync()
    person = workspace.person(user_id)
    user_id = person.user_id
    viewer = workspace.viewer(user_id)
    dm = workspace.stub.dm_channel_for(user_id)
    if conversation == HOME:
        home = workspace.home_of(user_id)
        title = "trustloop · Home"
        body = (
            f'<div class="home" data-view-id="{esc(home["id"])}">'
            f"{render.blocks_html(home.get('blocks') or [], viewer)}</div>"
            if home is not None
            else '<p class="empty">trustloop has not published a Home tab for you yet.</p>'
        )
        where = dm
    else:
        names = dict(workspace.channels_of(user_id))
        title = f"# {names[conversation]}" if conversation in names else "trustloop · Messages"
        shown = workspace.messages_for(user_id, conversation)
        body = "".join(_message_html(m, viewer, workspace) for m in shown) or (
            '<p class="empty">No messages yet.</p>'
        )
        workspace.mark_read(user_id, conversation)
        where = conversation
    sidebar = _sidebar_html(workspace, user_id, conversation if conversation == HOME else where)
    modal = _modal_html(workspace, user_id, viewer, conversation)
    tour = ""
    if workspace.tour:
        items = "".join(f"<li>{render.mrkdwn_html(step, viewer)}</li>" for step in workspace.tour)
        tour = f'<details id="tour" open><summary>Guided tour</summary><ol>{items}</ol></details>'
    place = "the Home tab (sent in Messages)" if conversation == HOME else esc(title)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(workspace.stub.team_name)} · trustloop demo</title>"
        f"<style>{PAGE_CSS}</style></head>"
        f'<body data-version="{esc(workspace.version())}" data-user="{esc(user_id)}" '
        f'data-conv="{esc(conversation)}">'
        f'<div id="app"><aside id="sidebar" data-sig="{_sig(sidebar)}">{sidebar}</aside>'
        f'<main><header class="conv-header"><span id="conv-title">{esc(title)}</span>'
        f'<span class="who">as @{esc(person.name)} · {esc(person.tz)}</span></header>{tour}'
        f'<div id="messages" data-sig="{_sig(body)}">{body}</div>'
        '<form id="composer" method="post" action="/ui/command" autocomplete="off">'
        f'<input type="hidden" name="as" value="{esc(user_id)}">'
        f'<input type="hidden" name="c" value="{esc(where)}">'
        f'<input type="hidden" name="back" value="{esc(conversation)}">'
        f'<input id="composer-input" name="text" placeholder="Type a slash command as '
        f'@{esc(person.name)} in {place}: /checkin, /promise, /trust help">'
        '<button type="submit" class="bk-button primary">Send</button></form></main></div>'
        f'<div id="modal-layer" data-sig="{_sig(modal)}">{modal}</div>'
        f"<script>{PAGE_JS}</script></body></html>"
    )


# --- HTTP ------------------------------------------------------------------------------------


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _done(request: web.Request, workspace: Workspace, location: str) -> web.StreamResponse:
    """Answer a page action: JSON for the page's script, a redirect for a plain form post."""
    if _wants_json(request):
        return web.json_response({"ok": True, "version": workspace.version()})
    raise web.HTTPSeeOther(location)


@web.middleware
async def _local_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """Serve only pages asked for by this host's name, and posts from this page itself."""
    host = request.host.rsplit(":", 1)[0].strip("[]")
    if host not in ("127.0.0.1", "localhost", "::1"):
        return web.Response(status=403, text="the demo workspace answers on loopback only")
    origin = request.headers.get("Origin")
    if request.method == "POST" and origin and origin != f"{request.scheme}://{request.host}":
        return web.Response(status=403, text="cross-site request refused")
    response: web.StreamResponse = await handler(request)
    return response


def build_page_app(workspace: Workspace) -> web.Application:
    """The aiohttp application serving the workspace page and what its clicks post."""

    async def page(request: web.Request) -> web.Response:
        user = workspace.person(request.query.get("as")).user_id
        conversation = workspace.resolve(user, request.query.get("c"))
        await workspace.load_options(user)
        html = render_page(workspace, user, conversation)
        return web.Response(text=html, content_type="text/html", headers=_NO_STORE)

    async def version(_request: web.Request) -> web.Response:
        workspace.sync()
        return web.json_response({"version": workspace.version()}, headers=_NO_STORE)

    async def command(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        user = workspace.person(str(form.get("as") or "")).user_id
        channel = workspace.resolve(user, str(form.get("c") or ""))
        if channel == HOME:
            channel = workspace.stub.dm_channel_for(user)
        await workspace.command(user, channel, str(form.get("text") or ""))
        back = str(form.get("back") or channel)
        return _done(request, workspace, _url(user, back))

    async def action(request: web.Request) -> web.StreamResponse:
        form = await request.post()

        def get(key: str) -> str | None:
            value = form.get(key)
            return str(value) if value not in (None, "") else None

        user = workspace.person(get("as")).user_id
        await workspace.click(
            user,
            block_id=get("block_id") or "",
            action_id=get("action_id") or "",
            value=get("value"),
            kind=get("type") or "button",
            channel=get("channel"),
            ts=get("ts"),
            view_id=get("view_id"),
            selected=get("selected"),
        )
        return _done(request, workspace, _url(user, get("back") or ""))

    async def submit(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        user = workspace.person(str(form.get("as") or "")).user_id
        fields: dict[str, list[str]] = {}
        for key, value in form.items():
            if isinstance(value, str):
                fields.setdefault(key, []).append(value)
        await workspace.submit(user, str(form.get("view_id") or ""), fields)
        return _done(request, workspace, _url(user, str(form.get("back") or "")))

    async def close(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        user = workspace.person(str(form.get("as") or "")).user_id
        workspace.close(user, str(form.get("view_id") or ""))
        return _done(request, workspace, _url(user, str(form.get("back") or "")))

    async def dismiss(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        user = workspace.person(str(form.get("as") or "")).user_id
        workspace.dismiss(user, str(form.get("ts") or ""))
        return _done(request, workspace, _url(user, str(form.get("back") or "")))

    async def open_home(request: web.Request) -> web.StreamResponse:
        user = workspace.person(request.query.get("as")).user_id
        await workspace.open_home(user)
        raise web.HTTPSeeOther(_url(user, HOME))

    async def file(request: web.Request) -> web.Response:
        upload = workspace.stub.uploads.get(request.match_info["file_id"])
        if upload is None or upload.content is None:
            raise web.HTTPNotFound()
        kind = (
            "image/png" if upload.filename.lower().endswith(".png") else "application/octet-stream"
        )
        return web.Response(
            body=upload.content,
            content_type=kind,
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
        )

    app = web.Application(middlewares=[_local_only])
    app.router.add_get("/", page)
    app.router.add_get("/ui/version", version)
    app.router.add_get("/ui/open-home", open_home)
    app.router.add_post("/ui/command", command)
    app.router.add_post("/ui/action", action)
    app.router.add_post("/ui/submit", submit)
    app.router.add_post("/ui/close", close)
    app.router.add_post("/ui/dismiss", dismiss)
    app.router.add_get("/files/{file_id}", file)
    return app


_NO_STORE = {"Cache-Control": "no-store"}
