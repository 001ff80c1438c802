"""The Slack Web API client: one base URL from settings, retries that never post twice.

Whether a failed call is retried depends on whether Slack may already have done it:

- HTTP 429 (retried after its Retry-After, taking turns with the method's other calls and
  then keeping to its rate: see `bot.pacing`) and a connection that could not be opened (up
  to 2 times, with exponential backoff): Slack did nothing, so every method is retried.
- HTTP 5xx, `ok: false` with `fatal_error` / `internal_error` / `service_unavailable`,
  timeouts and connections dropped mid-request: Slack may have done it. Calls
  that are safe to repeat (chat.update, views.publish, users.info, conversations.open…) are
  retried (up to 2 times, with exponential backoff); calls that create something
  (chat.postMessage, chat.postEphemeral, files.completeUploadExternal, views.open/push)
  are not, since a repeat could post the message twice.

A message that must appear exactly once (a check-in DM, a weekly digest) goes through
`post_once`: it carries an id in its message metadata, and after an uncertain failure the
conversation's recent history is read to find out whether it landed before anything posts
it again. A DM is posted to the user's id (Slack posts it in the app's DM with that user
and answers with the DM's D… id); its history is read under the D… id, which the caller
supplies (`history_channel`) only on that rare path. When whether it landed cannot be found
out (for example the app lacks the history scope), the failure becomes `Unconfirmed` and
the message is not posted again: a missing message is reported, a duplicate never happens.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import (
    ClientConnectionError,
    ClientConnectorError,
    ClientPayloadError,
    ClientSession,
    ClientTimeout,
)
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.pacing import PacedRateLimitRetryHandler, Pacer, current_key

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
# Methods whose repeat would create a second message, file share or modal.
NOT_REPEATABLE = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.scheduleMessage",
        "files.completeUploadExternal",
        "views.open",
        "views.push",
    }
)
# `ok: false` errors after which Slack may have done part of the work (Slack's own words:
# "it's possible some aspect of the operation succeeded before the error was raised").
UNCERTAIN_ERRORS = frozenset({"fatal_error", "internal_error", "service_unavailable"})
# Recorded error codes (see `error_code`) of transport failures that struck mid-request.
UNCERTAIN_TRANSPORT = frozenset(
    {
        "TimeoutError",
        "ServerTimeoutError",
        "ServerDisconnectedError",
        "ClientOSError",
        "ClientPayloadError",
        "ClientConnectionError",
        "SlackNoAnswer",
        "Unconfirmed",
    }
)
HISTORY_LOOKBACK = 200


class Unconfirmed(SlackClientError):
    """A message may have been posted and that could not be checked: it is not posted again."""


class SlackUnreachable(SlackClientError):
    """A Web API call that never reached Slack (the connection could not be opened)."""


class SlackNoAnswer(SlackClientError):
    """A Web API call that got no answer (timeout, connection dropped): it may have landed."""


class SlackClient(AsyncWebClient):
    """AsyncWebClient whose transport failures are SlackClientErrors too.

    The SDK lets aiohttp's errors and timeouts through as they are, so code that handles
    `SlackClientError` (a failed DM is recorded and retried, a failed update is logged)
    would otherwise crash on a timeout instead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = Pacer()  # every call of this client keeps to Slack's rate limits

    async def api_call(self, *args: Any, **kwargs: Any) -> Any:
        """The SDK's api_call, in turn at its method's gate, with transport failures wrapped."""
        method = str(args[0] if args else kwargs.get("api_method", ""))
        fields = kwargs.get("json") or kwargs.get("data") or kwargs.get("params")
        key = Pacer.key(method, fields if isinstance(fields, Mapping) else None)
        await self.pacer.wait(key)
        token = current_key.set(key)
        try:
            return await super().api_call(*args, **kwargs)
        except ClientConnectorError as exc:
            raise SlackUnreachable(f"could not connect to Slack: {exc}") from exc
        except (ClientConnectionError, ClientPayloadError, TimeoutError) as exc:
            raise SlackNoAnswer(f"no answer from Slack: {type(exc).__name__}") from exc
        finally:
            current_key.reset(token)


def _method(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1]


class ConnectionRetryHandler(AsyncRetryHandler):
    """Retry a connection that never opened (any method) or broke mid-call (repeatable ones)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if error is None:
            return False
        if isinstance(error, ClientConnectorError):
            return True  # the request never reached Slack
        mid_call = isinstance(error, ClientConnectionError | ClientPayloadError | TimeoutError)
        return mid_call and _method(request) not in NOT_REPEATABLE


class ServerErrorRetryHandler(AsyncRetryHandler):
    """Retry a 5xx answer, or `ok: false` with a server-side error, of a repeatable call."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or _method(request) in NOT_REPEATABLE:
            return False
        if 500 <= response.status_code < 600:
            return True
        body = response.body
        return isinstance(body, dict) and body.get("error") in UNCERTAIN_ERRORS


