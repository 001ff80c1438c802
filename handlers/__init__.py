"""Slack listeners, one module per surface; `register_all` wires them onto an AsyncApp."""

from slack_bolt.async_app import AsyncApp

from . import actions, commands, events, home, views


def register_all(app: AsyncApp) -> None:
    """Register every listener of every surface on `app`."""
    for module in (commands, actions, views, events, home):
        module.register(app)
