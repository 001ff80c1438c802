"""Digest subscriptions and posting: exactly one digest per subscription and week.

Before posting, a (subscription, week) row is claimed in the database under a unique
constraint, so a restart, a `trustloop tick` racing the scheduler, or several bot processes
can never post twice. A post that Slack refuses for a passing reason (rate limits, server
errors, timeouts) is retried with growing gaps within the same week; a permanent refusal
(channel gone, bot removed) is recorded and reported in the logs.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot import digest_rules
from bot.digest_rules import DigestSchedule
from bot.health import Digest
from bot.health_blocks import build_digest, digest_fallback
from bot.slack import post_once, uncertain_error
from storage import digests as dq
from storage.models import DigestPost, Subscription

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

RETRY_GAPS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
MAX_ATTEMPTS = 8
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "missing_scope",
    "invalid_blocks",
    "msg_too_long",
    "Unconfirmed",  # it may have been posted and that could not be checked: never post twice
}


class DigestRefused(Exception):
    """The user may not do this; the message says why in plain words."""


@dataclass(frozen=True)
class Subscribed:
    """The result of `/trust digest here`."""

    subscription: Subscription
    created: bool
    next_at: datetime


def schedule_of(sub: Subscription) -> DigestSchedule:
    """A stored subscription's schedule."""
    return DigestSchedule(
        weekday=sub.weekday,
        hour=sub.hour,
        minute=sub.minute,
        tz=sub.tz,
        tiers=frozenset(sub.tiers),
    )


def retry_at(attempts: int, now: datetime) -> datetime:
    """When to try again after `attempts` failed attempts."""
    return now + RETRY_GAPS[min(attempts - 1, len(RETRY_GAPS) - 1)]