def new_session(timeout: float = TIMEOUT_SECONDS) -> ClientSession:
    """The pooled HTTP session for Web API calls, with the per-call time limit.

    The SDK applies its own `timeout` only to sessions it creates itself, so a shared
    session must carry the limit (aiohttp's default would wait five minutes).
    """
    return ClientSession(timeout=ClientTimeout(total=timeout))


def build_client(
    token: str,
    base_url: str,
    *,
    timeout: int = TIMEOUT_SECONDS,
    session: ClientSession | None = None,
    retry_interval: RetryIntervalCalculator | None = None,
) -> AsyncWebClient:
    """An AsyncWebClient against `base_url` with the retry handlers above.

    With a `session` (see `new_session`), every call reuses its pooled connections (the SDK
    otherwise opens a new connection for each call) and its time limit; the caller closes it.
    `retry_interval` replaces the exponential backoff (0.5 s, 1 s, plus up to 1 s of jitter)
    between retries of connection and server errors; 429s always wait their Retry-After.
    """
    client = SlackClient(token=token, base_url=base_url, timeout=timeout, session=session)
    backoff = retry_interval or BackoffRetryIntervalCalculator(backoff_factor=0.5)
    client.retry_handlers = [
        ConnectionRetryHandler(max_retry_count=2, interval_calculator=backoff),
        PacedRateLimitRetryHandler(client.pacer),
        ServerErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
    ]
    return client


def error_code(exc: BaseException) -> str:
    """A short code for a failed call: Slack's error, the HTTP status, or the exception type."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__


def uncertain(exc: BaseException) -> bool:
    """True when a failed call may still have taken effect on Slack's side."""
    if isinstance(exc, SlackApiError):
        return exc.response.status_code >= 500 or exc.response.get("error") in UNCERTAIN_ERRORS
    if isinstance(exc, ClientConnectorError | SlackUnreachable):
        return False
    return isinstance(
        exc,
        Unconfirmed | SlackNoAnswer | ClientConnectionError | ClientPayloadError | TimeoutError,
    )


def uncertain_error(code: str | None) -> bool:
    """`uncertain` for a recorded `error_code`: did that failed post perhaps land?"""
    if not code:
        return False
    if code.isdigit():
        return int(code) >= 500
    return code in UNCERTAIN_ERRORS or code in UNCERTAIN_TRANSPORT


async def find_posted(
    client: AsyncWebClient,
    *,
    channel: str,
    metadata: Mapping[str, Any],
    history_channel: Callable[[], Awaitable[str]] | None = None,
) -> dict[str, Any] | None:
    """The recent message in `channel` carrying `metadata`, or None; Unconfirmed if unreadable.

    `history_channel` names the conversation to read when `channel` is a user id (a DM).
    """
    try:
        if history_channel is not None:
            channel = await history_channel()
        history = await client.conversations_history(
            channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True
        )
    except (SlackClientError, ClientConnectionError, ClientPayloadError, TimeoutError) as exc:
        raise Unconfirmed(f"could not read the history of {channel}: {error_code(exc)}") from exc
    for message in history.get("messages") or []:
        found = message.get("metadata") or {}
        if found.get("event_type") == metadata["event_type"] and found.get("event_payload") == dict(
            metadata["event_payload"]
        ):
            return {"ok": True, "channel": channel, "ts": message.get("ts"), "message": message}
    return None


async def post_once(
    client: AsyncWebClient,
    *,
    channel: str,
    event_type: str,
    key: Mapping[str, Any],
    look_first: bool = False,
    history_channel: Callable[[], Awaitable[str]] | None = None,
    **message: Any,
) -> dict[str, Any]:
    """chat.postMessage for a message that must appear once; `key` goes into its metadata.

    `look_first`: an earlier attempt failed without knowing whether it landed, so the
    history is read before posting. After an uncertain failure the history is read too; if
    the message is there it counts as posted. Raises `Unconfirmed` when that cannot be found
    out, and the original error when the message certainly or evidently did not land.
    `history_channel`: where to read the history when `channel` is a user id (their DM's
    D… id, which conversations.history needs); called only when the history is read.
    """
    metadata = {"event_type": event_type, "event_payload": dict(key)}
    if look_first:
        found = await find_posted(
            client, channel=channel, metadata=metadata, history_channel=history_channel
        )
        if found is not None:
            log.info("message found posted by an earlier attempt", extra={"key": dict(key)})
            return found
    try:
        response = await client.chat_postMessage(channel=channel, metadata=metadata, **message)
    except Exception as exc:
        if not uncertain(exc):
            raise
        found = await find_posted(
            client, channel=channel, metadata=metadata, history_channel=history_channel
        )
        if found is None:
            raise
        log.info(
            "message posted although the call failed",
            extra={"key": dict(key), "error": error_code(exc)},
        )
        return found
    return dict(response.data) if isinstance(response.data, dict) else {"ok": True}
