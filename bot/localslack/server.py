"""A local stand-in for the Slack Web API, served over real HTTP by aiohttp.

`SlackStub` answers the subset of Web API methods trustloop uses with Slack's response
shapes and error codes, records every call, can inject failures (``ok: false``, HTTP 429
with ``Retry-After``, HTTP 5xx) and checks Block Kit payloads against Slack's limits.
It also serves ``response_url`` endpoints and external file-upload URLs.

Socket Mode: ``apps.connections.open`` (app-level ``xapp-`` token only) hands out a
``ws://`` URL served by the stub. On connect the stub sends Slack's ``hello`` message;
``socket_send`` then delivers an envelope (``slash_commands``, ``interactive`` or
``events_api``) to the connected app and waits for its acknowledgement, and
``socket_disconnect`` asks the app to reconnect, as Slack does before it recycles a link.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import WSCloseCode, WSMsgType, web

from bot.clock import utcnow
from bot.localslack.limits import check_message, check_view
from bot.localslack.ratelimit import RateLimiter

TRIGGER_TTL_SECONDS = 3.0
SOCKET_ACK_TIMEOUT_SECONDS = 5.0
SOCKET_ENVELOPE_TYPES = ("slash_commands", "interactive", "events_api")
_JSON_FIELDS = ("blocks", "attachments", "view", "files")


@dataclass(frozen=True)
class Call:
    """One recorded Web API call: method, decoded arguments, response body and HTTP status."""

    method: str
    args: dict[str, Any]
    response: dict[str, Any]
    status: int


@dataclass(frozen=True)
class ResponseCall:
    """One JSON body POSTed to a response_url issued by the stub."""

    url_token: str
    body: dict[str, Any]


@dataclass
class _Fault:
    """An injected failure waiting to be served for a method."""

    kind: str  # "error" | "ratelimit" | "server" | "timeout" | "drop"
    times: int
    error: str = ""
    retry_after: int = 1
    status: int = 500
    seconds: float = 0.0  # "timeout": how long to hold the request at most
    processed: bool = False  # "timeout" / "drop": carry the call out first


@dataclass
class _User:
    """A user known to the stub."""

    id: str
    name: str
    tz: str
    is_bot: bool
    deleted: bool
    is_admin: bool
    real_name: str
    email: str | None = None


@dataclass
class _Channel:
    """A conversation known to the stub (public/private channel, IM or MPIM)."""

    id: str
    name: str
    members: list[str]
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    im_user: str | None = None


@dataclass
class _Upload:
    """A file reserved with files.getUploadURLExternal."""

    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class SlackError(Exception):
    """Raised by method handlers to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _tz_info(tz: str) -> tuple[str, int]:
    """Return (tz_label, tz_offset seconds) for an IANA zone name at the current instant."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return tz, 0
    local: datetime = utcnow().astimezone(zone)
    offset = local.utcoffset()
    return local.tzname() or tz, int(offset.total_seconds()) if offset else 0


class SlackStub:
    """A fake Slack Web API server with Slack's shapes, errors and rate-limit behaviour."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_id: str = "B0001",
        app_id: str = "A0001",
        team_name: str = "Example",
        team_domain: str = "example",
        bot_name: str = "trustloop",
        clock: Callable[[], float] = time.monotonic,
        app_token: str = "xapp-test",
        rate_limits: RateLimiter | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_name = bot_name
        self._clock = clock
        self.rate_limiter: RateLimiter | None = None  # Slack's rate limits: off unless set
        if rate_limits is not None:
            self.enable_rate_limits(rate_limits)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._ids = itertools.count(1)
        self._ts_counter = itertools.count(100, 100)

        self.calls: list[Call] = []
        self.responses: list[ResponseCall] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.home_views: dict[str, dict[str, Any]] = {}
        self.open_views: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, _Upload] = {}

        self._users: dict[str, _User] = {}
        self._channels: dict[str, _Channel] = {}
        self._dms: dict[str, str] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._triggers: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        self._response_tokens: set[str] = set()
        self._home_owner: dict[str, str] = {}  # home view id -> user id

        # Socket Mode
        self.socket_connected = asyncio.Event()
        self.socket_acks: list[dict[str, Any]] = []
        self.socket_connection_count = 0
        self._socket_tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._envelopes: dict[str, dict[str, Any]] = {}
        self._pending_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}

        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }
        self.add_user(bot_user_id, name=bot_name, is_bot=True, real_name=bot_name)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on 127.0.0.1 with a random free port."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{token}", self._handle_response_url)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_get("/socket/{ticket}", self._handle_socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])

    async def stop(self) -> None:
        """Stop the server (closing Socket Mode connections first)."""
        await self._close_sockets()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackStub:
        """Start the stub when entering an ``async with`` block."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop the stub when leaving an ``async with`` block."""
        await self.stop()

    @property
    def base_url(self) -> str:
        """Root URL of the running server, without trailing slash."""
        if self._port is None:
            raise RuntimeError("SlackStub is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """Web API base URL (with trailing slash) for ``AsyncWebClient(base_url=...)``."""
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ fixtures

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        tz: str = "UTC",
        is_bot: bool = False,
        deleted: bool = False,
        is_admin: bool = False,
        real_name: str | None = None,
        email: str | None = None,
    ) -> None:
        """Register (or replace) a workspace user."""
        uname = name or user_id.lower()
        self._users[user_id] = _User(
            id=user_id,
            name=uname,
            tz=tz,
            is_bot=is_bot,
            deleted=deleted,
            is_admin=is_admin,
            real_name=real_name if real_name is not None else uname,
            email=email,
        )

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str,
        members: list[str] | None = None,
        is_private: bool = False,
    ) -> None:
        """Register a channel; the bot is a member when its user id is in ``members``."""
        self._channels[channel_id] = _Channel(
            id=channel_id, name=name, members=list(members or []), is_private=is_private
        )

    def dm_channel_for(self, user_id: str) -> str:
        """Return the id of the DM between the bot and ``user_id`` (creating it)."""
        if user_id not in self._dms:
            dm_id = f"D{user_id[1:] or user_id}"
            self._dms[user_id] = dm_id
            self._channels[dm_id] = _Channel(
                id=dm_id,
                name=dm_id,
                members=[self.bot_user_id, user_id],
                is_im=True,
                im_user=user_id,
            )
        return self._dms[user_id]

    # ------------------------------------------------------------------ fault injection

    def _add_fault(self, method: str, fault: _Fault) -> None:
        """Queue an injected fault for ``method``."""
        self._faults.setdefault(method, deque()).append(fault)

    def fail_next(self, method: str, *, error: str, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` answer HTTP 200 ``ok: false``."""
        self._add_fault(method, _Fault(kind="error", times=times, error=error))

    def enable_rate_limits(self, limiter: RateLimiter | None = None) -> RateLimiter:
        """Enforce Slack's rate limits from now on (HTTP 429 with Retry-After past them)."""
        limiter = limiter or RateLimiter(clock=self._clock)
        limiter.channel_key = self._rate_channel
        self.rate_limiter = limiter
        return limiter

    def _rate_channel(self, channel: str) -> str:
        """The conversation a post counts against: a user id counts as the DM with them."""
        if channel in self._dms:
            return self._dms[channel]
        user = self._users.get(channel)
        if user is not None and not user.is_bot and channel not in self._channels:
            return self.dm_channel_for(channel)  # the DM a post to this user id lands in
        return channel

    def rate_limit_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` answer HTTP 429 with Retry-After."""
        self._add_fault(method, _Fault(kind="ratelimit", times=times, retry_after=retry_after))

    def server_error_next(self, method: str, *, status: int = 500, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` answer with an HTTP 5xx status."""
        self._add_fault(method, _Fault(kind="server", times=times, status=status))

    def timeout_next(
        self, method: str, *, seconds: float = 30.0, processed: bool = False, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``method`` hang until the client gives up.

        The stub holds the request (at most ``seconds``) and never answers it. With
        ``processed`` the call is carried out first, as when Slack posted a message but its
        answer never arrived; otherwise it has no effect.
        """
        self._add_fault(
            method, _Fault(kind="timeout", times=times, seconds=seconds, processed=processed)
        )

    def drop_connection_next(self, method: str, *, processed: bool = False, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` close the connection without an answer.

        With ``processed`` the call is carried out before the connection drops.
        """
        self._add_fault(method, _Fault(kind="drop", times=times, processed=processed))

    async def _serve_fault(
        self, request: web.Request, method: str, args: dict[str, Any], fault: _Fault
    ) -> web.Response | None:
        """Answer a hang or a dropped connection (None: the fault is answered as usual)."""
        if fault.kind not in ("timeout", "drop"):
            return None
        if fault.processed:
            await self._carry_out(request, method, args)
        outcome = "timeout" if fault.kind == "timeout" else "connection_dropped"
        self.calls.append(
            Call(method=method, args=args, response={"ok": False, "error": outcome}, status=0)
        )
        if fault.kind == "timeout":
            # Hold the request until the client hangs up (or `seconds` pass): no answer.
            deadline = time.monotonic() + fault.seconds
            while time.monotonic() < deadline:
                if request.transport is None or request.transport.is_closing():
                    break
                await asyncio.sleep(0.02)
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=504)  # never reaches the client

    async def _carry_out(self, request: web.Request, method: str, args: dict[str, Any]) -> None:
        """Do what a call asks (for faults that strike after Slack has done it)."""
        if method == "upload":
            upload = self.uploads.get(request.match_info.get("file_id", ""))
            if upload is not None:
                upload.content = await request.read()
            return
        handler = self._handlers.get(method)
        if handler is not None:
            with contextlib.suppress(SlackError):
                handler(args)

    def _take_fault(self, method: str) -> _Fault | None:
        """Pop one use of the next queued fault for ``method``, if any."""
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    # ------------------------------------------------------------------ triggers & urls

    def issue_trigger_id(self) -> str:
        """Issue a fresh trigger id, valid for one views.open/push within 3 seconds."""
        n = next(self._ids)
        trigger = f"{1000000 + n}.{self.team_id[1:] or '1'}.{secrets.token_hex(16)}"
        self._triggers[trigger] = self._clock()
        return trigger

    def new_response_url(self) -> str:
        """Issue a response_url served by this stub."""
        token = secrets.token_urlsafe(12)
        self._response_tokens.add(token)
        return f"{self.base_url}/response/{token}"

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str, *, all: bool = False) -> list[Call]:
        """Recorded calls of ``method``; only successful ones unless ``all`` is true."""
        return [
            c for c in self.calls if c.method == method and (all or c.response.get("ok") is True)
        ]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Current messages (after updates) in a channel or DM; a user id means their DM."""
        if channel in self._users and channel not in self._channels:
            channel = self.dm_channel_for(channel)
        return [{**m, "blocks": m.get("blocks", [])} for m in self._messages.get(channel, [])]

    def users(self) -> list[_User]:
        """Every user the stub knows (bots and deactivated ones too), in the order added."""
        return list(self._users.values())

    def conversations(self) -> list[_Channel]:
        """Every conversation the stub knows: channels, DMs and group DMs."""
        return list(self._channels.values())

    def new_ts(self) -> str:
        """A fresh message timestamp, later than every one handed out so far."""
        return self._next_ts()

    def clear(self) -> None:
        """Forget recorded calls, responses, ephemerals, violations and pending faults."""
        self.calls.clear()
        self.responses.clear()
        self.ephemerals.clear()
        self.violations.clear()
        self._faults.clear()
        self.socket_acks.clear()

    # ------------------------------------------------------------------ Socket Mode

    @property
    def socket_connections(self) -> int:
        """Number of currently open Socket Mode connections."""
        return len([ws for ws in self._sockets if not ws.closed])

    async def socket_send(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        ack_timeout: float = SOCKET_ACK_TIMEOUT_SECONDS,
    ) -> dict[str, Any]:
        """Deliver one envelope to the connected app and return its acknowledgement.

        ``envelope_type`` is ``slash_commands``, ``interactive`` or ``events_api``.
        ``accepts_response_payload`` defaults to what Slack sends: true for slash commands
        and interactivity, false for Events API envelopes (which also carry
        ``retry_attempt``/``retry_reason``). Raises ``TimeoutError`` when no ack arrives
        within ``ack_timeout`` seconds and ``RuntimeError`` when no app is connected.
        """
        if envelope_type not in SOCKET_ENVELOPE_TYPES:
            raise ValueError(f"envelope type must be one of {SOCKET_ENVELOPE_TYPES}")
        if accepts_response_payload is None:
            accepts_response_payload = envelope_type != "events_api"
        ws = self._live_socket()
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if envelope_type == "events_api":
            envelope["retry_attempt"] = 0
            envelope["retry_reason"] = ""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = future
        self._envelopes[envelope_id] = envelope
        try:
            await ws.send_json(envelope)
            return await asyncio.wait_for(future, ack_timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no Socket Mode ack for {envelope_type} envelope {envelope_id} in {ack_timeout}s"
            ) from None
        finally:
            self._pending_acks.pop(envelope_id, None)

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message to every open connection.

        The app is expected to open a new connection (apps.connections.open again) and
        close the old one; the stub leaves the closing to the app.
        """
        message = {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "localslack"},
        }
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_json(message)

    def _live_socket(self) -> web.WebSocketResponse:
        """The most recently opened connection that is still open."""
        for ws in reversed(self._sockets):
            if not ws.closed:
                return ws
        raise RuntimeError("no Socket Mode connection is open")

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """apps.connections.open: a WebSocket URL served by this stub."""
        ticket = secrets.token_urlsafe(16)
        self._socket_tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self._port}/socket/{ticket}"}

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        """Serve one Socket Mode WebSocket connection."""
        if request.match_info["ticket"] not in self._socket_tickets:
            return web.Response(status=401, text="invalid_ticket")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.socket_connection_count += 1
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": self.socket_connections,
                    "debug_info": {
                        "host": "localslack",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
            self.socket_connected.set()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_socket_text(str(msg.data))
                elif msg.type == WSMsgType.BINARY:
                    self.violations.append("socket: binary frame received")
        finally:
            self._sockets.remove(ws)
            if not self.socket_connections:
                self.socket_connected.clear()
        return ws

    def _on_socket_text(self, data: str) -> None:
        """Handle a text frame from the app: it must be an ack of a sent envelope."""
        try:
            ack = json.loads(data)
        except ValueError:
            self.violations.append(f"socket: message is not JSON: {data[:80]!r}")
            return
        if not isinstance(ack, dict) or not isinstance(ack.get("envelope_id"), str):
            self.violations.append(f"socket: message without envelope_id: {data[:80]!r}")
            return
        envelope = self._envelopes.get(ack["envelope_id"])
        if envelope is None:
            self.violations.append(f"socket: ack for unknown envelope {ack['envelope_id']}")
            return
        self.socket_acks.append(ack)
        payload = ack.get("payload")
        if payload is not None:
            if not envelope["accepts_response_payload"]:
                self.violations.append(
                    f"socket: payload in ack of {envelope['type']} envelope "
                    "that does not accept a response payload"
                )
            elif envelope["type"] == "slash_commands" and isinstance(payload, dict):
                self.violations.extend(f"socket ack: {p}" for p in check_message(payload))
        future = self._pending_acks.get(ack["envelope_id"])
        if future is None:
            self.violations.append(f"socket: late or repeated ack for {ack['envelope_id']}")
        elif not future.done():
            future.set_result(ack)
        else:
            self.violations.append(f"socket: repeated ack for {ack['envelope_id']}")

    async def _close_sockets(self) -> None:
        """Close every open connection (going away) and fail pending sends."""
        for future in self._pending_acks.values():
            if not future.done():
                future.set_exception(ConnectionError("SlackStub stopped"))
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")

    # ------------------------------------------------------------------ HTTP plumbing

    async def _read_args(self, request: web.Request) -> dict[str, Any]:
        """Merge query params with a JSON or form-encoded body."""
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError as exc:
                    raise SlackError("invalid_json") from exc
                if not isinstance(body, dict):
                    raise SlackError("invalid_json")
                args.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
        return args

    def _decode_json_fields(self, args: dict[str, Any]) -> None:
        """Decode JSON-string encoded fields (blocks, view, files, attachments) in place."""
        for key in _JSON_FIELDS:
            value = args.get(key)
            if isinstance(value, str):
                if value == "" and key != "view":
                    args.pop(key)
                    continue
                try:
                    args[key] = json.loads(value)
                except ValueError as exc:
                    error = "invalid_blocks_format" if key == "blocks" else "invalid_arguments"
                    raise SlackError(error) from exc

    def _auth_error(
        self, request: web.Request, args: dict[str, Any], method: str = ""
    ) -> str | None:
        """Return the auth error for this request, or None when authorised.

        ``apps.connections.open`` takes only the app-level token; every other method
        takes only the bot token (Slack answers ``not_allowed_token_type`` for the other).
        """
        header = request.headers.get("Authorization", "")
        token: str | None = None
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
        elif isinstance(args.get("token"), str):
            token = args["token"]
        if not token:
            return "not_authed"
        if method == "apps.connections.open":
            if token == self.app_token:
                return None
            return "not_allowed_token_type" if token == self.bot_token else "invalid_auth"
        if token == self.app_token:
            return "not_allowed_token_type"
        if token != self.bot_token:
            return "invalid_auth"
        return None

    def _reply(
        self,
        method: str,
        args: dict[str, Any],
        body: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        """Record the call and build the JSON HTTP response."""
        self.calls.append(Call(method=method, args=args, response=body, status=status))
        return web.json_response(body, status=status, headers=headers)

    async def _handle_api(self, request: web.Request) -> web.Response:
        """Serve ``/api/<method>``."""
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except SlackError as exc:
            return self._reply(method, {}, {"ok": False, "error": exc.error})
        auth_error = self._auth_error(request, args, method)
        args.pop("token", None)
        handler = self._handlers.get(method)
        if handler is None:
            return self._reply(method, args, {"ok": False, "error": "unknown_method"}, 404)
        if auth_error:
            return self._reply(method, args, {"ok": False, "error": auth_error})
        try:
            self._decode_json_fields(args)
        except SlackError as exc:
            return self._reply(method, args, {"ok": False, "error": exc.error})
        retry_after = self.rate_limiter.check(method, args) if self.rate_limiter else None
        if retry_after is not None:
            return self._reply(
                method,
                args,
                {"ok": False, "error": "ratelimited"},
                429,
                {"Retry-After": str(retry_after)},
            )
        fault = self._take_fault(method)
        if fault is not None:
            hung = await self._serve_fault(request, method, args, fault)
            if hung is not None:
                return hung
            if fault.kind == "ratelimit":
                return self._reply(
                    method,
                    args,
                    {"ok": False, "error": "ratelimited"},
                    429,
                    {"Retry-After": str(fault.retry_after)},
                )
            if fault.kind == "server":
                return self._reply(
                    method, args, {"ok": False, "error": "fatal_error"}, fault.status
                )
            return self._reply(method, args, {"ok": False, "error": fault.error})
        try:
            body = {"ok": True, **handler(args)}
        except SlackError as exc:
            body = {"ok": False, "error": exc.error, **exc.extra}
        return self._reply(method, args, body)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        """Record a JSON body POSTed to a response_url."""
        token = request.match_info["token"]
        if token not in self._response_tokens:
            return web.Response(status=404, text="expired_url")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        self.responses.append(ResponseCall(url_token=token, body=body))
        problems = check_message(body)
        if problems:
            self.violations.extend(f"response_url: {p}" for p in problems)
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(status=200, text="ok")

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """Store bytes POSTed to an upload URL from files.getUploadURLExternal."""
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="not_found")
        # Faults for the upload POST itself are queued under the pseudo-method "upload".
        fault = self._take_fault("upload")
        if fault is not None:
            hung = await self._serve_fault(request, "upload", {}, fault)
            if hung is not None:
                return hung
            if fault.kind == "ratelimit":
                headers = {"Retry-After": str(fault.retry_after)}
                return web.Response(status=429, text="ratelimited", headers=headers)
            status = fault.status if fault.kind == "server" else 400
            return web.Response(status=status, text=fault.error or "upload_failed")
        data = await request.read()
        upload.content = data
        return web.Response(status=200, text=f"OK - {len(data)}")

    # ------------------------------------------------------------------ helpers

    def _next_ts(self) -> str:
        """Return a unique, increasing Slack-style message timestamp."""
        n = next(self._ts_counter)
        return f"{1700000000 + n // 1_000_000}.{n % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        """Return a fresh Slack-style id with ``prefix``."""
        return f"{prefix}{next(self._ids):08d}"

    def _resolve_channel(self, channel: Any) -> _Channel:
        """Resolve a channel argument (channel id, DM id or user id) or raise."""
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        if channel in self._channels:
            return self._channels[channel]
        user = self._users.get(channel)
        if user is not None and not user.is_bot and not user.deleted:
            return self._channels[self.dm_channel_for(channel)]
        raise SlackError("channel_not_found")

    def _check_message_limits(self, method: str, args: dict[str, Any]) -> None:
        """Record limit violations in message args and raise invalid_blocks."""
        problems = check_message(args)
        if problems:
            self.violations.extend(f"{method}: {p}" for p in problems)
            raise SlackError(
                "invalid_blocks", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]}
            )

    def _check_view_limits(self, method: str, view: Any, *, expected_type: str | None) -> None:
        """Record limit violations in a view payload and raise invalid_arguments."""
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments")
        problems = check_view(view)
        if expected_type and view.get("type") != expected_type:
            problems.append(f"view type must be {expected_type!r} for {method}")
        if problems:
            self.violations.extend(f"{method}: {p}" for p in problems)
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )

    def _message_object(self, channel: _Channel, args: dict[str, Any], ts: str) -> dict[str, Any]:
        """Build the message object Slack echoes back from chat.postMessage."""
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": args.get("text") or "",
            "ts": ts,
        }
        if args.get("blocks") is not None:
            message["blocks"] = args["blocks"]
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            with contextlib.suppress(ValueError):
                metadata = json.loads(metadata)
        if isinstance(metadata, dict) and metadata.get("event_type"):
            message["metadata"] = {
                "event_type": str(metadata["event_type"]),
                "event_payload": metadata.get("event_payload") or {},
            }
        return message

    def _consume_trigger(self, trigger_id: Any) -> None:
        """Validate and consume a trigger id, raising Slack's trigger errors."""
        if not isinstance(trigger_id, str) or trigger_id not in self._triggers:
            raise SlackError("invalid_trigger_id")
        if trigger_id in self._used_triggers:
            raise SlackError("expired_trigger_id")
        if self._clock() - self._triggers[trigger_id] > TRIGGER_TTL_SECONDS:
            raise SlackError("expired_trigger_id")

    def view_object(
        self,
        view: Mapping[str, Any],
        view_id: str,
        *,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        """Build the view object Slack keeps (and returns from views.* methods)."""
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks") or [],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": root_view_id or view_id,
            "previous_view_id": previous_view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _all_views(self) -> dict[str, dict[str, Any]]:
        """All known views (modals and home tabs) by view id."""
        views = dict(self.open_views)
        views.update({v["id"]: v for v in self.home_views.values()})
        return views

    def _check_external_id(self, view: dict[str, Any], own_id: str | None) -> None:
        """Reject an external_id already used by another view."""
        external_id = view.get("external_id")
        if not external_id:
            return
        for other in self._all_views().values():
            if other.get("external_id") == external_id and other["id"] != own_id:
                raise SlackError("duplicate_external_id")

    # ------------------------------------------------------------------ method handlers

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        """auth.test."""
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """users.info."""
        user = self._users.get(str(args.get("user", "")))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": self._user_object(user)}

    def _users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """users.list: every member (bots and deactivated ones too), paginated by cursor.

        `limit` 0 or absent returns everyone (Slack pages large workspaces anyway; callers
        should pass a limit, 200 is Slack's advice); the opaque `next_cursor` is empty on
        the last page.
        """
        users = list(self._users.values())
        try:
            limit = int(args.get("limit") or 0)
        except (TypeError, ValueError) as exc:
            raise SlackError("invalid_limit") from exc
        if limit < 0:
            raise SlackError("invalid_limit")
        start = 0
        cursor = str(args.get("cursor") or "")
        if cursor:
            try:
                kind, _, user_id = base64.b64decode(cursor, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError) as exc:
                raise SlackError("invalid_cursor") from exc
            ids = [u.id for u in users]
            if kind != "user" or user_id not in ids:
                raise SlackError("invalid_cursor")
            start = ids.index(user_id)
        end = len(users) if limit == 0 else min(len(users), start + min(limit, 1000))
        next_cursor = ""
        if end < len(users):
            next_cursor = base64.b64encode(f"user:{users[end].id}".encode()).decode()
        return {
            "members": [self._user_object(u) for u in users[start:end]],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _user_object(self, user: _User) -> dict[str, Any]:
        """A user object as users.info and users.list give it."""
        tz_label, tz_offset = _tz_info(user.tz)
        profile: dict[str, Any] = {
            "display_name": user.name,
            "display_name_normalized": user.name,
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "team": self.team_id,
        }
        if user.email:
            profile["email"] = user.email
        if user.is_bot:
            profile["bot_id"] = self.bot_id if user.id == self.bot_user_id else f"B{user.id[1:]}"
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "is_admin": user.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
            "profile": profile,
        }

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """conversations.open (DM for one user, MPIM for several)."""
        raw = args.get("users")
        if isinstance(raw, list):
            ids = [str(u) for u in raw]
        else:
            ids = [u.strip() for u in str(raw or "").split(",") if u.strip()]
        if not ids:
            if args.get("channel") in self._channels:
                return {"channel": {"id": args["channel"]}}
            raise SlackError("users_list_not_supplied")
        for uid in ids:
            user = self._users.get(uid)
            if user is None or user.deleted:
                raise SlackError("user_not_found")
            if user.is_bot:
                raise SlackError("cannot_dm_bot")
        if len(ids) == 1:
            return {"channel": {"id": self.dm_channel_for(ids[0])}}
        members = sorted({self.bot_user_id, *ids})
        for chan in self._channels.values():
            if chan.is_mpim and sorted(chan.members) == members:
                return {"channel": {"id": chan.id}}
        mpim_id = self._new_id("G")
        self._channels[mpim_id] = _Channel(
            id=mpim_id, name="mpdm-" + "--".join(members) + "-1", members=members, is_mpim=True
        )
        return {"channel": {"id": mpim_id}}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """conversations.info."""
        chan = self._channels.get(str(args.get("channel", "")))
        if chan is None:
            raise SlackError("channel_not_found")
        obj: dict[str, Any] = {
            "id": chan.id,
            "created": 1700000000,
            "is_channel": not (chan.is_im or chan.is_mpim or chan.is_private),
            "is_group": chan.is_private and not chan.is_mpim,
            "is_im": chan.is_im,
            "is_mpim": chan.is_mpim,
            "is_private": chan.is_private or chan.is_im or chan.is_mpim,
            "is_archived": False,
            "is_member": self.bot_user_id in chan.members,
        }
        if chan.is_im:
            obj["user"] = chan.im_user
        else:
            obj["name"] = chan.name
            obj["name_normalized"] = chan.name
        return {"channel": obj}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """conversations.history: newest first; metadata only with include_all_metadata."""
        chan = self._channels.get(str(args.get("channel", "")))
        if chan is None:
            raise SlackError("channel_not_found")
        if not (chan.is_im or chan.is_mpim) and self.bot_user_id not in chan.members:
            raise SlackError("not_in_channel")
        try:
            limit = min(max(int(args.get("limit") or 100), 1), 999)
        except (TypeError, ValueError) as exc:
            raise SlackError("invalid_limit") from exc
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        found: list[dict[str, Any]] = []
        for message in reversed(self._messages.get(chan.id, [])):
            if message.get("thread_ts") not in (None, message["ts"]):
                continue  # replies live in conversations.replies
            found.append({k: v for k, v in message.items() if k != "metadata" or with_metadata})
            if len(found) >= limit:
                break
        return {"messages": found, "has_more": False, "pin_count": 0}

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        """chat.postMessage; a user id as `channel` posts in the app's DM with that user.

        As Slack does: the answer names the DM (D…), a bot user answers `cannot_dm_bot`, an
        unknown id `channel_not_found`, and a deactivated user's DM still takes the post
        (python-slack-sdk issue 1156: their DM history remains).
        """
        channel = args.get("channel")
        user = self._users.get(channel) if isinstance(channel, str) else None
        if user is not None and channel not in self._channels:
            if user.is_bot:
                raise SlackError("cannot_dm_bot")
            chan = self._channels[self.dm_channel_for(user.id)]
        else:
            chan = self._resolve_channel(channel)
        if not (chan.is_im or chan.is_mpim) and self.bot_user_id not in chan.members:
            raise SlackError("not_in_channel")
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise SlackError("no_text")
        self._check_message_limits("chat.postMessage", args)
        ts = self._next_ts()
        message = self._message_object(chan, args, ts)
        self._messages.setdefault(chan.id, []).append(message)
        return {"channel": chan.id, "ts": ts, "message": dict(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """chat.update."""
        chan = self._resolve_channel(args.get("channel"))
        ts = str(args.get("ts", ""))
        target = next((m for m in self._messages.get(chan.id, []) if m["ts"] == ts), None)
        if target is None:
            raise SlackError("message_not_found")
        if args.get("text") is None and args.get("blocks") is None:
            raise SlackError("no_text")
        self._check_message_limits("chat.update", args)
        if args.get("text") is not None:
            target["text"] = args["text"]
        if args.get("blocks") is not None:
            target["blocks"] = args["blocks"]
        target["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {"channel": chan.id, "ts": ts, "text": target["text"], "message": dict(target)}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        """chat.postEphemeral."""
        chan = self._resolve_channel(args.get("channel"))
        user_id = str(args.get("user", ""))
        user = self._users.get(user_id)
        if user is None or user.deleted:
            raise SlackError("user_not_found")
        if not (chan.is_im or chan.is_mpim):
            if self.bot_user_id not in chan.members:
                raise SlackError("not_in_channel")
            if user_id not in chan.members:
                raise SlackError("user_not_in_channel")
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise SlackError("no_text")
        self._check_message_limits("chat.postEphemeral", args)
        ts = self._next_ts()
        record: dict[str, Any] = {
            "channel": chan.id,
            "user": user_id,
            "text": args.get("text") or "",
            "blocks": args.get("blocks"),
            "ts": ts,
        }
        if args.get("thread_ts"):
            record["thread_ts"] = str(args["thread_ts"])
        self.ephemerals.append(record)
        return {"message_ts": ts}

    def _open_or_push(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Shared body of views.open and views.push."""
        trigger_id = args.get("trigger_id") or args.get("interactivity_pointer")
        self._consume_trigger(trigger_id)
        view = args.get("view")
        self._check_view_limits(method, view, expected_type="modal")
        assert isinstance(view, dict)
        self._check_external_id(view, None)
        self._used_triggers.add(str(trigger_id))
        view_id = self._new_id("V")
        obj = self.view_object(view, view_id)
        self.open_views[view_id] = obj
        return {"view": obj}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.open."""
        return self._open_or_push("views.open", args)

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.push."""
        return self._open_or_push("views.push", args)

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.update (by view_id or external_id, with optional hash check)."""
        views = self._all_views()
        current: dict[str, Any] | None = None
        if args.get("view_id"):
            current = views.get(str(args["view_id"]))
        elif args.get("external_id"):
            current = next(
                (v for v in views.values() if v.get("external_id") == args["external_id"]), None
            )
        else:
            raise SlackError("invalid_arguments")
        if current is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        view = args.get("view")
        self._check_view_limits("views.update", view, expected_type=current["type"])
        assert isinstance(view, dict)
        self._check_external_id(view, current["id"])
        obj = self.view_object(view, current["id"], root_view_id=current["root_view_id"])
        obj["state"] = current.get("state", {"values": {}})
        owner = self._home_owner.get(current["id"])
        if owner is not None:
            self.home_views[owner] = obj
        else:
            self.open_views[current["id"]] = obj
        return {"view": obj}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.publish (App Home)."""
        user_id = str(args.get("user_id", ""))
        user = self._users.get(user_id)
        if user is None or user.deleted:
            raise SlackError("user_not_found")
        current = self.home_views.get(user_id)
        if args.get("hash") and (current is None or args["hash"] != current["hash"]):
            raise SlackError("hash_conflict")
        view = args.get("view")
        self._check_view_limits("views.publish", view, expected_type="home")
        assert isinstance(view, dict)
        view_id = current["id"] if current else self._new_id("V")
        self._check_external_id(view, view_id)
        obj = self.view_object(view, view_id)
        self.home_views[user_id] = obj
        self._home_owner[view_id] = user_id
        return {"view": obj}

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        """files.getUploadURLExternal."""
        filename = args.get("filename")
        try:
            length = int(args.get("length", ""))
        except (TypeError, ValueError) as exc:
            raise SlackError("invalid_arguments") from exc
        if not filename or length <= 0:
            raise SlackError("invalid_arguments")
        file_id = self._new_id("F")
        self.uploads[file_id] = _Upload(id=file_id, filename=str(filename), length=length)
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        """files.completeUploadExternal."""
        files = args.get("files")
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments")
        chan: _Channel | None = None
        if args.get("channel_id"):
            chan = self._resolve_channel(args["channel_id"])
            if not (chan.is_im or chan.is_mpim) and self.bot_user_id not in chan.members:
                raise SlackError("not_in_channel")
        out: list[dict[str, Any]] = []
        for entry in files:
            upload = self.uploads.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if upload is None or upload.content is None:
                raise SlackError("file_not_found")
            upload.title = str(entry.get("title") or upload.filename)
            upload.extra = {
                "channel_id": chan.id if chan else None,
                "initial_comment": args.get("initial_comment"),
                "thread_ts": args.get("thread_ts"),
            }
            out.append({"id": upload.id, "title": upload.title})
        if chan is not None:
            message: dict[str, Any] = {
                "type": "message",
                "user": self.bot_user_id,
                "text": args.get("initial_comment") or "",
                "ts": self._next_ts(),
                "files": [dict(f) for f in out],
            }
            if args.get("thread_ts"):
                message["thread_ts"] = str(args["thread_ts"])
            self._messages.setdefault(chan.id, []).append(message)
        return {"files": out}
