"""The /trust account, /trust accounts and /trust digest flows, shared by command and buttons."""

from __future__ import annotations

from typing import Any

from bot import digest_rules
from bot.blocks import build_notice
from bot.digest_rules import DigestScheduleError, parse_digest_here
from bot.digests import DigestRefused
from bot.health_blocks import (
    account_card_text,
    build_account_card,
    build_account_card_modal,
    build_accounts_page,
    build_digest,
    digest_fallback,
)
from bot.parsing import AccountsList, AccountView, DigestHere, DigestOff, DigestPreview
from bot.text import escape
from storage.queries import name_key


async def account_card_message(svc: Any, *, team_id: str, account_id: int) -> dict[str, Any]:
    """The account card as message arguments (an unknown id gets a plain answer)."""
    account = await svc.account(team_id=team_id, account_id=account_id)
    if account is None:
        return {"text": "That account doesn't exist in this workspace."}
    now = svc.now()
    card = await svc.health.card(account=account, now=now)
    return {"text": escape(account_card_text(card)), "blocks": build_account_card(card, now=now)}


async def account_card_modal(svc: Any, *, team_id: str, account_id: int | None) -> dict[str, Any]:
    """The account card as a modal view (an unknown or tampered id gets a plain notice)."""
    account = None
    if account_id is not None:
        account = await svc.account(team_id=team_id, account_id=account_id)
    if account is None:
        return build_notice("Account", "That account doesn't exist in this workspace.")
    now = svc.now()
    card = await svc.health.card(account=account, now=now)
    return build_account_card_modal(card, now)


async def show_account(svc: Any, *, team_id: str, cmd: AccountView) -> dict[str, Any]:
    """`/trust account <name>`."""
    accounts = await svc.accounts(team_id=team_id)
    account = next((a for a in accounts if name_key(a.name) == name_key(cmd.name)), None)
    if account is None:
        names = svc.suggestions(cmd.name, accounts)
        shown = ", ".join(f"*{escape(n)}*" for _, n in names)
        hint = f" Did you mean {shown}?" if names else ""
        return {
            "text": f"There is no account called *{escape(cmd.name)}*.{hint} "
            "`/trust accounts` lists them all."
        }
    return await account_card_message(svc, team_id=team_id, account_id=account.id)


async def accounts_page(svc: Any, *, team_id: str, page: int) -> dict[str, Any]:
    """One page of `/trust accounts`."""
    ranked = await svc.health.assess_all(team_id=team_id, now=svc.now())
    return {"text": "Accounts by risk", "blocks": build_accounts_page(ranked, page=page)}


async def digest_command(
    svc: Any, *, team_id: str, user_id: str, channel_id: str, cmd: Any
) -> dict[str, Any]:
    """`/trust digest here | off | preview`."""
    now = svc.now()
    if isinstance(cmd, DigestPreview):
        sub = await svc.digests.subscription(team_id=team_id, channel_id=channel_id)
        digest = await svc.digests.build(
            team_id=team_id, now=now, tiers=sub.tiers if sub else (), chart=False
        )
        return {"text": digest_fallback(digest), "blocks": build_digest(digest)}
    try:
        if isinstance(cmd, DigestOff):
            ended = await svc.digests.unsubscribe(
                team_id=team_id, user_id=user_id, channel_id=channel_id, now=now
            )
            return {
                "text": ":no_bell: This channel will no longer get the weekly digest."
                if ended
                else "This channel isn't subscribed to the digest; nothing changed."
            }
        assert isinstance(cmd, DigestHere)
        tz = await svc.user_zone(team_id=team_id, user_id=user_id, now=now)
        try:
            schedule = parse_digest_here(cmd.args, default_tz=str(tz))
        except DigestScheduleError as exc:
            return {"text": f":warning: {exc}"}
        done = await svc.digests.subscribe(
            team_id=team_id, user_id=user_id, channel_id=channel_id, schedule=schedule, now=now
        )
    except DigestRefused as exc:
        return {"text": f":warning: {exc}"}
    verb = "subscribed to" if done.created else "updated for"
    when = digest_rules.describe_instant(done.next_at, schedule.tz)
    return {
        "text": f":white_check_mark: This channel is {verb} the weekly trust digest: "
        f"{escape(schedule.describe())}. Next one: {when}. "
        "`/trust digest preview` shows it now; `/trust digest off` stops it."
    }


TRUST_HEALTH = (AccountView, AccountsList, DigestHere, DigestOff, DigestPreview)
