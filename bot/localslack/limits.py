"""Pure Block Kit limit checks, mirroring the limits Slack enforces on messages and views.

Every checker returns a list of human-readable violations; an empty list means the payload
would be accepted by Slack as far as these rules go.
"""

from __future__ import annotations

from typing import Any

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
ID_MAX = 255
SECTION_TEXT_MAX = 3000
HEADER_TEXT_MAX = 150
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
BUTTON_URL_MAX = 3000
SELECT_OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
INPUT_LABEL_MAX = 2000
TEXT_INPUT_MAX_LENGTH = 3000
PLACEHOLDER_MAX = 150
VIEW_TITLE_MAX = 24
VIEW_BUTTON_MAX = 24
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255
MESSAGE_TEXT_MAX = 40000

ALLOWED_BLOCK_TYPES = frozenset(
    {"section", "actions", "context", "divider", "header", "image", "input", "rich_text", "file"}
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
SELECT_TYPES = frozenset({"static_select", "multi_static_select"})


def _text_of(obj: Any) -> str:
    """Return the `text` of a text object, or '' when absent."""
    if isinstance(obj, dict):
        value = obj.get("text")
        return value if isinstance(value, str) else ""
    return ""


def _check_text_object(obj: Any, where: str) -> list[str]:
    """Validate that `obj` is a well-formed text object."""
    if not isinstance(obj, dict):
        return [f"{where}: text object must be an object"]
    out: list[str] = []
    if obj.get("type") not in TEXT_TYPES:
        out.append(
            f"{where}: text object type must be plain_text or mrkdwn, got {obj.get('type')!r}"
        )
    if not isinstance(obj.get("text"), str):
        out.append(f"{where}: text object is missing 'text'")
    return out


def _check_len(value: Any, limit: int, what: str) -> list[str]:
    """Report when string `value` is longer than `limit`."""
    if isinstance(value, str) and len(value) > limit:
        return [f"{what} is {len(value)} chars, max {limit}"]
    return []


def _check_option(option: Any, where: str) -> list[str]:
    """Validate one select option."""
    if not isinstance(option, dict):
        return [f"{where}: option must be an object"]
    out = []
    if "text" in option:
        out += _check_text_object(option["text"], f"{where}.text")
    out += _check_len(_text_of(option.get("text")), OPTION_TEXT_MAX, f"{where} text")
    out += _check_len(option.get("value"), OPTION_VALUE_MAX, f"{where} value")
    return out


def _check_element(element: Any, where: str) -> list[str]:
    """Validate an interactive element (button, select, text input, ...)."""
    if not isinstance(element, dict):
        return [f"{where}: element must be an object"]
    out: list[str] = []
    etype = element.get("type")
    out += _check_len(element.get("action_id"), ID_MAX, f"{where} action_id")
    if "placeholder" in element:
        out += _check_text_object(element["placeholder"], f"{where}.placeholder")
        out += _check_len(_text_of(element["placeholder"]), PLACEHOLDER_MAX, f"{where} placeholder")
    if etype == "button":
        if "text" in element:
            out += _check_text_object(element["text"], f"{where}.text")
        out += _check_len(_text_of(element.get("text")), BUTTON_TEXT_MAX, f"{where} button text")
        out += _check_len(element.get("value"), BUTTON_VALUE_MAX, f"{where} button value")
        out += _check_len(element.get("url"), BUTTON_URL_MAX, f"{where} button url")
    elif etype in SELECT_TYPES:
        options = element.get("options") or []
        if len(options) > SELECT_OPTIONS_MAX:
            out.append(f"{where}: {len(options)} options, max {SELECT_OPTIONS_MAX}")
        for i, option in enumerate(options):
            out += _check_option(option, f"{where}.options[{i}]")
        for g, group in enumerate(element.get("option_groups") or []):
            for i, option in enumerate(group.get("options") or []):
                out += _check_option(option, f"{where}.option_groups[{g}].options[{i}]")
        if "initial_option" in element:
            out += _check_option(element["initial_option"], f"{where}.initial_option")
    elif etype == "plain_text_input":
        max_length = element.get("max_length")
        if isinstance(max_length, int) and max_length > TEXT_INPUT_MAX_LENGTH:
            out.append(f"{where}: max_length {max_length} exceeds {TEXT_INPUT_MAX_LENGTH}")
    return out


def _check_block(block: Any, where: str) -> list[str]:
    """Validate a single block against the per-type limits."""
    if not isinstance(block, dict):
        return [f"{where}: block must be an object"]
    out: list[str] = []
    btype = block.get("type")
    if btype not in ALLOWED_BLOCK_TYPES:
        return [f"{where}: unknown block type {btype!r}"]
    out += _check_len(block.get("block_id"), ID_MAX, f"{where} block_id")
    if btype == "section":
        if "text" in block:
            out += _check_text_object(block["text"], f"{where}.text")
            out += _check_len(_text_of(block["text"]), SECTION_TEXT_MAX, f"{where} section text")
        fields = block.get("fields") or []
        if len(fields) > SECTION_FIELDS_MAX:
            out.append(f"{where}: {len(fields)} fields, max {SECTION_FIELDS_MAX}")
        for i, field in enumerate(fields):
            out += _check_text_object(field, f"{where}.fields[{i}]")
            out += _check_len(_text_of(field), SECTION_FIELD_TEXT_MAX, f"{where}.fields[{i}]")
        if "text" not in block and not fields:
            out.append(f"{where}: section needs text or fields")
        if "accessory" in block:
            out += _check_element(block["accessory"], f"{where}.accessory")
    elif btype == "header":
        text = block.get("text")
        out += _check_text_object(text, f"{where}.text")
        if isinstance(text, dict) and text.get("type") != "plain_text":
            out.append(f"{where}: header text must be plain_text")
        out += _check_len(_text_of(text), HEADER_TEXT_MAX, f"{where} header text")
    elif btype == "context":
        elements = block.get("elements") or []
        if len(elements) > CONTEXT_ELEMENTS_MAX:
            out.append(f"{where}: {len(elements)} context elements, max {CONTEXT_ELEMENTS_MAX}")
        for i, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") != "image":
                out += _check_text_object(element, f"{where}.elements[{i}]")
    elif btype == "actions":
        elements = block.get("elements") or []
        if len(elements) > ACTIONS_ELEMENTS_MAX:
            out.append(f"{where}: {len(elements)} action elements, max {ACTIONS_ELEMENTS_MAX}")
        seen: set[str] = set()
        for i, element in enumerate(elements):
            out += _check_element(element, f"{where}.elements[{i}]")
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if isinstance(action_id, str):
                if action_id in seen:
                    out.append(f"{where}: duplicate action_id {action_id!r}")
                seen.add(action_id)
    elif btype == "input":
        label = block.get("label")
        out += _check_text_object(label, f"{where}.label")
        out += _check_len(_text_of(label), INPUT_LABEL_MAX, f"{where} input label")
        if "element" in block:
            out += _check_element(block["element"], f"{where}.element")
        else:
            out.append(f"{where}: input block needs an element")
    return out


def check_blocks(blocks: list[dict[str, Any]], *, max_blocks: int) -> list[str]:
    """Check a list of blocks against Block Kit limits; return the violations."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    out: list[str] = []
    if len(blocks) > max_blocks:
        out.append(f"{len(blocks)} blocks, max {max_blocks}")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        out += _check_block(block, f"blocks[{i}]")
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str):
            if block_id in seen:
                out.append(f"blocks[{i}]: duplicate block_id {block_id!r}")
            seen.add(block_id)
    return out


def check_view(view: dict[str, Any]) -> list[str]:
    """Check a modal or home view payload; return the violations."""
    if not isinstance(view, dict):
        return ["view must be an object"]
    out: list[str] = []
    vtype = view.get("type")
    if vtype not in ("modal", "home"):
        out.append(f"view type must be modal or home, got {vtype!r}")
    if vtype == "modal" and "title" not in view:
        out.append("modal view must have a title")
    for key, limit in (("title", VIEW_TITLE_MAX), ("submit", VIEW_BUTTON_MAX)):
        if key in view:
            out += _check_text_object(view[key], f"view.{key}")
            out += _check_len(_text_of(view[key]), limit, f"view {key}")
    if "close" in view:
        out += _check_text_object(view["close"], "view.close")
        out += _check_len(_text_of(view["close"]), VIEW_BUTTON_MAX, "view close")
    out += _check_len(view.get("private_metadata"), PRIVATE_METADATA_MAX, "view private_metadata")
    out += _check_len(view.get("callback_id"), CALLBACK_ID_MAX, "view callback_id")
    out += _check_len(view.get("external_id"), ID_MAX, "view external_id")
    out += check_blocks(view.get("blocks") or [], max_blocks=VIEW_MAX_BLOCKS)
    return out


def check_message(args: dict[str, Any]) -> list[str]:
    """Check chat.* message arguments (text + blocks); return the violations."""
    out = _check_len(args.get("text"), MESSAGE_TEXT_MAX, "message text")
    blocks = args.get("blocks")
    if blocks is not None:
        out += check_blocks(blocks, max_blocks=MESSAGE_MAX_BLOCKS)
    return out
