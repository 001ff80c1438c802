"""Unit tests for the Block Kit limit checker: one passing and one failing case per rule."""

from __future__ import annotations

from typing import Any

import pytest

from bot.localslack.limits import check_blocks, check_message, check_view


def pt(text: str) -> dict[str, Any]:
    """A plain_text object."""
    return {"type": "plain_text", "text": text}


def md(text: str) -> dict[str, Any]:
    """A mrkdwn text object."""
    return {"type": "mrkdwn", "text": text}


def section(text: str = "hi", **extra: Any) -> dict[str, Any]:
    """A section block."""
    return {"type": "section", "text": md(text), **extra}


def button(action_id: str = "a", text: str = "Go", **extra: Any) -> dict[str, Any]:
    """A button element."""
    return {"type": "button", "action_id": action_id, "text": pt(text), **extra}


def actions(*elements: dict[str, Any]) -> dict[str, Any]:
    """An actions block."""
    return {"type": "actions", "elements": list(elements)}


def select(options: int = 1, text: str = "o", value: str = "v") -> dict[str, Any]:
    """A static_select with ``options`` identical-shaped options."""
    return {
        "type": "static_select",
        "action_id": "sel",
        "options": [{"text": pt(text), "value": f"{value}"} for _ in range(options)],
    }


def text_input(**extra: Any) -> dict[str, Any]:
    """An input block holding a plain_text_input."""
    return {
        "type": "input",
        "block_id": "in",
        "label": pt(extra.pop("label", "Label")),
        "element": {"type": "plain_text_input", "action_id": "t", **extra},
    }


def modal(**extra: Any) -> dict[str, Any]:
    """A minimal modal view."""
    return {"type": "modal", "title": pt("Title"), "blocks": [section()], **extra}


# (name, passing blocks, failing blocks) for message-level block rules
BLOCK_CASES: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
    ("block count", [section()] * 50, [section()] * 51),
    ("block_id", [section(block_id="x" * 255)], [section(block_id="x" * 256)]),
    ("action_id", [actions(button("x" * 255))], [actions(button("x" * 256))]),
    ("section text", [section("x" * 3000)], [section("x" * 3001)]),
    (
        "header",
        [{"type": "header", "text": pt("x" * 150)}],
        [{"type": "header", "text": pt("x" * 151)}],
    ),
    (
        "fields count",
        [{"type": "section", "fields": [md("f")] * 10}],
        [{"type": "section", "fields": [md("f")] * 11}],
    ),
    (
        "field length",
        [{"type": "section", "fields": [md("x" * 2000)]}],
        [{"type": "section", "fields": [md("x" * 2001)]}],
    ),
    (
        "context elements",
        [{"type": "context", "elements": [md("c")] * 10}],
        [{"type": "context", "elements": [md("c")] * 11}],
    ),
    (
        "actions elements",
        [actions(*[button(f"a{i}") for i in range(25)])],
        [actions(*[button(f"a{i}") for i in range(26)])],
    ),
    ("button text", [actions(button(text="x" * 75))], [actions(button(text="x" * 76))]),
    (
        "button value",
        [actions(button(value="x" * 2000))],
        [actions(button(value="x" * 2001))],
    ),
    (
        "button url",
        [actions(button(url="h" * 3000))],
        [actions(button(url="h" * 3001))],
    ),
    ("options count", [actions(select(100))], [actions(select(101))]),
    ("option text", [actions(select(text="x" * 75))], [actions(select(text="x" * 76))]),
    ("option value", [actions(select(value="x" * 150))], [actions(select(value="x" * 151))]),
    ("input label", [text_input(label="x" * 2000)], [text_input(label="x" * 2001)]),
    ("max_length", [text_input(max_length=3000)], [text_input(max_length=3001)]),
    (
        "placeholder",
        [text_input(placeholder=pt("x" * 150))],
        [text_input(placeholder=pt("x" * 151))],
    ),
    (
        "duplicate block_id",
        [section(block_id="a"), section(block_id="b")],
        [section(block_id="a"), section(block_id="a")],
    ),
    (
        "duplicate action_id",
        [actions(button("a"), button("b"))],
        [actions(button("a"), button("a"))],
    ),
    (
        "text object type",
        [{"type": "section", "text": md("ok")}],
        [{"type": "section", "text": {"type": "markdown", "text": "no"}}],
    ),
    (
        "text object text",
        [{"type": "section", "text": md("ok")}],
        [{"type": "section", "text": {"type": "mrkdwn"}}],
    ),
    ("unknown block type", [{"type": "divider"}], [{"type": "video_thing"}]),
]


@pytest.mark.parametrize(("name", "good", "bad"), BLOCK_CASES, ids=[c[0] for c in BLOCK_CASES])
def test_block_rules(name: str, good: list[dict[str, Any]], bad: list[dict[str, Any]]) -> None:
    """Each block rule accepts its boundary case and rejects one past it."""
    assert check_blocks(good, max_blocks=50) == []
    assert check_blocks(bad, max_blocks=50) != []


def test_allowed_block_types_pass() -> None:
    """Every allowed block type is accepted."""
    blocks = [
        section(),
        actions(button()),
        {"type": "context", "elements": [md("c")]},
        {"type": "divider"},
        {"type": "header", "text": pt("H")},
        {"type": "image", "image_url": "https://x/y.png", "alt_text": "y"},
        text_input(),
        {"type": "rich_text", "elements": []},
        {"type": "file", "external_id": "f", "source": "remote"},
    ]
    assert check_blocks(blocks, max_blocks=50) == []


VIEW_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "view block count",
        modal(blocks=[section()] * 100),
        modal(blocks=[section()] * 101),
    ),
    ("title", modal(title=pt("x" * 24)), modal(title=pt("x" * 25))),
    ("submit", modal(submit=pt("x" * 24)), modal(submit=pt("x" * 25))),
    ("close", modal(close=pt("x" * 24)), modal(close=pt("x" * 25))),
    (
        "private_metadata",
        modal(private_metadata="x" * 3000),
        modal(private_metadata="x" * 3001),
    ),
    ("callback_id", modal(callback_id="x" * 255), modal(callback_id="x" * 256)),
    (
        "modal title required",
        modal(),
        {"type": "modal", "blocks": []},
    ),
    (
        "duplicate block_id in view",
        modal(blocks=[section(block_id="a"), section(block_id="b")]),
        modal(blocks=[section(block_id="a"), section(block_id="a")]),
    ),
    (
        "home view block count",
        {"type": "home", "blocks": [section()] * 100},
        {"type": "home", "blocks": [section()] * 101},
    ),
]


@pytest.mark.parametrize(("name", "good", "bad"), VIEW_CASES, ids=[c[0] for c in VIEW_CASES])
def test_view_rules(name: str, good: dict[str, Any], bad: dict[str, Any]) -> None:
    """Each view rule accepts its boundary case and rejects one past it."""
    assert check_view(good) == []
    assert check_view(bad) != []


def test_message_text_limit() -> None:
    """Top-level message text is capped at 40000 chars."""
    assert check_message({"text": "x" * 40000}) == []
    assert check_message({"text": "x" * 40001}) != []


def test_message_block_limit_is_50() -> None:
    """Messages allow 50 blocks, not the 100 views allow."""
    assert check_message({"text": "t", "blocks": [section()] * 50}) == []
    assert check_message({"text": "t", "blocks": [section()] * 51}) != []


def test_violations_are_readable() -> None:
    """Violations name the offending location and limit."""
    (problem,) = check_blocks([section("x" * 3001)], max_blocks=50)
    assert "blocks[0]" in problem
    assert "3000" in problem
