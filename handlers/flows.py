"""The /checkin flow shared by the slash command and the account-suggestion buttons."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackClientError

from bot import blocks
from bot.services import Services, slack_error
from bot.text import escape
from storage.models import Account

log = logging.getLogger(__name__)
# Above this many teammates a /checkin says the DMs are on their way before sending them.
PROGRESS_ABOVE = 20


async def start_checkin(
    svc: Services,
    respond: AsyncRespond | None,
    *,
    team_id: str,
    user_id: str,
    account: Account,
    kind: str,
    participants: Sequence[str],
    note: str,
    trigger_id: str | None,
    source: str = "slash_command",
) -> None:
    """Log the interaction, open the caller's check-in modal, then ask the teammates."""
    now = svc.now()
    logged = await svc.log_interaction(
        team_id=team_id,
        logged_by=user_id,
        account=account,
        kind=kind,
        note=note,
        source=source,
        now=now,
    )
    opened = False
    if logged.own is not None and trigger_id:
        try:
            await svc.client.views_open(
                trigger_id=trigger_id,
                view=blocks.build_checkin_modal(
                    logged.own, metadata=blocks.checkin_metadata(logged.own.checkin.id, None, None)
                ),
            )
            opened = True
        except SlackClientError as exc:
            log.warning("check-in modal did not open", extra={"error": slack_error(exc)})
    if logged.own is not None and not opened:
        opened = await svc.deliver(logged.own)

    async def sending(asked: Sequence[str]) -> None:
        # Many DMs take minutes under Slack's rate limits: say at once that they are coming.
        if respond is not None and len(asked) > PROGRESS_ABOVE:
            await respond(
                text=f"Logged a {kind} with {escape(account.name)}; sending check-ins.",
                blocks=blocks.build_sending(account_name=account.name, kind=kind, count=len(asked)),
                response_type="ephemeral",
                replace_original=False,
            )

    invited = await svc.invite(
        team_id=team_id,
        interaction=logged.interaction,
        participants=participants,
        now=now,
        on_stored=sending,
    )
    if respond is not None:
        summary = blocks.build_logged(
            account_name=account.name,
            kind=kind,
            asked=invited.asked,
            away=[*logged.away, *invited.away],
            skipped=[(s.user_id, s.reason) for s in invited.skipped],
            undelivered=invited.undelivered,
            own_opened=opened or logged.own is None,
        )
        await respond(
            text=f"Logged a {kind} with {escape(account.name)}.",
            blocks=summary,
            response_type="ephemeral",
            replace_original=False,
        )
