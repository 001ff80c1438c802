"""Text helpers: escaping user text for Slack, reading Slack's escaped command text."""

from __future__ import annotations

import re

MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
TOKEN = re.compile(r"<([@#!])([^>|]*)(?:\|([^>]*))?>")


def escape(text: str) -> str:
    """Escape &, < and > so user text can never become a mention, link or ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of &, < and > in text it sends us."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def readable(text: str) -> str:
    """Turn Slack tokens (<@U1|bob>, <!channel>, <#C1|sales>) into plain words; unescape."""

    def plain(match: re.Match[str]) -> str:
        sigil, ident, label = match.group(1), match.group(2), match.group(3)
        if sigil == "@":
            return "@" + (label or ident)
        if sigil == "#":
            return "#" + (label or ident)
        name = ident.split("^", 1)[0]
        return "@" + (label or name) if name in {"channel", "here", "everyone"} else (label or name)

    return unescape(TOKEN.sub(plain, text))


def truncate(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def user_mentions(text: str) -> list[str]:
    """User ids mentioned as <@U...> in order, without repeats."""
    seen: list[str] = []
    for match in MENTION.finditer(text):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return seen