class DigestService:
    """Subscribing channels, previews and the weekly posts."""

    def __init__(self, svc: Services):
        self.svc = svc

    async def may_manage(self, *, team_id: str, user_id: str, now: datetime) -> bool:
        """Workspace admins and the configured managers may (un)subscribe channels."""
        if user_id in self.svc.settings.manager_ids:
            return True
        return await self.svc.is_admin(team_id=team_id, user_id=user_id, now=now)

    async def _check(self, *, team_id: str, user_id: str, channel_id: str, now: datetime) -> None:
        if not await self.may_manage(team_id=team_id, user_id=user_id, now=now):
            raise DigestRefused(
                "Only workspace admins (and the managers named in the bot's settings) can "
                "subscribe or unsubscribe channels. Ask one of them, or use "
                "`/trust digest preview` to see the digest yourself."
            )
        if channel_id.startswith("D"):
            raise DigestRefused(
                "Digests go to channels, not direct messages. Run this in the channel "
                "that should get it."
            )
        try:
            info = await self.svc.client.conversations_info(channel=channel_id)
            member = bool(info["channel"].get("is_member"))
        except SlackApiError:
            member = False
        if not member:
            raise DigestRefused(
                "I'm not in this channel yet, so I couldn't post the digest here. "
                "Invite me first (type `/invite @trustloop`), then run the command again."
            )

    async def subscribe(
        self,
        *,
        team_id: str,
        user_id: str,
        channel_id: str,
        schedule: DigestSchedule,
        now: datetime,
    ) -> Subscribed:
        """Subscribe the channel, or change its one subscription."""
        await self._check(team_id=team_id, user_id=user_id, channel_id=channel_id, now=now)
        async with self.svc.engine.begin() as conn:
            sub, created = await dq.save_subscription(
                conn,
                team_id=team_id,
                channel_id=channel_id,
                weekday=schedule.weekday,
                hour=schedule.hour,
                minute=schedule.minute,
                tz=schedule.tz,
                tiers=tuple(sorted(schedule.tiers)),
                user_id=user_id,
                now=now,
            )
        self.svc.on_subscriptions_changed()
        return Subscribed(sub, created, digest_rules.next_due(schedule, now=now))

    async def unsubscribe(
        self, *, team_id: str, user_id: str, channel_id: str, now: datetime
    ) -> bool:
        """End the channel's subscription; False if it had none."""
        if not await self.may_manage(team_id=team_id, user_id=user_id, now=now):
            raise DigestRefused(
                "Only workspace admins (and the managers named in the bot's settings) can "
                "unsubscribe channels."
            )
        async with self.svc.engine.begin() as conn:
            ended = await dq.end_subscription(conn, team_id=team_id, channel_id=channel_id, now=now)
        self.svc.on_subscriptions_changed()
        return ended

    async def subscription(self, *, team_id: str, channel_id: str) -> Subscription | None:
        """The channel's subscription, if any."""
        async with self.svc.engine.connect() as conn:
            return await dq.get_subscription(conn, team_id=team_id, channel_id=channel_id)

    async def subscriptions(self, *, team_id: str | None = None) -> list[Subscription]:
        """Active subscriptions (all workspaces when no team is given)."""
        async with self.svc.engine.connect() as conn:
            return await dq.active_subscriptions(conn, team_id=team_id)

    async def build(
        self, *, team_id: str, now: datetime, tiers: tuple[str, ...] = (), chart: bool = True
    ) -> Digest:
        """The digest as it would be posted at `now`."""
        return await self.svc.health.digest(team_id=team_id, now=now, tiers=tiers, chart=chart)

    # --- posting -----------------------------------------------------------------------

    async def run_due(self, now: datetime) -> int:
        """Post every digest due at `now` (and retries that are due); returns how many posted.

        Channels sharing a workspace and tiers get the same digest at the same instant, so
        each distinct one is computed (and its chart drawn) once per run.
        """
        posted = 0
        built: dict[tuple[str, tuple[str, ...]], Digest] = {}
        async with self.svc.engine.connect() as conn:
            subs = await dq.active_subscriptions(conn)
        for sub in subs:
            async with self.svc.engine.connect() as conn:
                last = await dq.last_claimed_week(conn, subscription_id=sub.id)
            week = digest_rules.digest_due(schedule_of(sub), now=now, last_posted_week=last)
            if week is None:
                continue
            async with self.svc.engine.begin() as conn:
                post_id = await dq.claim_post(conn, subscription=sub, week=week, now=now)
            if post_id is None:
                continue  # another process (or an earlier tick) has it
            posted += await self._attempt(sub, post_id, week, attempts=0, now=now, built=built)
        async with self.svc.engine.connect() as conn:
            retries = await dq.due_retries(conn, now=now)
        for post in retries:
            posted += await self._retry(post, now, built)
        return posted

    async def _retry(
        self, post: DigestPost, now: datetime, built: dict[tuple[str, tuple[str, ...]], Digest]
    ) -> int:
        async with self.svc.engine.connect() as conn:
            subs = {s.id: s for s in await dq.active_subscriptions(conn, team_id=post.team_id)}
        sub = subs.get(post.subscription_id)
        week_over = (
            now >= digest_rules.due_instant(schedule_of(sub), post.week + timedelta(weeks=1))
            if sub
            else True
        )
        async with self.svc.engine.begin() as conn:
            if sub is None or week_over:
                # Unsubscribed meanwhile, or a new week's digest is due: this one is stale.
                await dq.record_post(
                    conn,
                    post_id=post.id,
                    status=dq.GAVE_UP,
                    attempts=post.attempts,
                    now=now,
                    error=post.error or "stale",
                )
                return 0
            if not await dq.take_retry(conn, post=post, now=now):
                return 0
        return await self._attempt(
            sub,
            post.id,
            post.week,
            attempts=post.attempts,
            now=now,
            look_first=uncertain_error(post.error),
            built=built,
        )

    async def _attempt(
        self,
        sub: Subscription,
        post_id: int,
        week: date,
        *,
        attempts: int,
        now: datetime,
        look_first: bool = False,
        built: dict[tuple[str, tuple[str, ...]], Digest],
    ) -> int:
        attempts += 1
        try:
            digest = built.get((sub.team_id, sub.tiers))
            if digest is None:
                digest = await self.build(team_id=sub.team_id, now=now, tiers=sub.tiers)
                built[(sub.team_id, sub.tiers)] = digest
            # Never twice: a post that may have landed is looked for before another one.
            response = await post_once(
                self.svc.client,
                channel=sub.channel_id,
                event_type="trustloop_digest",
                key={"subscription": sub.id, "week": week.isoformat()},
                look_first=look_first,
                text=digest_fallback(digest),
                blocks=build_digest(digest),
                unfurl_links=False,
            )
        except Exception as exc:  # every failure is recorded, none is lost
            error = _error(exc)
            permanent = error in PERMANENT or attempts >= MAX_ATTEMPTS
            async with self.svc.engine.begin() as conn:
                await dq.record_post(
                    conn,
                    post_id=post_id,
                    status=dq.GAVE_UP if permanent else dq.FAILED,
                    attempts=attempts,
                    now=now,
                    error=error,
                    next_attempt_at=None if permanent else retry_at(attempts, now),
                )
            log.warning(
                "digest not posted",
                extra={"subscription": sub.id, "error": error, "attempts": attempts},
            )
            return 0
        chart_error = await self._upload_chart(sub, digest, now)
        async with self.svc.engine.begin() as conn:
            await dq.record_post(
                conn,
                post_id=post_id,
                status=dq.POSTED,
                attempts=attempts,
                now=now,
                message_ts=str(response.get("ts") or ""),
                chart_error=chart_error,
            )
        return 1

    async def _upload_chart(self, sub: Subscription, digest: Digest, now: datetime) -> str | None:
        """Upload the trend chart beside the digest; a failure never undoes the digest."""
        if not digest.chart or digest.accounts == 0:
            return None
        try:
            png = _chart_png(
                tuple(s.week for s in digest.chart),
                tuple(s.at_risk for s in digest.chart),
                tuple(s.avg_trust for s in digest.chart),
            )
            await self.svc.client.files_upload_v2(
                channel=sub.channel_id,
                content=png,
                filename=f"trust-trend-{now.date().isoformat()}.png",
                title="Trust trend, last 12 weeks",
                initial_comment="At-risk accounts (bars) and average trust (line), last 12 weeks",
            )
        except Exception as exc:  # the digest itself is already posted
            error = _error(exc)
            log.warning("digest chart not uploaded", extra={"subscription": sub.id, "error": error})
            return error
        return None


@functools.lru_cache(maxsize=8)
def _chart_png(
    weeks: tuple[date, ...], at_risk: tuple[int, ...], avg_trust: tuple[float | None, ...]
) -> bytes:
    # drawn once for all the channels a tick posts the same chart to (~70 ms a drawing)
    from bot.chart import render_trend_chart

    return render_trend_chart(
        list(weeks),
        list(at_risk),
        list(avg_trust),
        title="At-risk accounts and average trust, last 12 weeks",
    )


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__
