"""Services: what handlers and the scheduler ask for; they own transactions and Slack calls."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
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
# Up to this many users are looked up one by one with users.info: Slack's Tier 4 (100+ a
# minute) lets a short burst through at once. Past it, users.info is paced at 0.6 s a user,
# while one users.list page (Tier 2, 20+ a minute: 3 s) brings up to 200 members: listing
# pays off unless the workspace has over 40 times as many members as there are users to
# look up, and `INFO_CALLS_PER_LIST_PAGE` caps how far a listing goes for few of them.
USERS_INFO_AT_MOST = 10
USERS_LIST_PAGE = 200  # Slack: "no more than 200 results at a time" is recommended
INFO_CALLS_PER_LIST_PAGE = 5  # one Tier 2 slot (3 s) is worth five Tier 4 ones (0.6 s)


def _slack_user(
    team_id: str, info: dict[str, Any], now: datetime, user_id: str | None = None
) -> SlackUser:
    """What we cache of a user object from users.info or users.list."""
    user_id = user_id or str(info.get("id") or "")
    return SlackUser(
        team_id=team_id,
        user_id=user_id,
        name=str(info.get("name") or info.get("real_name") or user_id),
        tz=info.get("tz"),
        is_bot=bool(info.get("is_bot")) or user_id == "USLACKBOT",
        deleted=bool(info.get("deleted")),
        is_admin=bool(info.get("is_admin") or info.get("is_owner")),
        fetched_at=now,
    )


@dataclass(eq=False)
class _Listing:
    """One users.list pass in progress: whom its callers want and whom it has seen."""

    wanted: set[str]
    seen: dict[str, SlackUser] = field(default_factory=dict)
    task: asyncio.Task[None] = field(init=False)


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
        self._listings: dict[str, _Listing] = {}  # users.list in progress, by workspace

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
        """Users by id from the cache; missing or older ones from Slack.

        A few are asked with users.info (Tier 4, one call each); more than
        `USERS_INFO_AT_MOST` are refreshed in bulk with users.list (see `_list_users`).
        """
        ids = list(dict.fromkeys(user_ids))
        async with self.engine.connect() as conn:
            cached = await q.get_users(conn, team_id=team_id, user_ids=ids)
        result: dict[str, SlackUser | None] = {}
        stale: list[str] = []
        for user_id in ids:
            user = cached.get(user_id)
            if user is not None and now - user.fetched_at < max_age:
                result[user_id] = user
            else:
                stale.append(user_id)
        if len(stale) > USERS_INFO_AT_MOST:
            listed = await self._list_users(team_id=team_id, wanted=stale, now=now)
            for user_id in [u for u in stale if u in listed]:
                result[user_id] = listed[user_id]
            stale = [u for u in stale if u not in listed]
        fresh: list[SlackUser] = []
        for user_id in stale:
            try:
                info = (await self.client.users_info(user=user_id))["user"]
            except SlackApiError as exc:
                if exc.response.get("error") in {"user_not_found", "users_not_found"}:
                    result[user_id] = None
                    continue
                log.warning("users.info failed", extra={"user": user_id, "error": slack_error(exc)})
                result[user_id] = cached.get(user_id)
                continue
            except SlackClientError as exc:
                log.warning("users.info failed", extra={"user": user_id, "error": slack_error(exc)})
                result[user_id] = cached.get(user_id)
                continue
            fetched = _slack_user(team_id, info, now, user_id)
            fresh.append(fetched)
            result[user_id] = fetched
        if fresh:
            async with self.engine.begin() as conn:
                await q.upsert_users(conn, fresh)
        return result

    async def _list_users(
        self, *, team_id: str, wanted: Sequence[str], now: datetime
    ) -> dict[str, SlackUser]:
        """Wanted users found by paging through users.list, every member seen cached.

        Concurrent callers share one listing per workspace (ten `/checkin`s at once page
        through the members once): they add what they want to it and wait for it. It stops
        when all wanted users were seen, at the end of the list, or when its pages have
        cost as much rate limit as users.info for every wanted user would have (one Tier 2
        page = `INFO_CALLS_PER_LIST_PAGE` Tier 4 calls); the caller asks users.info for the
        rest.
        """
        listing = self._listings.get(team_id)
        if listing is None or listing.task.done():
            listing = _Listing(wanted=set(wanted))
            listing.task = asyncio.create_task(self._run_listing(team_id, listing, now))
            self._listings[team_id] = listing
        else:
            listing.wanted.update(wanted)
        await asyncio.shield(listing.task)
        return {u: listing.seen[u] for u in wanted if u in listing.seen}

    async def _run_listing(self, team_id: str, listing: _Listing, now: datetime) -> None:
        cursor = ""
        pages = 0
        while listing.wanted - listing.seen.keys():
            budget = math.ceil(len(listing.wanted) / INFO_CALLS_PER_LIST_PAGE)
            if pages >= budget:
                return
            try:
                page = await self.client.users_list(limit=USERS_LIST_PAGE, cursor=cursor or None)
            except SlackClientError as exc:
                log.warning("users.list failed", extra={"error": slack_error(exc)})
                return
            pages += 1
            members = [
                _slack_user(team_id, m, now)
                for m in page.get("members") or []
                if isinstance(m, dict) and m.get("id")
            ]
            if members:
                async with self.engine.begin() as conn:
                    await q.upsert_users(conn, members)
            # Everyone seen, not only the wanted: a caller that joins late may want them.
            listing.seen.update((u.user_id, u) for u in members)
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return

    # --- DMs ------------------------------------------------------------------------

    async def dm_channel(self, *, team_id: str, user_id: str) -> str:
        """The app's DM channel (D…) with a user: remembered, else conversations.open.

        Posting needs no D… id (chat.postMessage takes the user id); reading a DM's history
        and checking which DM a message is in do.
        """
        async with self.engine.connect() as conn:
            known = await q.get_dm_channel(conn, team_id=team_id, user_id=user_id)
        if known:
            return known
        opened = await self.client.conversations_open(users=user_id)
        channel = str(opened["channel"]["id"])
        await self.remember_dms(team_id=team_id, channels={user_id: channel})
        return channel

    def _dm_of(self, team_id: str, user_id: str) -> Callable[[], Awaitable[str]]:
        async def resolve() -> str:
            return await self.dm_channel(team_id=team_id, user_id=user_id)

        return resolve

    async def remember_dms(self, *, team_id: str, channels: dict[str, str]) -> None:
        """Remember the DM channel ids Slack answered posts to user ids with."""
        async with self.engine.begin() as conn:
            await q.remember_dm_channels(conn, team_id=team_id, channels=channels)

    async def post_dm(self, *, team_id: str, user_id: str, **message: Any) -> dict[str, Any]:
        """chat.postMessage in the app's DM with a user (one call); its D… id is remembered."""
        response = await self.client.chat_postMessage(channel=user_id, **message)
        posted = dict(response.data) if isinstance(response.data, dict) else {}
        if posted.get("channel"):
            await self.remember_dms(team_id=team_id, channels={user_id: str(posted["channel"])})
        return posted

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
        on_stored: Callable[[Sequence[str]], Awaitable[None]] | None = None,
    ) -> Logged:
        """Ask each valid teammate of an interaction for a check-in by DM.

        `on_stored` hears who is being asked once their check-ins are stored, before the
        DMs go out (a large fan-out takes minutes under Slack's rate limits).
        """
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
        pending = [d for d in details if d.checkin.status == q.PENDING]
        asked = [d.checkin.user_id for d in pending]
        if on_stored is not None and asked:
            await on_stored(asked)
        undelivered: list[str] = []
        # One after another: posts keep to Slack's limits at the client's shared gates
        # (bot.pacing), which a sequential fan-out keeps busy; more at once would only
        # wait there in line, or meet the limit together.
        for detail in pending:
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
        """DM a check-in (or its reminder) to its user; the outcome is recorded either way.

        One chat.postMessage to the user id: Slack posts in the app's DM with them and names
        the DM in its answer, which is recorded (answers update the message there).
        """
        c = detail.checkin
        try:
            # Never twice: after a failure that may have landed, look before posting again.
            posted = await post_once(
                self.client,
                channel=c.dm_channel or c.user_id,
                history_channel=None if c.dm_channel else self._dm_of(c.team_id, c.user_id),
                event_type="trustloop_checkin",
                key={"checkin": c.id, "reminder": reminder},
                look_first=not reminder and uncertain_error(c.delivery_error),
                text=("Reminder — " if reminder else "") + blocks.checkin_fallback(detail),
                blocks=blocks.build_checkin_message(detail, reminder=reminder),
            )
            answered = str(posted.get("channel") or "")
            channel = answered or c.dm_channel or c.user_id
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
            if answered and answered != c.user_id:
                await q.remember_dm_channels(
                    conn, team_id=c.team_id, channels={c.user_id: answered}
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
