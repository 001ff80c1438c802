"""Changes tried from the outside in benchmark runs before anyone makes them in the bot.

`fifo_writes`: one asyncio.Lock per engine around `storage.db.Engine.begin()`, so the
process's write transactions take SQLite's write lock one after the other, in the order
they asked. Without it every writer that finds the lock taken sleeps in SQLite's busy
handler (1, 2, 5, 10 … 100 ms steps, until the 5 s busy_timeout), so under contention the
lock is handed out neither at once nor first come first served: a later click can be stored
before an earlier one, and a writer that keeps losing fails with "database is locked".
Other processes (`trustloop tick`, a backup) still meet the busy handler.

    run_all.py --experiment fifo-writes     # `trustloop run` with the lock
    ack_bench.py --experiment fifo-writes   # the bot of the ack benchmark with the lock
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

EXPERIMENTS = ("none", "fifo-writes")


def fifo_writes() -> None:
    """Patch `storage.db.Engine.begin` to queue the process's writers first come, first served."""
    from storage import db

    original = db.Engine.begin
    locks: dict[int, asyncio.Lock] = {}

    @asynccontextmanager
    async def begin(self: Any) -> AsyncIterator[Any]:
        lock = locks.setdefault(id(self.sync_engine), asyncio.Lock())
        async with lock, original(self) as conn:
            yield conn

    db.Engine.begin = begin  # type: ignore[method-assign]


def apply(name: str) -> None:
    """Apply the named experiment (`none` does nothing)."""
    if name == "fifo-writes":
        fifo_writes()
    elif name != "none":
        raise ValueError(f"unknown experiment {name!r}; one of {', '.join(EXPERIMENTS)}")
