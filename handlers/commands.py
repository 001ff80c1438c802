"""Slash commands: /checkin and /trust."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import blocks, ids, promise_blocks
from bot.dates import DateParseError, day_end, parse_due_date
from bot.parsing import (
    AccountAdd,
    AccountsList,
    AccountView,
    Away,
    Back,
    CommandError,
    Help,
    parse_checkin,
    parse_trust,
)
from bot.promise_parsing import PromiseList, parse_promise
from bot.text import escape
from handlers.common import services
from handlers.flows import start_checkin
from handlers.guard import guarded
from handlers.health_flow import TRUST_HEALTH, accounts_page, digest_command, show_account
from handlers.promise_flow import DEFAULT_DUE_DAYS, log_promise
from storage.queries import DuplicateAccountError, name_key

log = logging.getLogger(__name__)


async def _error(ack: AsyncAck, message: str) -> None:
    # Parse errors echo what the user typed: escape it so it can never ping or link.
    message = escape(message)
    await ack(response_type="ephemeral", text=message, blocks=blocks.build_error(message))


async def _say_error(respond: AsyncRespond, message: str) -> None:
    """The same plain-words error, after the ack (through the command's response_url)."""
    message = escape(message)
    await respond(response_type="ephemeral", text=message, blocks=blocks.build_error(message))


async def handle_checkin_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """/checkin: log an interaction and ask everyone who took part for a check-in."""
    svc = services(context)
    team_id, user_id = command["team_id"], command["user_id"]
    text = (command.get("text") or "").strip()
    if not text:
        await ack()
        await svc.client.views_open(
            trigger_id=command["trigger_id"], view=blocks.build_interaction_modal()
        )
        return
    # Ack at once: the account names come from the database, which may be busy with other
    # requests' work; Slack's 3 seconds must never depend on that.
    await ack()
    accounts = await svc.accounts(team_id=team_id)
    try:
        parsed = parse_checkin(text, [a.name for a in accounts])
    except CommandError as exc:
        await _say_error(respond, str(exc))
        return
    by_key = {name_key(a.name): a for a in accounts}
    account = by_key.get(name_key(parsed.account_name))
    if account is None:
        draft_id = await svc.save_draft(
            team_id=team_id, user_id=user_id, kind="checkin", payload=asdict(parsed), now=svc.now()
        )
        suggestions = svc.suggestions(parsed.account_name, accounts)
        await respond(
            response_type="ephemeral",
            text=f"There is no account called {escape(parsed.account_name)}.",
            blocks=blocks.build_unknown_account(parsed.account_name, suggestions, draft_id),
        )
        return
    await start_checkin(
        svc,
        respond,
        team_id=team_id,
        user_id=user_id,
        account=account,
        kind=parsed.kind,
        participants=parsed.participants,
        note=parsed.note,
        trigger_id=command.get("trigger_id"),
    )


async def handle_trust_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """/trust: help, accounts, account health, digests, away and back."""
    svc = services(context)
    team_id, user_id = command["team_id"], command["user_id"]
    try:
        parsed = parse_trust(command.get("text") or "")
    except CommandError as exc:
        await _error(ack, str(exc))
        return
    if isinstance(parsed, Help):
        await ack(response_type="ephemeral", text=blocks.help_text(), blocks=blocks.build_help())
        return
    await ack()
    now = svc.now()
    if isinstance(parsed, TRUST_HEALTH):
        if isinstance(parsed, AccountView):
            answer = await show_account(svc, team_id=team_id, cmd=parsed)
        elif isinstance(parsed, AccountsList):
            answer = await accounts_page(svc, team_id=team_id, page=parsed.page)
        else:
            answer = await digest_command(
                svc,
                team_id=team_id,
                user_id=user_id,
                channel_id=command["channel_id"],
                cmd=parsed,
            )
        await respond(response_type="ephemeral", **answer)
        return
    if isinstance(parsed, AccountAdd):
        message = await _add_account(svc, team_id, user_id, parsed)
    elif isinstance(parsed, Away):
        tz = await svc.user_zone(team_id=team_id, user_id=user_id, now=now)
        try:
            last_day = parse_due_date(parsed.until_text, now=now, tz=tz)
        except DateParseError as exc:
            message = f":warning: {escape(str(exc))}"
        else:
            away = await svc.set_away(
                team_id=team_id, user_id=user_id, until=day_end(last_day, tz), now=now
            )
            message = (
                f":palm_tree: You're away until the end of {blocks.last_day_away(away)}"
                " — no check-ins or reminders until then. `/trust back` ends it early."
            )
            await svc.publish_home(team_id=team_id, user_id=user_id, now=now)
    else:
        assert isinstance(parsed, Back)
        ended = await svc.end_away(team_id=team_id, user_id=user_id, now=now)
        message = (
            ":wave: Welcome back — check-ins are on again."
            if ended
            else "You weren't marked away; check-ins are on."
        )
        if ended:
            await svc.publish_home(team_id=team_id, user_id=user_id, now=now)
    await respond(text=message, response_type="ephemeral")


async def _add_account(svc: Any, team_id: str, user_id: str, cmd: AccountAdd) -> str:
    now = svc.now()
    if cmd.owner_id:
        owner = (await svc.users(team_id=team_id, user_ids=[cmd.owner_id], now=now)).get(
            cmd.owner_id
        )
        if owner is None or owner.is_bot or owner.deleted:
            return (
                ":warning: The owner must be a person in this workspace "
                f"(<@{cmd.owner_id}> is not). Nothing was created."
            )
    try:
        account = await svc.add_account(team_id=team_id, user_id=user_id, cmd=cmd, now=now)
    except DuplicateAccountError:
        existing = next(
            (
                a
                for a in await svc.accounts(team_id=team_id)
                if name_key(a.name) == name_key(cmd.name)
            ),
            None,
        )
        shown = existing.name if existing else cmd.name
        return (
            f":warning: There is already an account called *{escape(shown)}*. Nothing was created."
        )
    details = [f"tier {account.tier}"]
    if account.yearly_value is not None:
        details.append(f"yearly value {account.yearly_value:,.0f}")
    details.append(f"owner <@{account.owner_id}>" if account.owner_id else "no owner yet")
    return f":white_check_mark: Created account *{escape(account.name)}* ({', '.join(details)})."


async def handle_promise_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """/promise: log a promise, or list promises with their buttons."""
    svc = services(context)
    team_id, user_id = command["team_id"], command["user_id"]
    text = (command.get("text") or "").strip()
    now = svc.now()
    if not text:
        await ack()
        tz = await svc.user_zone(team_id=team_id, user_id=user_id, now=now)
        recent = await svc.recent_interactions(team_id=team_id, user_id=user_id, limit=20)
        await svc.client.views_open(
            trigger_id=command["trigger_id"],
            view=promise_blocks.build_new_promise_modal(
                owner=user_id,
                due=now.astimezone(tz).date() + timedelta(days=DEFAULT_DUE_DAYS),
                interactions=recent,
            ),
        )
        return
    await ack()  # at once, as for /checkin: what follows waits on the database
    accounts = await svc.accounts(team_id=team_id)
    try:
        parsed = parse_promise(text, [a.name for a in accounts])
    except CommandError as exc:
        await _say_error(respond, str(exc))
        return
    by_key = {name_key(a.name): a for a in accounts}
    if isinstance(parsed, PromiseList):
        tz = await svc.user_zone(team_id=team_id, user_id=user_id, now=now)
        today = now.astimezone(tz).date()
        account = by_key.get(name_key(parsed.account_name or ""))
        if parsed.scope == "account" and account is None:
            names = svc.suggestions(parsed.account_name or "", accounts)
            hint = (
                (" Did you mean " + ", ".join(escape(n) for _, n in names) + "?") if names else ""
            )
            await respond(
                text=f"There is no account called {escape(parsed.account_name or '')}.{hint}",
                response_type="ephemeral",
            )
            return
        found, total = await svc.promises.find(
            team_id=team_id,
            scope=parsed.scope,
            today=today,
            user_id=user_id,
            account_id=account.id if account else None,
        )
        title = {
            "mine": "Your open promises",
            "overdue": "Overdue promises",
            "all": "Open promises",
        }.get(parsed.scope, f"Open promises to {account.name if account else ''}")
        await respond(
            text=escape(title),
            blocks=promise_blocks.build_promise_list(found, total=total, title=title, today=today),
            response_type="ephemeral",
        )
        return
    account = by_key.get(name_key(parsed.account_name))
    if account is None:
        draft_id = await svc.save_draft(
            team_id=team_id, user_id=user_id, kind="promise", payload=asdict(parsed), now=now
        )
        suggestions = svc.suggestions(parsed.account_name, accounts)
        await respond(
            response_type="ephemeral",
            text=f"There is no account called {escape(parsed.account_name)}.",
            blocks=blocks.build_unknown_account(
                parsed.account_name,
                suggestions,
                draft_id,
                pick_action=ids.PICK_PROMISE_ACCOUNT,
                create_action=ids.CREATE_PROMISE_ACCOUNT,
                continues="promise",
            ),
        )
        return
    await log_promise(
        svc,
        respond,
        team_id=team_id,
        user_id=user_id,
        account=account,
        what=parsed.what,
        when_text=parsed.when_text,
        owner_id=parsed.owner_id,
    )


def register(app: AsyncApp) -> None:
    """Register the slash commands."""
    app.command("/checkin")(guarded(handle_checkin_command))
    app.command("/promise")(guarded(handle_promise_command))
    app.command("/trust")(guarded(handle_trust_command))
