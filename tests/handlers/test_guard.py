"""The listener guard: acks go out at once, work after the ack waits for a slot, failures answer."""

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


class Svc:
    def __init__(self, slots: int) -> None:
        self.after_ack = asyncio.Semaphore(slots)


def _call(listener: Any, *, svc: Svc | None, body: dict[str, Any] | None = None) -> Any:
    ack, respond = FakeAck(), FakeRespond()
    context = {"svc": svc} if svc is not None else {}
    task = asyncio.ensure_future(
        listener(ack=ack, body=body or {}, respond=respond, context=context, payload=body or {})
    )
    return task, ack, respond


async def test_work_after_the_ack_waits_for_a_slot_but_the_ack_does_not() -> None:
    svc = Svc(1)
    release_first = asyncio.Event()
    order: list[str] = []

    async def handle_thing(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        order.append(f"working {body['n']}")
        if body["n"] == 1:
            await release_first.wait()
        order.append(f"done {body['n']}")

    listener = guarded(handle_thing)
    first, _, _ = _call(listener, svc=svc, body={"n": 1})
    await asyncio.sleep(0.01)
    second, second_ack, _ = _call(listener, svc=svc, body={"n": 2})
    await asyncio.sleep(0.01)

    assert second_ack.calls == [{}], "the second request is acknowledged at once"
    assert order == ["working 1"], "its work waits until the first one's slot is free"
    release_first.set()
    await asyncio.gather(first, second)
    assert order == ["working 1", "done 1", "working 2", "done 2"]
    assert not svc.after_ack.locked()


async def test_a_failure_after_the_ack_frees_the_slot_and_tells_the_user() -> None:
    svc = Svc(1)

    async def handle_thing(ack: Any) -> None:
        await ack()
        raise RuntimeError("boom")

    task, ack, respond = _call(guarded(handle_thing), svc=svc, body={"response_url": "http://x"})
    await task
    assert not svc.after_ack.locked()
    assert respond.calls and respond.calls[0]["text"] == SORRY
    assert ack.calls == [{}]


async def test_a_failure_before_the_ack_answers_in_the_ack() -> None:
    async def handle_thing(ack: Any) -> None:
        raise RuntimeError("boom")

    task, ack, respond = _call(guarded(handle_thing), svc=Svc(1), body={"command": "/checkin"})
    await task
    assert ack.calls == [{"response_type": "ephemeral", "text": SORRY}]
    assert respond.calls == []


async def test_acking_twice_takes_one_slot_only() -> None:
    svc = Svc(2)

    async def handle_thing(ack: Any) -> None:
        await ack()
        await ack()
        assert svc.after_ack._value == 1  # one of two slots in use

    task, _, _ = _call(guarded(handle_thing), svc=svc)
    await task
    assert svc.after_ack._value == 2


async def test_without_services_the_guard_does_not_queue() -> None:
    async def handle_thing(ack: Any) -> None:
        await ack()

    task, ack, _ = _call(guarded(handle_thing), svc=None)
    await task
    assert ack.calls == [{}]
