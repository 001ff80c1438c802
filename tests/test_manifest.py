"""Validate manifest.yml against Slack's published manifest schema and the product contract."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST_PATH = REPO_ROOT / "manifest.yml"
SHARED = REPO_ROOT.parent / "shared"
SCHEMA_PATH = SHARED / "slack" / "manifest.schema.1.0.0.json"
PRODUCT_PATH = SHARED / "PRODUCT.md"

REQUIRED_BOT_SCOPES = {
    "commands",
    "chat:write",
    "im:write",
    "users:read",
    # bot/slack.py post_once reads history after an uncertain failure
    "channels:history",
    "groups:history",
    "im:history",
}
COMMANDS = ("/checkin", "/promise", "/trust")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """The parsed manifest.yml."""
    with MANIFEST_PATH.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """A validator for Slack's v1 manifest schema, of the draft the schema declares."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    validator_class = jsonschema.validators.validator_for(schema)
    assert validator_class is jsonschema.Draft7Validator
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def _errors(validator: jsonschema.protocols.Validator, instance: Any) -> list[str]:
    return [error.message for error in validator.iter_errors(instance)]


def _commands(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["command"]: entry for entry in manifest["features"]["slash_commands"]}


def test_manifest_matches_slack_schema(
    manifest: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    assert _errors(validator, manifest) == []


def test_metadata_and_display_information(manifest: dict[str, Any]) -> None:
    assert manifest["_metadata"]["major_version"] == 1
    info = manifest["display_information"]
    assert info["name"] == "trustloop"
    assert info["description"]
    # The schema spells this check "regex", which JSON Schema ignores, so check it here.
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", info["background_color"])


def test_bot_user_and_app_home(manifest: dict[str, Any]) -> None:
    features = manifest["features"]
    assert features["bot_user"] == {"display_name": "trustloop", "always_online": True}
    assert features["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": False,
    }


def test_slash_commands(manifest: dict[str, Any]) -> None:
    commands = _commands(manifest)
    assert set(commands) == set(COMMANDS)
    for name in COMMANDS:
        entry = commands[name]
        assert entry["should_escape"] is True, name
        assert entry["description"], name
        assert entry["usage_hint"], name
        assert entry["url"] == "https://example.com/slack/events", name


def _product_command_forms() -> list[str]:
    """Every backticked command form in PRODUCT.md's slash command table."""
    forms: list[str] = []
    for line in PRODUCT_PATH.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `/"):
            first_cell = line.split(" | ")[0]
            forms += [f.replace("\\|", "|") for f in re.findall(r"`(/[^`]+)`", first_cell)]
    return forms


def test_usage_hints_match_product_contract(manifest: dict[str, Any]) -> None:
    forms = _product_command_forms()
    assert len(forms) >= 9, forms
    commands = _commands(manifest)
    for form in forms:
        name, _, arguments = form.partition(" ")
        assert name in commands, form
        assert arguments in commands[name]["usage_hint"], form


def test_bot_scopes(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes))
    assert set(scopes) >= REQUIRED_BOT_SCOPES
    assert "chat:write.public" not in scopes  # the bot must be invited to a channel


def test_settings(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert settings["event_subscriptions"]["request_url"] == "https://example.com/slack/events"
    assert settings["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://example.com/slack/events",
    }
    assert settings["org_deploy_enabled"] is False
    assert settings["socket_mode_enabled"] is True
    assert settings["token_rotation_enabled"] is False


def _without(manifest: dict[str, Any], *path: str) -> dict[str, Any]:
    broken = copy.deepcopy(manifest)
    target = broken
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return broken


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda m: _without(m, "display_information"), id="no-display-information"),
        pytest.param(lambda m: _without(m, "display_information", "name"), id="no-name"),
        pytest.param(lambda m: {**m, "unknown_section": {}}, id="unknown-top-level-key"),
        pytest.param(
            lambda m: _without(m, "settings", "interactivity", "is_enabled"),
            id="interactivity-without-is_enabled",
        ),
        pytest.param(
            lambda m: {**m, "features": {**m["features"], "slash_commands": [{"command": "x"}]}},
            id="command-without-slash-and-description",
        ),
        pytest.param(
            lambda m: {
                **m,
                "features": {
                    **m["features"],
                    "slash_commands": [{**_commands(m)["/trust"], "should_escape": "yes"}],
                },
            },
            id="should_escape-not-boolean",
        ),
        pytest.param(
            lambda m: {
                **m,
                "settings": {**m["settings"], "interactivity": {"is_enabled": True, "url": "x"}},
            },
            id="misspelt-request_url",
        ),
    ],
)
def test_schema_rejects_broken_manifests(
    manifest: dict[str, Any], validator: jsonschema.protocols.Validator, mutate: Any
) -> None:
    assert _errors(validator, mutate(manifest)), "the schema should have rejected this"
    assert _errors(validator, manifest) == []  # the original is untouched
