"""Services: what handlers and the scheduler ask for; they own transactions and Slack calls."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import blocks, health_blocks, promise_blocks
from bot.checkin_rules import CheckinPolicy, expires_at, remind_at, should_remind, zone
from bot.clock import utcnow
from bot.config import Settings
from bot.parsing import AccountAdd, suggest_names
from bot.slack import post_once, uncertain_error
from storage import queries as q
from storage.models import Account, AwayPeriod, CheckInDetail, Interaction, SlackUser

log = logging.getLogger(__name__)

USER_CACHE_TTL = timedelta(hours=24)
# A decision that rests on someone being an admin reads it at most this old, so a
# demoted admin loses the rights within minutes, not a day.
ADMIN_CHECK_TTL = timedelta(minutes=5)
MAX_DELIVERY_ATTEMPTS = 3
BATCH = 200


def slack_error(exc: Exception) -> str:
    """A short reason for a failed Web API call."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__


@dataclass(frozen=True)
class Skipped:
    """A mentioned user who gets no check-in, and why (in words)."""

    user_id: str
    reason: str


@dataclass(frozen=True)
class Logged:
    """An interaction just logged, with who was asked and who was not."""

    interaction: Interaction
    account: Account
    own: CheckInDetail | None
    asked: list[str]
    away: list[str]
    skipped: list[Skipped]
    undelivered: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AnswerOutcome:
    """What happened to a click or submission on a check-in."""

    status: str  # saved | already | not_yours | missing
    detail: CheckInDetail | None
    shown: bool = True  # False: saved, but its DM could not be updated to show it


@dataclass
class TickReport:
    """What one pass of time-based work did."""

    expired: int = 0
    away: int = 0
    reminded: int = 0
    redelivered: int = 0
    promise_reminders: int = 0
    digests: int = 0

    def __str__(self) -> str:
        return (
            f"expired {self.expired}, away {self.away}, reminded {self.reminded}, "
            f"redelivered {self.redelivered}, promise reminders {self.promise_reminders}, "
            f"digests {self.digests}"
        )


