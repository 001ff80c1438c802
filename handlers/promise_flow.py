"""The /promise flow shared by the slash command and the account-suggestion buttons."""

from __future__ import annotations

from datetime import timedelta

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackClientError

from bot import promise_blocks
from bot.dates import DateParseError, parse_due_date
from bot.promises import PromiseError
from bot.services import Services
from bot.text import escape
from storage.models import Account

DEFAULT_DUE_DAYS = 7


async def log_promise(
    svc: Services,
    respond: AsyncRespond,
    *,
    team_id: str,
    user_id: str,
    account: Account,
    what: str,
    when_text: str | None,
    owner_id: str | None,
) -> None:
    """Resolve the date in the caller's timezone, store the promise, confirm it."""
    now = svc.now()
    tz = await svc.user_zone(team_id=team_id, user_id=user_id, now=now)
    today = now.astimezone(tz).date()
    if when_text:
        try:
            due = parse_due_date(when_text, now=now, tz=tz)
        except DateParseError as exc:
            await _say(respond, f":warning: {escape(str(exc))} Nothing was logged.")
            return
    else:
        due = today + timedelta(days=DEFAULT_DUE_DAYS)
    owner = owner_id or user_id
    try:
        detail = await svc.promises.log(
            team_id=team_id,
            created_by=user_id,
            account=account,
            what=what,
            owner_id=owner,
            due=due,
            interaction_id=None,
            now=now,
        )
    except PromiseError as exc:
        await _say(respond, f":warning: {exc} Nothing was logged.")
        return
    note = "" if when_text else f" No date given, so it is due in {DEFAULT_DUE_DAYS} days."
    await respond(
        text=f"Promise logged for {escape(account.name)}.{note}",
        blocks=promise_blocks.build_promise_logged(detail),
        response_type="ephemeral",
        replace_original=False,
    )
    if owner != user_id:
        await notify_owner(svc, detail)


async def notify_owner(svc: Services, detail: promise_blocks.PromiseDetail) -> None:
    """Tell an owner someone else logged a promise for them (best effort)."""
    try:
        await svc.post_dm(
            team_id=detail.promise.team_id,
            user_id=detail.promise.owner_id,
            text=f"A promise to {escape(detail.account_name)} is yours now.",
            blocks=promise_blocks.build_promise_for_owner(detail),
        )
    except SlackClientError:
        return


async def _say(respond: AsyncRespond, message: str) -> None:
    await respond(text=message, response_type="ephemeral", replace_original=False)
