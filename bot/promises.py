"""Promise use cases: log, list, resolve, renegotiate, cancel, edit, and remind owners."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackClientError

from bot import promise_blocks
from bot.checkin_rules import zone
from bot.promise_rules import DUE, OVERDUE, PromisePolicy, days_overdue, due_reminder, kept_on_time
from storage import promises as pq
from storage.models import Account, PromiseDetail, PromiseFigures

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

MAX_TEXT = 3000
LIST_LIMIT = 15
BATCH = 200


class PromiseError(ValueError):
    """A promise request we refuse; the message is for the user, in plain words."""


@dataclass(frozen=True)
class PromiseOutcome:
    """What happened to a change of a promise."""

    status: str  # saved | already | forbidden | missing
    detail: PromiseDetail | None


class PromiseService:
    """Promises over the shared Services (database, Slack client, user cache, clock)."""

    def __init__(self, svc: Services, policy: PromisePolicy | None = None):
        self.svc = svc
        self.policy = policy or PromisePolicy(
            quiet_start=svc.settings.quiet_hours_start, quiet_end=svc.settings.quiet_hours_end
        )

    async def zone_of(self, team_id: str, user_id: str, now: datetime) -> ZoneInfo:
        """A user's own timezone."""
        zone_info: ZoneInfo = await self.svc.user_zone(team_id=team_id, user_id=user_id, now=now)
        return zone_info

    async def check_owner(self, team_id: str, owner_id: str, now: datetime) -> None:
        """Raise PromiseError unless the owner is a person in this workspace."""
        user = (await self.svc.users(team_id=team_id, user_ids=[owner_id], now=now)).get(owner_id)
        if user is None:
            raise PromiseError(f"<@{owner_id}> is not a member of this workspace.")
        if user.is_bot:
            raise PromiseError(f"<@{owner_id}> is a bot; a promise needs a person as its owner.")
        if user.deleted:
            raise PromiseError(f"<@{owner_id}> has been deactivated; pick someone else.")

    async def log(
        self,
        *,
        team_id: str,
        created_by: str,
        account: Account,
        what: str,
        owner_id: str,
        due: date,
        interaction_id: int | None,
        now: datetime,
    ) -> PromiseDetail:
        """Store a new open promise (committed on return)."""
        if not what.strip():
            raise PromiseError("What did you promise? The text is empty.")
        if len(what) > MAX_TEXT:
            raise PromiseError(f"Keep the promise under {MAX_TEXT} characters.")
        await self.check_owner(team_id, owner_id, now)
        async with self.svc.engine.begin() as conn:
            promise = await pq.create_promise(
                conn,
                team_id=team_id,
                account_id=account.id,
                text=what,
                owner_id=owner_id,
                created_by=created_by,
                due_date=due,
                interaction_id=interaction_id,
                now=now,
            )
            detail = await pq.get_promise(conn, team_id=team_id, promise_id=promise.id)
        assert detail is not None
        return detail

    async def get(self, *, team_id: str, promise_id: int) -> PromiseDetail | None:
        """One promise of the workspace."""
        async with self.svc.engine.connect() as conn:
            return await pq.get_promise(conn, team_id=team_id, promise_id=promise_id)

    async def find(
        self,
        *,
        team_id: str,
        scope: str,
        today: date,
        user_id: str | None = None,
        account_id: int | None = None,
        limit: int = LIST_LIMIT,
    ) -> tuple[list[PromiseDetail], int]:
        """Open promises in a scope and how many there are in all."""
        async with self.svc.engine.connect() as conn:
            found = await pq.list_promises(
                conn,
                team_id=team_id,
                scope=scope,
                today=today,
                limit=limit,
                user_id=user_id,
                account_id=account_id,
            )
            total = await pq.count_promises(
                conn,
                team_id=team_id,
                scope=scope,
                today=today,
                user_id=user_id,
                account_id=account_id,
            )
        return found, total

    async def my_open(
        self, *, team_id: str, user_id: str, now: datetime, limit: int
    ) -> tuple[list[PromiseDetail], int]:
        """A user's open promises, overdue first (soonest due first)."""
        tz = await self.zone_of(team_id, user_id, now)
        return await self.find(
            team_id=team_id,
            scope="mine",
            today=now.astimezone(tz).date(),
            user_id=user_id,
            limit=limit,
        )

    async def may_change(self, detail: PromiseDetail, user_id: str, now: datetime) -> bool:
        """The owner, who logged it, the account owner, or a workspace admin may change it."""
        p = detail.promise
        if user_id in {p.owner_id, p.created_by, detail.account_owner_id}:
            return True
        return await self.svc.is_admin(team_id=p.team_id, user_id=user_id, now=now)

    async def _guard(
        self, team_id: str, user_id: str, promise_id: int, now: datetime
    ) -> PromiseOutcome | PromiseDetail:
        detail = await self.get(team_id=team_id, promise_id=promise_id)
        if detail is None:
            return PromiseOutcome("missing", None)
        if not await self.may_change(detail, user_id, now):
            return PromiseOutcome("forbidden", detail)
        if detail.promise.status != pq.OPEN:
            return PromiseOutcome("already", detail)
        return detail

    async def resolve(
        self,
        *,
        team_id: str,
        user_id: str,
        promise_id: int,
        status: str,
        now: datetime,
        reason: str | None = None,
    ) -> PromiseOutcome:
        """Mark an open promise kept, broken or cancelled (a second click changes nothing)."""
        guard = await self._guard(team_id, user_id, promise_id, now)
        if isinstance(guard, PromiseOutcome):
            return guard
        tz = await self.zone_of(team_id, guard.promise.owner_id, now)
        in_time = (
            kept_on_time(at=now, due=guard.promise.due_date, tz=tz) if status == pq.KEPT else None
        )
        async with self.svc.engine.begin() as conn:
            saved = await pq.resolve_promise(
                conn,
                team_id=team_id,
                promise_id=promise_id,
                actor_id=user_id,
                status=status,
                in_time=in_time,
                note=reason,
                now=now,
            )
            detail = await pq.get_promise(conn, team_id=team_id, promise_id=promise_id)
        return PromiseOutcome("saved" if saved else "already", detail)

    async def renegotiate(
        self,
        *,
        team_id: str,
        user_id: str,
        promise_id: int,
        new_due: date,
        customer_told: bool,
        now: datetime,
    ) -> PromiseOutcome:
        """Move an open promise to a new date; in time only if before the old due day ended."""
        guard = await self._guard(team_id, user_id, promise_id, now)
        if isinstance(guard, PromiseOutcome):
            return guard
        tz = await self.zone_of(team_id, guard.promise.owner_id, now)
        if new_due < now.astimezone(tz).date():
            raise PromiseError("The new date is in the past; pick today or a later day.")
        in_time = kept_on_time(at=now, due=guard.promise.due_date, tz=tz)
        async with self.svc.engine.begin() as conn:
            saved = await pq.renegotiate_promise(
                conn,
                team_id=team_id,
                promise_id=promise_id,
                actor_id=user_id,
                new_due=new_due,
                customer_told=customer_told,
                in_time=in_time,
                note=None,
                now=now,
            )
            detail = await pq.get_promise(conn, team_id=team_id, promise_id=promise_id)
        return PromiseOutcome("saved" if saved else "already", detail)

    async def edit(
        self,
        *,
        team_id: str,
        user_id: str,
        promise_id: int,
        what: str,
        owner_id: str,
        due: date,
        now: datetime,
    ) -> PromiseOutcome:
        """Correct an open promise's text, owner or date."""
        guard = await self._guard(team_id, user_id, promise_id, now)
        if isinstance(guard, PromiseOutcome):
            return guard
        if not what.strip() or len(what) > MAX_TEXT:
            raise PromiseError(f"The promise needs a text of at most {MAX_TEXT} characters.")
        await self.check_owner(team_id, owner_id, now)
        async with self.svc.engine.begin() as conn:
            saved = await pq.edit_promise(
                conn,
                team_id=team_id,
                promise_id=promise_id,
                actor_id=user_id,
                text=what,
                owner_id=owner_id,
                due_date=due,
                now=now,
            )
            detail = await pq.get_promise(conn, team_id=team_id, promise_id=promise_id)
        return PromiseOutcome("saved" if saved else "already", detail)

    async def figures(
        self, *, team_id: str, start: datetime, end: datetime, today: date, by: str
    ) -> dict[object, PromiseFigures]:
        """Promise figures per account or per owner over a window."""
        async with self.svc.engine.connect() as conn:
            return await pq.promise_figures(
                conn, team_id=team_id, start=start, end=end, today=today, by=by
            )

    async def run_reminders(self, now: datetime) -> int:
        """Send every promise reminder due at `now`, each once; returns how many were sent."""
        sent = 0
        after = 0
        due_by = (now + timedelta(days=2)).date()
        while True:
            async with self.svc.engine.connect() as conn:
                batch = await pq.reminder_candidates(
                    conn, due_by=due_by + timedelta(days=3), after_id=after, limit=BATCH
                )
            if not batch:
                return sent
            for detail in batch:
                after = detail.promise.id
                if await self._remind(detail, now):
                    sent += 1
            if len(batch) < BATCH:
                return sent

    async def _remind(self, detail: PromiseDetail, now: datetime) -> bool:
        p = detail.promise
        user = (await self.svc.users(team_id=p.team_id, user_ids=[p.owner_id], now=now)).get(
            p.owner_id
        )
        tz = zone(user.tz if user else None, self.svc.settings.default_timezone)
        reminder = due_reminder(
            now=now,
            due=p.due_date,
            tz=tz,
            since=p.since_at,
            sent_seq=p.reminder_seq,
            policy=self.policy,
        )
        if reminder is None:
            return False
        today = now.astimezone(tz).date()
        if p.last_reminded_at is not None and p.last_reminded_at.astimezone(tz).date() == today:
            return False  # at most one a day, also when a night or an outage delayed one
        # A delayed reminder says how things stand now, not when it was scheduled.
        kind = reminder.kind if today < p.due_date else DUE if today == p.due_date else OVERDUE
        overdue_days = days_overdue(now=now, due=p.due_date, tz=tz)
        async with self.svc.engine.connect() as conn:
            from storage import queries as q

            if await q.away_users(conn, team_id=p.team_id, user_ids=[p.owner_id], now=now):
                return False
        async with self.svc.engine.begin() as conn:
            claimed = await pq.claim_promise_reminder(
                conn, team_id=p.team_id, promise_id=p.id, seq=reminder.seq, now=now
            )
        if not claimed:
            return False
        try:
            await self.svc.post_dm(
                team_id=p.team_id,
                user_id=p.owner_id,
                text=promise_blocks.reminder_fallback(detail, kind),
                blocks=promise_blocks.build_promise_reminder(
                    detail, kind=kind, overdue_days=overdue_days
                ),
            )
        except SlackClientError as exc:
            log.warning("promise reminder failed", extra={"promise": p.id, "error": str(exc)[:200]})
            return False
        return True
