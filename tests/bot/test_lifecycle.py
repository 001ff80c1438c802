"""Process-wide tuning done once by the command line."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import lifecycle
from bot.cli import main


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_tune_gc_collects_less_often_and_freezes_startup_objects(restore_gc: None) -> None:
    gc.set_threshold(700, 10, 10)
    lifecycle.tune_gc()
    assert gc.get_threshold() == lifecycle.GC_THRESHOLDS
    assert gc.get_freeze_count() > 0


def test_the_command_line_tunes_gc_before_running_a_command(
    restore_gc: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    gc.set_threshold(700, 10, 10)
    assert main(["db", "upgrade"]) == 0
    assert gc.get_threshold() == lifecycle.GC_THRESHOLDS
