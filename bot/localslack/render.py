"""Block Kit as HTML, for the local workspace page (`bot.localslack.web`).

Pure functions: a message's or view's blocks in, an HTML string out, rendered for one
reader (`Viewer`: who reads, in which timezone, at which instant, and the names of users
and channels). Every piece of text is HTML-escaped; Slack's own escapes (``&amp;``,
``&lt;``, ``&gt;``) are read back first, so user text shows exactly as typed and can never
become markup. mrkdwn is rendered as Slack does: ``*bold*``, ``_italic_``, ``~strike~``,
`` `code` ``, fenced code, ``>`` quotes, mentions, channel links, ``<!here>``, links
(http, https and mailto only) and ``<!date^…>`` in the reader's own timezone.

Interactive elements carry what the page needs to send Slack's payloads back
(``data-action-id``, ``data-block-id``, ``data-value``); inputs in modals are named
``input-<n>`` in block order, which `input_elements` reproduces when the form comes back.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

EMOJI: dict[str, str] = {
    "alarm_clock": "⏰",
    "calendar": "📅",
    "fast_forward": "⏩",
    "handshake": "🤝",
    "heavy_minus_sign": "➖",
    "hourglass": "⌛",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "red_circle": "🔴",
    "white_circle": "⚪",
    "mag": "🔍",
    "memo": "📝",
    "new": "🆕",
    "no_bell": "🔕",
    "palm_tree": "🌴",
    "sparkles": "✨",
    "tada": "🎉",
    "warning": "⚠️",
    "wave": "👋",
    "white_check_mark": "✅",
    "x": "❌",
    "chart_with_upwards_trend": "📈",
    "chart_with_downwards_trend": "📉",
    "bell": "🔔",
    "eyes": "👀",
    "thumbsup": "👍",
    "+1": "👍",
    "bulb": "💡",
    "rotating_light": "🚨",
    "star": "⭐",
}
INPUT_TYPES = frozenset(
    {
        "plain_text_input",
        "static_select",
        "external_select",
        "users_select",
        "multi_users_select",
        "multi_static_select",
        "conversations_select",
        "channels_select",
        "datepicker",
        "timepicker",
        "radio_buttons",
        "checkboxes",
        "number_input",
        "email_text_input",
        "url_text_input",
    }
)

_TOKEN = re.compile(r"<([^<>\n]+)>")
_EMOJI_CODE = re.compile(r":([a-z0-9_+\-]+):")
_CODE_BLOCK = re.compile(r"```(.+?)```", re.DOTALL)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_HOLE = re.compile(r"\x00(\d+)\x00")
_SAFE_URL = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)
_ORDINAL = {1: "st", 2: "nd", 3: "rd"}


@dataclass(frozen=True)
class Viewer:
    """Who reads the blocks: their id, timezone, the current instant, known names."""

    user_id: str = ""
    tz: str = "UTC"
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    users: Mapping[str, str] = field(default_factory=dict)  # user id -> display name
    channels: Mapping[str, str] = field(default_factory=dict)  # channel id -> name
    people: Mapping[str, str] = field(default_factory=dict)  # who people pickers offer

    @property
    def pickable(self) -> Mapping[str, str]:
        """The people a users select offers (everyone named when `people` is not given)."""
        return self.people or self.users

    @property
    def zone(self) -> ZoneInfo:
        """The reader's timezone (UTC when unknown)."""
        try:
            return ZoneInfo(self.tz)
        except (KeyError, ValueError):
            return ZoneInfo("UTC")


@dataclass
class Form:
    """What a modal form shows besides its blocks: typed values, errors, loaded options."""

    values: Mapping[str, Any] = field(default_factory=dict)  # state.values of the view
    errors: Mapping[str, str] = field(default_factory=dict)  # block id -> error text
    options: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    counter: list[int] = field(default_factory=lambda: [0])


def esc(text: Any) -> str:
    """HTML-escape any value (quotes too, so it is safe in attributes)."""
    return html.escape(str(text), quote=True)


