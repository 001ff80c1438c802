"""The Slack Web API client: one base URL from settings, retries on 429, 5xx and dropped links."""

from __future__ import annotations

import asyncio

from aiohttp import ClientConnectionError, ClientOSError, ClientSession, ServerDisconnectedError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient


class ServerErrorRetryHandler(AsyncRetryHandler):
    """Retry any 5xx answer (the SDK's own handler only retries 500 and 503)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code < 600


def build_client(
    token: str, base_url: str, *, timeout: int = 10, session: ClientSession | None = None
) -> AsyncWebClient:
    """An AsyncWebClient against `base_url` with retry handlers switched on.

    With a `session`, every call reuses its pooled connections (the SDK otherwise opens a
    new connection for each call); the caller closes it.
    """
    client = AsyncWebClient(token=token, base_url=base_url, timeout=timeout, session=session)
    client.retry_handlers = [
        AsyncConnectionErrorRetryHandler(
            max_retry_count=2,
            error_types=[
                ClientConnectionError,
                ServerDisconnectedError,
                ClientOSError,
                asyncio.TimeoutError,
            ],
        ),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
    ]
    return client
