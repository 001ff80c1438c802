"""The listener guard: a failure before or after the ack is told to the user."""

from __future__ import annotations

import asyncio
from typing import Any

from handlers.guard import SORRY, guarded


class FakeAck:
    """Records acks like Bolt's AsyncAck (which keeps the response it built)."""

    def __init__(self) -> None:
        self.response: dict[str, Any] | None = None
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        self.response = kwargs or {"ok": True}


class FakeRespond:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def _call(listener: Any, *, svc: object | None, body: dict[str, Any] | None = None) -> Any:
    ack, respond = FakeAck(), FakeRespond()
    context = {"svc": svc} if svc is not None else {}
    task = asyncio.ensure_future(
        listener(ack=ack, body=body or {}, respond=respond, context=context, payload=body or {})
    )
    return task, ack, respond


async def test_a_failure_after_the_ack_tells_the_user() -> None:
    async def handle_thing(ack: Any) -> None:
        await ack()
        raise RuntimeError("boom")

    task, ack, respond = _call(guarded(handle_thing), svc=None, body={"response_url": "http://x"})
    await task
    assert respond.calls and respond.calls[0]["text"] == SORRY
    assert ack.calls == [{}]


async def test_a_failure_before_the_ack_answers_in_the_ack() -> None:
    async def handle_thing(ack: Any) -> None:
        raise RuntimeError("boom")

    task, ack, respond = _call(guarded(handle_thing), svc=None, body={"command": "/checkin"})
    await task
    assert ack.calls == [{"response_type": "ephemeral", "text": SORRY}]
    assert respond.calls == []