def slack_unescape(text: str) -> str:
    """Undo Slack's escaping of &, < and > (the only entities Slack uses)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def emojify(escaped: str) -> str:
    """Replace known :emoji: codes with the characters (input is already HTML-escaped)."""
    return _EMOJI_CODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)


# --- text objects -----------------------------------------------------------------------


def plain_html(text: str, *, emoji: bool = True) -> str:
    """plain_text as HTML: escaped, emoji codes replaced, line breaks kept."""
    out = esc(slack_unescape(text))
    if emoji:
        out = emojify(out)
    return out.replace("\n", "<br>")


def text_html(obj: Any, viewer: Viewer) -> str:
    """A text object (plain_text or mrkdwn) as HTML."""
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return mrkdwn_html(text, viewer)
    return plain_html(text, emoji=obj.get("emoji", True) is not False)


def mrkdwn_html(text: str, viewer: Viewer) -> str:
    """Slack mrkdwn as HTML for `viewer` (see the module docstring)."""
    holes: list[str] = []

    def hole(rendered: str) -> str:
        holes.append(rendered)
        return f"\x00{len(holes) - 1}\x00"

    def fill(s: str) -> str:
        while _HOLE.search(s):
            s = _HOLE.sub(lambda m: holes[int(m.group(1))], s)
        return s

    # Tokens first (their labels may hold * or _), then code, then emphasis.
    work = _TOKEN.sub(lambda m: hole(_token_html(m.group(1), viewer)), text)
    work = esc(slack_unescape(work))
    work = _CODE_BLOCK.sub(lambda m: hole(f"<pre>{fill(m.group(1).strip(chr(10)))}</pre>"), work)
    work = _CODE_SPAN.sub(lambda m: hole(f"<code>{fill(m.group(1))}</code>"), work)
    work = emojify(work)
    work = _BOLD.sub(r"<b>\1</b>", work)
    work = _ITALIC.sub(r"<i>\1</i>", work)
    work = _STRIKE.sub(r"<s>\1</s>", work)
    lines = []
    for line in work.split("\n"):
        if line.startswith("&gt; ") or line == "&gt;":
            line = f'<span class="quote">{line[5:]}</span>'
        lines.append(line)
    return fill("<br>".join(lines))


def _token_html(inner: str, viewer: Viewer) -> str:
    """One ``<…>`` token of mrkdwn as HTML."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        user_id = target[1:]
        name = viewer.users.get(user_id) or slack_unescape(label) or user_id
        me = " me" if user_id == viewer.user_id else ""
        return f'<span class="mention{me}" data-user="{esc(user_id)}">@{esc(name)}</span>'
    if target.startswith("#"):
        channel = target[1:]
        name = viewer.channels.get(channel) or slack_unescape(label) or channel
        return f'<span class="mention channel">#{esc(name)}</span>'
    if target.startswith("!date^"):
        return _date_html(target, label, viewer)
    if target.startswith("!subteam^"):
        return f'<span class="mention">{esc(slack_unescape(label) or "@group")}</span>'
    if target.startswith("!"):
        name = target[1:].split("^", 1)[0]
        return f'<span class="mention broadcast">@{esc(label or name)}</span>'
    url = slack_unescape(target)
    if _SAFE_URL.match(url):
        shown = esc(slack_unescape(label) or url)
        return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{shown}</a>'
    return esc(f"<{slack_unescape(inner)}>")


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else _ORDINAL.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_words(local: datetime, today: date, style: str) -> str:
    """One of Slack's date styles for a local datetime."""
    day = local.date()
    if style.endswith("_pretty"):
        delta = (day - today).days
        if delta in (-1, 0, 1):
            return {-1: "Yesterday", 0: "Today", 1: "Tomorrow"}[delta]
        style = style.removesuffix("_pretty") or "date"
    if style == "date_num":
        return day.isoformat()
    if style == "date_short":
        return f"{local:%b} {local.day}, {local.year}"
    if style == "date_long":
        return f"{local:%A}, {local:%B} {_ordinal(local.day)}, {local.year}"
    return f"{local:%B} {_ordinal(local.day)}, {local.year}"