class Services:
    """The bot's use cases over one database and one Slack client."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        client: AsyncWebClient,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.now = clock
        self.engine = engine
        self.client = client
        self.settings = settings
        self.policy = CheckinPolicy(
            remind_after=timedelta(hours=settings.checkin_reminder_hours),
            expire_after=timedelta(hours=settings.checkin_expiry_hours),
            quiet_start=settings.quiet_hours_start,
            quiet_end=settings.quiet_hours_end,
        )
        from bot.digests import DigestService
        from bot.health import HealthService
        from bot.promises import PromiseService

        self.promises = PromiseService(self)
        self.health = HealthService(self)
        self.digests = DigestService(self)
        self.subscriptions_changed: Callable[[], None] | None = None

    def on_subscriptions_changed(self) -> None:
        """Tell the scheduler (when one runs) to rebuild its digest jobs."""
        if self.subscriptions_changed is not None:
            self.subscriptions_changed()

    # --- accounts -------------------------------------------------------------------

    async def add_account(
        self, *, team_id: str, user_id: str, cmd: AccountAdd, now: datetime
    ) -> Account:
        """Create an account; raises q.DuplicateAccountError if the name is taken."""
        async with self.engine.begin() as conn:
            if await q.find_account(conn, team_id=team_id, name=cmd.name):
                raise q.DuplicateAccountError(cmd.name)
            return await q.create_account(
                conn,
                team_id=team_id,
                name=cmd.name,
                tier=cmd.tier,
                yearly_value=cmd.value,
                owner_id=cmd.owner_id,
                created_by=user_id,
                now=now,
            )

    async def accounts(self, *, team_id: str) -> list[Account]:
        """All accounts of the workspace."""
        async with self.engine.connect() as conn:
            return await q.list_accounts(conn, team_id=team_id)

    async def account(self, *, team_id: str, account_id: int) -> Account | None:
        """One account of the workspace."""
        async with self.engine.connect() as conn:
            return await q.get_account(conn, team_id=team_id, account_id=account_id)

    async def search_accounts(self, *, team_id: str, query: str) -> list[tuple[int, str]]:
        """Accounts for a searchable select: substring matches first, then fuzzy ones."""
        accounts = await self.accounts(team_id=team_id)
        key = " ".join(query.casefold().split())
        if not key:
            return [(a.id, a.name) for a in accounts[:100]]
        hits = [a for a in accounts if key in a.name.casefold()]
        fuzzy = suggest_names(query, [a.name for a in accounts], limit=10)
        by_name = {a.name: a for a in accounts}
        for name in fuzzy:
            if by_name[name] not in hits:
                hits.append(by_name[name])
        return [(a.id, a.name) for a in hits[:100]]

    def suggestions(self, name: str, accounts: Sequence[Account]) -> list[tuple[int, str]]:
        """The accounts whose names are closest to `name`."""
        by_name = {a.name: a for a in accounts}
        return [(by_name[n].id, n) for n in suggest_names(name, list(by_name), limit=4)]

    # --- drafts ---------------------------------------------------------------------

    async def save_draft(
        self, *, team_id: str, user_id: str, kind: str, payload: dict[str, Any], now: datetime
    ) -> int:
        """Keep a command until the user picks how to go on."""
        async with self.engine.begin() as conn:
            return await q.create_draft(
                conn,
                team_id=team_id,
                user_id=user_id,
                kind=kind,
                payload=json.dumps(payload),
                now=now,
            )

    async def take_draft(
        self, *, team_id: str, user_id: str, draft_id: int, now: datetime
    ) -> dict[str, Any] | None:
        """The draft's payload, once; None if used already or not this user's."""
        async with self.engine.begin() as conn:
            draft = await q.take_draft(
                conn, team_id=team_id, user_id=user_id, draft_id=draft_id, now=now
            )
        return json.loads(draft.payload) if draft else None

    # --- users ----------------------------------------------------------------------

    async def is_admin(self, *, team_id: str, user_id: str, now: datetime) -> bool:
        """Whether the user is a workspace admin or owner (looked up at most minutes ago)."""
        users = await self.users(
            team_id=team_id, user_ids=[user_id], now=now, max_age=ADMIN_CHECK_TTL
        )
        user = users.get(user_id)
        return bool(user and user.is_admin)

    async def users(
        self,
        *,
        team_id: str,
        user_ids: Iterable[str],
        now: datetime,
        max_age: timedelta = USER_CACHE_TTL,
    ) -> dict[str, SlackUser | None]:
        """Users by id from the cache, asking users.info for missing or older ones."""
        ids = list(dict.fromkeys(user_ids))
        async with self.engine.connect() as conn:
            cached = await q.get_users(conn, team_id=team_id, user_ids=ids)
        result: dict[str, SlackUser | None] = {}
        fresh: list[SlackUser] = []
        for user_id in ids:
            user = cached.get(user_id)
            if user is not None and now - user.fetched_at < max_age:
                result[user_id] = user
                continue
            try:
                info = (await self.client.users_info(user=user_id))["user"]
            except SlackApiError as exc:
                if exc.response.get("error") in {"user_not_found", "users_not_found"}:
                    result[user_id] = None
                    continue
                log.warning("users.info failed", extra={"user": user_id, "error": slack_error(exc)})
                result[user_id] = user
                continue
            except SlackClientError as exc:
                log.warning("users.info failed", extra={"user": user_id, "error": slack_error(exc)})
                result[user_id] = user
                continue
            fetched = SlackUser(
                team_id=team_id,
                user_id=user_id,
                name=str(info.get("name") or info.get("real_name") or user_id),
                tz=info.get("tz"),
                is_bot=bool(info.get("is_bot")) or user_id == "USLACKBOT",
                deleted=bool(info.get("deleted")),
                is_admin=bool(info.get("is_admin") or info.get("is_owner")),
                fetched_at=now,
            )
            fresh.append(fetched)
            result[user_id] = fetched
        if fresh:
            async with self.engine.begin() as conn:
                for u in fresh:
                    await q.upsert_user(
                        conn,
                        team_id=team_id,
                        user_id=u.user_id,
                        name=u.name,
                        tz=u.tz,
                        is_bot=u.is_bot,
                        deleted=u.deleted,
                        is_admin=u.is_admin,
                        now=now,
                    )
        return result

    # --- interactions and check-ins ----------------------------------------------------

    def _new_checkin(self, user_id: str, now: datetime, away: bool) -> q.NewCheckIn:
        return q.NewCheckIn(
            user_id=user_id,
            status=q.AWAY if away else q.PENDING,
            remind_at=remind_at(now, self.policy),
            expires_at=expires_at(now, self.policy),
        )

    async def log_interaction(
        self,
        *,
        team_id: str,
        logged_by: str,
        account: Account,
        kind: str,
        note: str,
        source: str,
        now: datetime,
    ) -> Logged:
        """Store an interaction with the caller's own check-in (committed on return)."""
        async with self.engine.begin() as conn:
            away = await q.away_users(conn, team_id=team_id, user_ids=[logged_by], now=now)
            interaction, created = await q.create_interaction(
                conn,
                team_id=team_id,
                account_id=account.id,
                kind=kind,
                occurred_at=now,
                logged_by=logged_by,
                note=note,
                source=source,
                now=now,
                checkins=[self._new_checkin(logged_by, now, logged_by in away)],
            )
            own = await q.get_checkin(conn, team_id=team_id, checkin_id=created[0].id)
        return Logged(
            interaction=interaction,
            account=account,
            own=own if own and own.checkin.status == q.PENDING else None,
            asked=[],
            away=[logged_by] if logged_by in away else [],
            skipped=[],
        )

    async def invite(
        self,
        *,
        team_id: str,
        interaction: Interaction,
        participants: Sequence[str],
        now: datetime,
    ) -> Logged:
        """Ask each valid teammate of an interaction for a check-in by DM."""
        others = [u for u in dict.fromkeys(participants) if u != interaction.logged_by]
        skipped: list[Skipped] = []
        valid: list[str] = []
        found = await self.users(team_id=team_id, user_ids=others, now=now) if others else {}
        for user_id in others:
            user = found.get(user_id)
            if user is None:
                skipped.append(Skipped(user_id, "is not a member of this workspace"))
            elif user.is_bot:
                skipped.append(Skipped(user_id, "is a bot"))
            elif user.deleted:
                skipped.append(Skipped(user_id, "has been deactivated"))
            else:
                valid.append(user_id)
        async with self.engine.begin() as conn:
            away = await q.away_users(conn, team_id=team_id, user_ids=valid, now=now)
            created = await q.add_checkins(
                conn,
                team_id=team_id,
                interaction_id=interaction.id,
                now=now,
                checkins=[self._new_checkin(u, now, u in away) for u in valid],
            )
            details = [
                d
                for c in created
                if (d := await q.get_checkin(conn, team_id=team_id, checkin_id=c.id))
            ]
            account = await q.get_account(conn, team_id=team_id, account_id=interaction.account_id)
        assert account is not None
        asked: list[str] = []
        undelivered: list[str] = []
        for detail in details:
            if detail.checkin.status != q.PENDING:
                continue
            asked.append(detail.checkin.user_id)
            if not await self.deliver(detail):
                undelivered.append(detail.checkin.user_id)
        return Logged(
            interaction=interaction,
            account=account,
            own=None,
            asked=asked,
            away=[u for u in valid if u in away],
            skipped=skipped,
            undelivered=undelivered,
        )

    async def deliver(self, detail: CheckInDetail, *, reminder: bool = False) -> bool:
        """DM a check-in (or its reminder) to its user; the outcome is recorded either way."""
        c = detail.checkin
        try:
            opened = await self.client.conversations_open(users=c.user_id)
            channel = opened["channel"]["id"]
            # Never twice: after a failure that may have landed, look before posting again.
            posted = await post_once(
                self.client,
                channel=channel,
                event_type="trustloop_checkin",
                key={"checkin": c.id, "reminder": reminder},
                look_first=not reminder and uncertain_error(c.delivery_error),
                text=("Reminder — " if reminder else "") + blocks.checkin_fallback(detail),
                blocks=blocks.build_checkin_message(detail, reminder=reminder),
            )
        except SlackClientError as exc:
            log.warning(
                "check-in DM failed",
                extra={"checkin": c.id, "team": c.team_id, "error": slack_error(exc)},
            )
            if not reminder:
                async with self.engine.begin() as conn:
                    await q.record_delivery(
                        conn,
                        team_id=c.team_id,
                        checkin_id=c.id,
                        dm_channel=None,
                        dm_ts=None,
                        error=slack_error(exc),
                    )
            return False
        async with self.engine.begin() as conn:
            if reminder:
                await q.record_reminder_message(
                    conn, team_id=c.team_id, checkin_id=c.id, channel=channel, ts=posted["ts"]
                )
            else:
                await q.record_delivery(
                    conn,
                    team_id=c.team_id,
                    checkin_id=c.id,
                    dm_channel=channel,
                    dm_ts=posted["ts"],
                    error=None,
                )
        return True

    async def checkin(self, *, team_id: str, checkin_id: int) -> CheckInDetail | None:
        """One check-in of the workspace with its account and interaction."""
        async with self.engine.connect() as conn:
            return await q.get_checkin(conn, team_id=team_id, checkin_id=checkin_id)

    async def answer(
        self,
        *,
        team_id: str,
        user_id: str,
        checkin_id: int,
        rating: int,
        direction: str | None = None,
        stage: str | None = None,
        concern: str | None = None,
        now: datetime,
    ) -> AnswerOutcome:
        """Store an answer (committed before returning); a second answer changes nothing."""
        async with self.engine.begin() as conn:
            saved = await q.answer_checkin(
                conn,
                team_id=team_id,
                checkin_id=checkin_id,
                user_id=user_id,
                rating=rating,
                direction=direction,
                stage=stage,
                concern=concern,
                now=now,
            )
        return await self._outcome(team_id, user_id, checkin_id, saved)

    async def skip(
        self, *, team_id: str, user_id: str, checkin_id: int, now: datetime
    ) -> AnswerOutcome:
        """Skip a check-in; a second click changes nothing."""
        async with self.engine.begin() as conn:
            saved = await q.close_checkin(
                conn,
                team_id=team_id,
                checkin_id=checkin_id,
                status=q.SKIPPED,
                now=now,
                user_id=user_id,
            )
        return await self._outcome(team_id, user_id, checkin_id, saved)

    async def _outcome(
        self, team_id: str, user_id: str, checkin_id: int, saved: bool
    ) -> AnswerOutcome:
        detail = await self.checkin(team_id=team_id, checkin_id=checkin_id)
        if detail is None:
            return AnswerOutcome("missing", None)
        if detail.checkin.user_id != user_id:
            return AnswerOutcome("not_yours", None)
        if saved:
            shown = await self.refresh_messages(detail)
            return AnswerOutcome("saved", detail, shown)
        return AnswerOutcome("already", detail)

    async def refresh_messages(self, detail: CheckInDetail) -> bool:
        """Show a closed check-in's outcome in its DM and reminder; False if one failed."""
        c = detail.checkin
        if not c.dm_channel:
            return True
        shown = True
        for ts in (c.dm_ts, c.reminder_ts):
            if not ts:
                continue
            try:
                await self.client.chat_update(
                    channel=c.dm_channel,
                    ts=ts,
                    text=blocks.checkin_fallback(detail),
                    blocks=blocks.build_checkin_closed(detail),
                )
            except SlackClientError as exc:
                shown = False
                log.warning(
                    "check-in update failed", extra={"checkin": c.id, "error": slack_error(exc)}
                )
        return shown

    async def recent_interactions(
        self, *, team_id: str, user_id: str, limit: int
    ) -> list[tuple[int, str]]:
        """A user's recent interactions as (id, label) for a select."""
        async with self.engine.connect() as conn:
            rows = await q.recent_interactions(conn, team_id=team_id, user_id=user_id, limit=limit)
        return [
            (i.id, f"{name[:40]} · {i.kind} · {i.occurred_at.date().isoformat()}")
            for i, name in rows
        ]

    # --- App Home and away --------------------------------------------------------------

    async def home_view(self, *, team_id: str, user_id: str, now: datetime) -> dict[str, Any]:
        """The App Home view for one user."""
        async with self.engine.connect() as conn:
            pending = await q.pending_checkins_for_user(
                conn, team_id=team_id, user_id=user_id, limit=blocks.HOME_MAX_CHECKINS
            )
            total = await q.count_pending_for_user(conn, team_id=team_id, user_id=user_id)
            away = await q.current_away(conn, team_id=team_id, user_id=user_id, now=now)
        promises, open_total = await self.promises.my_open(
            team_id=team_id, user_id=user_id, now=now, limit=blocks.HOME_MAX_PROMISES
        )
        mine = await self.health.my_accounts(team_id=team_id, user_id=user_id, now=now)
        tz = await self.user_zone(team_id=team_id, user_id=user_id, now=now)
        return blocks.build_home(
            pending,
            total_pending=total,
            away=away,
            promises=promise_blocks.build_home_promises(
                promises,
                total=open_total,
                today=now.astimezone(tz).date(),
                limit=blocks.HOME_MAX_PROMISES,
            ),
            accounts=health_blocks.build_home_accounts(mine),
        )

    async def publish_home(self, *, team_id: str, user_id: str, now: datetime) -> None:
        """Publish a user's App Home."""
        view = await self.home_view(team_id=team_id, user_id=user_id, now=now)
        await self.client.views_publish(user_id=user_id, view=view)

    async def set_away(
        self, *, team_id: str, user_id: str, until: datetime, now: datetime
    ) -> AwayPeriod:
        """Pause a user's check-ins and reminders until `until`."""
        async with self.engine.begin() as conn:
            return await q.start_away(
                conn, team_id=team_id, user_id=user_id, starts_at=now, ends_at=until, now=now
            )

    async def end_away(self, *, team_id: str, user_id: str, now: datetime) -> bool:
        """End an away period early; False if the user was not away."""
        async with self.engine.begin() as conn:
            return await q.end_away(conn, team_id=team_id, user_id=user_id, now=now)

    async def user_zone(self, *, team_id: str, user_id: str, now: datetime) -> Any:
        """The user's own time zone (from users.info), or the default one."""
        user = (await self.users(team_id=team_id, user_ids=[user_id], now=now)).get(user_id)
        return zone(user.tz if user else None, self.settings.default_timezone)

    # --- time-based work -----------------------------------------------------------------

    async def run_due_work(self, now: datetime) -> TickReport:
        """Everything time-based that is due at `now`: expiries, reminders, failed DMs, digests."""
        report = TickReport()
        await self._expire(now, report)
        await self._remind(now, report)
        await self._redeliver(now, report)
        report.promise_reminders = await self.promises.run_reminders(now)
        report.digests = await self.digests.run_due(now)
        return report

    async def _expire(self, now: datetime, report: TickReport) -> None:
        while True:
            async with self.engine.connect() as conn:
                due = await q.due_expiries(conn, now=now, limit=BATCH)
            if not due:
                return
            for detail in due:
                c = detail.checkin
                async with self.engine.begin() as conn:
                    away = await q.away_users(
                        conn, team_id=c.team_id, user_ids=[c.user_id], now=c.expires_at
                    )
                    status = q.AWAY if away else q.EXPIRED
                    changed = await q.close_checkin(
                        conn, team_id=c.team_id, checkin_id=c.id, status=status, now=now
                    )
                if not changed:
                    continue
                if status == q.AWAY:
                    report.away += 1
                else:
                    report.expired += 1
                updated = await self.checkin(team_id=c.team_id, checkin_id=c.id)
                if updated:
                    await self.refresh_messages(updated)
            if len(due) < BATCH:
                return

    async def _remind(self, now: datetime, report: TickReport) -> None:
        seen: set[int] = set()
        while True:
            async with self.engine.connect() as conn:
                due = [
                    d
                    for d in await q.due_reminders(conn, now=now, limit=BATCH)
                    if d.checkin.id not in seen
                ]
            if not due:
                return
            for detail in due:
                c = detail.checkin
                seen.add(c.id)
                user = (await self.users(team_id=c.team_id, user_ids=[c.user_id], now=now)).get(
                    c.user_id
                )
                async with self.engine.connect() as conn:
                    away = bool(
                        await q.away_users(conn, team_id=c.team_id, user_ids=[c.user_id], now=now)
                    )
                if not should_remind(
                    now=now,
                    remind_at=c.remind_at,
                    expires_at=c.expires_at,
                    reminded=c.reminded_at is not None,
                    away=away,
                    tz=zone(user.tz if user else None, self.settings.default_timezone),
                    policy=self.policy,
                ):
                    continue
                async with self.engine.begin() as conn:
                    claimed = await q.claim_reminder(
                        conn, team_id=c.team_id, checkin_id=c.id, now=now
                    )
                if claimed and await self.deliver(detail, reminder=True):
                    report.reminded += 1

    async def _redeliver(self, now: datetime, report: TickReport) -> None:
        async with self.engine.connect() as conn:
            due = await q.undelivered_checkins(
                conn, now=now, max_attempts=MAX_DELIVERY_ATTEMPTS, limit=BATCH
            )
        for detail in due:
            async with self.engine.connect() as conn:
                away = await q.away_users(
                    conn, team_id=detail.checkin.team_id, user_ids=[detail.checkin.user_id], now=now
                )
            if not away and await self.deliver(detail):
                report.redelivered += 1