def _ago(then: datetime, now: datetime) -> str:
    seconds = int((now - then).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            words = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {words}" if future else f"{words} ago"
    return "just now"


def format_date(stamp: int, fmt: str, viewer: Viewer) -> str:
    """Slack's ``<!date^stamp^format|…>`` formatting in the reader's timezone."""
    when = datetime.fromtimestamp(stamp, UTC)
    local = when.astimezone(viewer.zone)
    today = viewer.now.astimezone(viewer.zone).date()

    def token(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "time":
            return f"{local:%H:%M}"
        if name == "time_secs":
            return f"{local:%H:%M:%S}"
        if name == "ago":
            return _ago(when, viewer.now)
        if name in {
            "date_num",
            "date",
            "date_short",
            "date_long",
            "date_pretty",
            "date_short_pretty",
            "date_long_pretty",
        }:
            return _date_words(local, today, name)
        return m.group(0)

    return re.sub(r"\{([a-z_]+)\}", token, fmt)


def _date_html(target: str, fallback: str, viewer: Viewer) -> str:
    parts = target.split("^")
    try:
        stamp = int(parts[1])
        shown = format_date(stamp, parts[2] if len(parts) > 2 else "{date}", viewer)
        iso = datetime.fromtimestamp(stamp, UTC).isoformat()
    except (IndexError, ValueError, OverflowError, OSError):
        return esc(slack_unescape(fallback))
    return (
        f'<time datetime="{esc(iso)}" title="{esc(slack_unescape(fallback))}">{esc(shown)}</time>'
    )


# --- elements ---------------------------------------------------------------------------


def _data(block_id: str, element: Mapping[str, Any]) -> str:
    """The data attributes an interactive element needs to send its block_actions."""
    attrs = {
        "data-action-id": element.get("action_id") or "",
        "data-block-id": block_id,
        "data-type": element.get("type") or "",
    }
    if element.get("value") is not None:
        attrs["data-value"] = element["value"]
    return " ".join(f'{k}="{esc(v)}"' for k, v in attrs.items())


def select_options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The options of a select element, option groups flattened."""
    found = [o for o in element.get("options") or [] if isinstance(o, Mapping)]
    for group in element.get("option_groups") or []:
        if isinstance(group, Mapping):
            found += [o for o in group.get("options") or [] if isinstance(o, Mapping)]
    return found


def button_html(element: Mapping[str, Any], block_id: str, viewer: Viewer) -> str:
    """A button that sends block_actions when clicked (and opens its url, if any)."""
    style = element.get("style")
    classes = "bk-button" + (f" {style}" if style in ("primary", "danger") else "")
    label = text_html(element.get("text"), viewer)
    url = str(element.get("url") or "")
    link = f' data-url="{esc(url)}"' if _SAFE_URL.match(url) else ""
    return (
        f'<button type="button" class="{classes}" {_data(block_id, element)}{link}>{label}</button>'
    )


def _live_select(
    element: Mapping[str, Any], block_id: str, viewer: Viewer, options: list[tuple[str, str]]
) -> str:
    """A select outside an input block: choosing sends block_actions at once."""
    placeholder = text_html(element.get("placeholder"), viewer) or "Choose…"
    items = [f'<option value="">{placeholder}</option>']
    items += [f'<option value="{esc(v)}">{label}</option>' for v, label in options]
    return f'<select class="bk-live" {_data(block_id, element)}>{"".join(items)}</select>'


def element_html(element: Any, block_id: str, viewer: Viewer) -> str:
    """An element of a section accessory, an actions block or a context block."""
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind == "button":
        return button_html(element, block_id, viewer)
    if kind in ("mrkdwn", "plain_text"):
        return f"<span>{text_html(element, viewer)}</span>"
    if kind == "image":
        return image_html(element, small=True)
    if kind in ("static_select", "overflow"):
        opts = [
            (str(o.get("value")), text_html(o.get("text"), viewer)) for o in select_options(element)
        ]
        return _live_select(element, block_id, viewer, opts)
    if kind == "users_select":
        opts = [(uid, esc(name)) for uid, name in viewer.pickable.items()]
        return _live_select(element, block_id, viewer, opts)
    if kind == "datepicker":
        initial = esc(element.get("initial_date") or "")
        return f'<input type="date" class="bk-live" value="{initial}" {_data(block_id, element)}>'
    label = text_html(element.get("placeholder"), viewer) or esc(kind or "element")
    return f'<span class="bk-unsupported">[{label}]</span>'


def image_html(element: Mapping[str, Any], *, small: bool = False) -> str:
    """An image element or block; only http(s) URLs and files of this workspace are shown."""
    url = str(element.get("image_url") or "")
    slack_file = element.get("slack_file")
    if isinstance(slack_file, Mapping) and slack_file.get("id"):
        url = f"/files/{slack_file['id']}"
    elif not _SAFE_URL.match(url) or url.lower().startswith("mailto:"):
        url = ""
    alt = esc(element.get("alt_text") or "")
    if not url:
        return f'<span class="bk-image-missing">[image: {alt}]</span>'
    cls = "bk-image small" if small else "bk-image"
    return f'<img class="{cls}" src="{esc(url)}" alt="{alt}" title="{alt}">'


# --- inputs in modals -------------------------------------------------------------------


def input_elements(blocks: Sequence[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(block_id, action_id, element) of every input block, in the order names are given."""
    found = []
    for block in blocks:
        if not isinstance(block, Mapping) or block.get("type") != "input":
            continue
        element = block.get("element")
        if isinstance(element, dict):
            found.append((str(block.get("block_id") or ""), str(element.get("action_id")), element))
    return found


def _state_of(form: Form, block_id: str, action_id: str) -> Mapping[str, Any] | None:
    state = (form.values.get(block_id) or {}).get(action_id)
    return state if isinstance(state, Mapping) else None


def _chosen(state: Mapping[str, Any] | None, element: Mapping[str, Any]) -> set[str]:
    """The option values chosen now: typed state first, else the element's initial ones."""
    if state is not None:
        one = state.get("selected_option")
        many = state.get("selected_options") or []
        picked = [one] if isinstance(one, Mapping) else list(many)
        return {str(o.get("value")) for o in picked if isinstance(o, Mapping)}
    one = element.get("initial_option")
    many = element.get("initial_options") or []
    picked = [one] if isinstance(one, Mapping) else list(many)
    return {str(o.get("value")) for o in picked if isinstance(o, Mapping)}


def input_control_html(
    element: Mapping[str, Any], block_id: str, action_id: str, viewer: Viewer, form: Form
) -> str:
    """The form control of one input block's element."""
    name = f"input-{form.counter[0]}"
    form.counter[0] += 1
    kind = element.get("type")
    state = _state_of(form, block_id, action_id)
    placeholder = esc(slack_unescape(str((element.get("placeholder") or {}).get("text") or "")))
    if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        value = state.get("value") if state is not None else element.get("initial_value")
        value = "" if value is None else str(value)
        limit = element.get("max_length")
        maxlength = f' maxlength="{int(limit)}"' if isinstance(limit, int) else ""
        if element.get("multiline"):
            return (
                f'<textarea name="{name}" rows="3" placeholder="{placeholder}"{maxlength}>'
                f"{esc(value)}</textarea>"
            )
        input_type = {"number_input": "number", "email_text_input": "email"}.get(str(kind), "text")
        return (
            f'<input type="{input_type}" name="{name}" value="{esc(value)}" '
            f'placeholder="{placeholder}"{maxlength}>'
        )
    if kind == "datepicker":
        value = state.get("selected_date") if state is not None else element.get("initial_date")
        return f'<input type="date" name="{name}" value="{esc(value or "")}">'
    if kind == "timepicker":
        value = state.get("selected_time") if state is not None else element.get("initial_time")
        return f'<input type="time" name="{name}" value="{esc(value or "")}">'
    if kind in ("radio_buttons", "checkboxes"):
        chosen = _chosen(state, element)
        box = "radio" if kind == "radio_buttons" else "checkbox"
        rows = []
        for option in select_options(element):
            value = str(option.get("value"))
            checked = " checked" if value in chosen else ""
            label = text_html(option.get("text"), viewer)
            rows.append(
                f'<label class="choice"><input type="{box}" name="{name}" value="{esc(value)}"'
                f"{checked}> {label}</label>"
            )
        return f'<div class="choices">{"".join(rows)}</div>'
    if kind in ("static_select", "external_select", "multi_static_select"):
        chosen = _chosen(state, element)
        options = (
            list(form.options.get(f"{block_id}/{action_id}") or [])
            if kind == "external_select"
            else select_options(element)
        )
        multiple = " multiple" if kind.startswith("multi_") else ""
        items = [] if multiple else [f'<option value="">{placeholder or "Choose…"}</option>']
        for option in options:
            value = str(option.get("value"))
            selected = " selected" if value in chosen else ""
            items.append(
                f'<option value="{esc(value)}"{selected}>{text_html(option.get("text"), viewer)}'
                "</option>"
            )
        return f'<select name="{name}"{multiple}>{"".join(items)}</select>'
    if kind in ("users_select", "multi_users_select"):
        if state is not None:
            chosen = {str(u) for u in state.get("selected_users") or []}
            if state.get("selected_user"):
                chosen.add(str(state["selected_user"]))
        else:
            chosen = {str(u) for u in element.get("initial_users") or []}
            if element.get("initial_user"):
                chosen.add(str(element["initial_user"]))
        multiple = kind == "multi_users_select"
        items = [] if multiple else [f'<option value="">{placeholder or "Pick someone"}</option>']
        for user_id, uname in viewer.pickable.items():
            selected = " selected" if user_id in chosen else ""
            items.append(f'<option value="{esc(user_id)}"{selected}>@{esc(uname)}</option>')
        attr = " multiple" if multiple else ""
        return f'<select name="{name}"{attr}>{"".join(items)}</select>'
    if kind in ("conversations_select", "channels_select"):
        items = [f'<option value="">{placeholder or "Pick a channel"}</option>']
        items += [
            f'<option value="{esc(cid)}">#{esc(cname)}</option>'
            for cid, cname in viewer.channels.items()
        ]
        return f'<select name="{name}">{"".join(items)}</select>'
    return f'<span class="bk-unsupported">[{esc(kind or "input")}]</span>'


def form_state(
    blocks: Sequence[Any],
    form: Mapping[str, Sequence[str]],
    *,
    external: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, dict[str, Any]]:
    """``view.state.values`` as Slack sends it, from the page's form fields (``input-<n>``)."""
    values: dict[str, dict[str, Any]] = {}
    for n, (block_id, action_id, element) in enumerate(input_elements(blocks)):
        raw = [v for v in form.get(f"input-{n}", []) if v != ""]
        first = raw[0] if raw else None
        kind = str(element.get("type"))
        state: dict[str, Any] = {"type": kind}
        if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
            state["value"] = first
        elif kind == "datepicker":
            state["selected_date"] = first
        elif kind == "timepicker":
            state["selected_time"] = first
        elif kind in ("static_select", "external_select", "radio_buttons"):
            pool = (
                (external or {}).get(f"{block_id}/{action_id}") or []
                if kind == "external_select"
                else select_options(element)
            )
            state["selected_option"] = next(
                (dict(o) for o in pool if str(o.get("value")) == first), None
            )
        elif kind in ("checkboxes", "multi_static_select"):
            state["selected_options"] = [
                dict(o) for o in select_options(element) if str(o.get("value")) in raw
            ]
        elif kind == "users_select":
            state["selected_user"] = first
        elif kind == "multi_users_select":
            state["selected_users"] = raw
        elif kind == "conversations_select":
            state["selected_conversation"] = first
        elif kind == "channels_select":
            state["selected_channel"] = first
        values.setdefault(block_id, {})[action_id] = state
    return values


# --- blocks -----------------------------------------------------------------------------


def blocks_html(blocks: Sequence[Any], viewer: Viewer, form: Form | None = None) -> str:
    """A list of blocks as HTML (inputs only make sense inside a modal `form`)."""
    form = form or Form()
    parts = []
    for block in blocks:
        if isinstance(block, Mapping):
            parts.append(block_html(block, viewer, form))
    return "".join(parts)


def block_html(block: Mapping[str, Any], viewer: Viewer, form: Form) -> str:
    """One block as HTML."""
    kind = block.get("type")
    block_id = str(block.get("block_id") or "")
    if kind == "header":
        return f'<div class="bk-header">{text_html(block.get("text"), viewer)}</div>'
    if kind == "divider":
        return '<hr class="bk-divider">'
    if kind == "section":
        inner = ""
        if block.get("text"):
            inner += f'<div class="bk-text">{text_html(block.get("text"), viewer)}</div>'
        fields = [f for f in block.get("fields") or [] if isinstance(f, Mapping)]
        if fields:
            cells = "".join(f'<div class="bk-field">{text_html(f, viewer)}</div>' for f in fields)
            inner += f'<div class="bk-fields">{cells}</div>'
        accessory = block.get("accessory")
        side = (
            f'<div class="bk-accessory">{element_html(accessory, block_id, viewer)}</div>'
            if isinstance(accessory, Mapping)
            else ""
        )
        return f'<div class="bk-section"><div class="bk-main">{inner}</div>{side}</div>'
    if kind == "context":
        items = "".join(element_html(e, block_id, viewer) for e in block.get("elements") or [])
        return f'<div class="bk-context">{items}</div>'
    if kind == "actions":
        items = "".join(element_html(e, block_id, viewer) for e in block.get("elements") or [])
        return f'<div class="bk-actions">{items}</div>'
    if kind == "image":
        title = text_html(block.get("title"), viewer)
        caption = f'<div class="bk-caption">{title}</div>' if title else ""
        return f'<div class="bk-image-block">{caption}{image_html(block)}</div>'
    if kind == "input":
        return _input_block_html(block, block_id, viewer, form)
    if kind == "rich_text":
        return f'<div class="bk-text">{_rich_text_html(block.get("elements") or [], viewer)}</div>'
    return f'<div class="bk-unsupported">[{esc(kind or "block")} block]</div>'


def _input_block_html(block: Mapping[str, Any], block_id: str, viewer: Viewer, form: Form) -> str:
    element = block.get("element")
    if not isinstance(element, Mapping):
        return ""
    label = text_html(block.get("label"), viewer)
    optional = ' <span class="optional">(optional)</span>' if block.get("optional") else ""
    control = input_control_html(element, block_id, str(element.get("action_id")), viewer, form)
    hint = text_html(block.get("hint"), viewer)
    hint_html = f'<div class="bk-hint">{hint}</div>' if hint else ""
    error = form.errors.get(block_id)
    error_html = f'<div class="bk-error" role="alert">{esc(error)}</div>' if error else ""
    invalid = " invalid" if error else ""
    return (
        f'<div class="bk-input{invalid}" data-block-id="{esc(block_id)}">'
        f"<label>{label}{optional}</label>{control}{hint_html}{error_html}</div>"
    )


def _rich_text_html(elements: Sequence[Any], viewer: Viewer) -> str:
    out = []
    for element in elements:
        if not isinstance(element, Mapping):
            continue
        kind = element.get("type")
        if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            inner = _rich_text_html(element.get("elements") or [], viewer)
            tag = {"rich_text_preformatted": "pre", "rich_text_quote": "blockquote"}.get(
                str(kind), "div"
            )
            out.append(f"<{tag}>{inner}</{tag}>")
        elif kind == "rich_text_list":
            items = "".join(
                f"<li>{_rich_text_html([e], viewer)}</li>" for e in element.get("elements") or []
            )
            tag = "ol" if element.get("style") == "ordered" else "ul"
            out.append(f"<{tag}>{items}</{tag}>")
        elif kind == "text":
            text = esc(str(element.get("text") or "")).replace("\n", "<br>")
            style = element.get("style") or {}
            for key, tag in (("bold", "b"), ("italic", "i"), ("strike", "s"), ("code", "code")):
                if style.get(key):
                    text = f"<{tag}>{text}</{tag}>"
            out.append(text)
        elif kind == "user":
            out.append(_token_html("@" + str(element.get("user_id")), viewer))
        elif kind == "channel":
            out.append(_token_html("#" + str(element.get("channel_id")), viewer))
        elif kind == "link":
            out.append(_token_html(f"{element.get('url')}|{element.get('text') or ''}", viewer))
        elif kind == "emoji":
            out.append(EMOJI.get(str(element.get("name")), f":{esc(element.get('name'))}:"))
    return "".join(out)


def message_html(message: Mapping[str, Any], viewer: Viewer) -> str:
    """A message body: its blocks (or its text when it has none) and any files."""
    blocks = message.get("blocks")
    if isinstance(blocks, list) and blocks:
        body = blocks_html(blocks, viewer)
    else:
        body = f'<div class="bk-text">{mrkdwn_html(str(message.get("text") or ""), viewer)}</div>'
    for f in message.get("files") or []:
        if isinstance(f, Mapping) and f.get("id"):
            title = esc(f.get("title") or "file")
            body += (
                f'<figure class="bk-file"><img src="/files/{esc(f["id"])}" alt="{title}">'
                f"<figcaption>{title}</figcaption></figure>"
            )
    return body
