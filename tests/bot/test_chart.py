"""Tests for bot.chart: the digest's trend chart PNG."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from PIL import Image, ImageChops

from bot.chart import CHART_HEIGHT, CHART_WIDTH, render_trend_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIRST = date(2026, 9, 7)  # a Monday


def weeks(n: int) -> list[date]:
    """`n` consecutive week-start Mondays."""
    return [FIRST + timedelta(days=7 * i) for i in range(n)]


def open_png(data: bytes) -> Image.Image:
    """Decode PNG bytes, checking the signature first."""
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image


def render(
    n: int = 12,
    at_risk: list[int] | None = None,
    trust: list[float | None] | None = None,
    title: str = "At-risk accounts and average trust, last 12 weeks",
) -> bytes:
    """Render a chart of `n` weeks with simple default data."""
    counts = [i % 5 for i in range(n)] if at_risk is None else at_risk
    values: list[float | None] = [3.0 + (i % 3) / 2 for i in range(n)] if trust is None else trust
    return render_trend_chart(weeks(n), counts, values, title=title)


def differs(a: bytes, b: bytes) -> bool:
    """True when two rendered charts differ in at least one pixel."""
    diff = ImageChops.difference(open_png(a).convert("RGB"), open_png(b).convert("RGB"))
    return diff.getbbox() is not None


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 12])
def test_valid_png_of_the_right_size_for_0_to_12_weeks(n: int) -> None:
    image = open_png(render(n))
    assert image.size == (CHART_WIDTH, CHART_HEIGHT) == (800, 400)


@pytest.mark.parametrize(
    ("at_risk", "trust"),
    [
        ([0] * 12, [3.5] * 12),  # no accounts at risk
        ([5] * 12, [None] * 12),  # no ratings at all
        ([0] * 12, [None] * 12),  # nothing at all
        ([0, 0, 1], [None, 5.0, None]),  # a lone rating between gaps
        ([3, 4], [1.0, 5.0]),  # the ends of the trust scale
        ([12_345, 0, 999_999], [2.5, None, 4.5]),  # large counts
        ([10_000_000] * 12, [1.0] * 12),
        (
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            [None, 1.2, 1.9, None, None, 3.3, 4.0, 4.9, 4.8, None, 2.0, 2.1],
        ),
    ],
)
def test_handles_edge_data(at_risk: list[int], trust: list[float | None]) -> None:
    image = open_png(render(len(at_risk), at_risk, trust))
    assert image.size == (CHART_WIDTH, CHART_HEIGHT)


def test_many_weeks_still_render() -> None:
    image = open_png(render(52))
    assert image.size == (CHART_WIDTH, CHART_HEIGHT)


@pytest.mark.parametrize(
    "title",
    ["", "Acme — trend", "x" * 500, "Ääkköset & <!channel> *bold*", "line\nbreak"],
)
def test_any_title_renders(title: str) -> None:
    assert open_png(render(title=title)).size == (CHART_WIDTH, CHART_HEIGHT)


def test_deterministic() -> None:
    assert render() == render()
    assert render(0) == render(0)
    trust: list[float | None] = [None, 4.2, 3.1]
    first = render_trend_chart(weeks(3), [1, 2, 3], trust, title="T")
    second = render_trend_chart(list(weeks(3)), [1, 2, 3], list(trust), title="T")
    assert first == second


def test_not_blank() -> None:
    image = open_png(render()).convert("RGB")
    colours = image.getcolors(maxcolors=CHART_WIDTH * CHART_HEIGHT)
    assert colours is not None
    assert len(colours) > 10  # text, bars, line, grid


@pytest.mark.parametrize(
    ("other_counts", "other_trust", "other_title", "other_weeks"),
    [
        ([0, 1, 2, 3, 4, 0, 1, 2, 3, 9, 1, 2], None, None, None),  # one count changed
        (None, [3.0, 3.5, 4.0] * 3 + [3.0, 3.5, 1.0], None, None),  # one rating changed
        (None, [3.0, 3.5, 4.0] * 3 + [3.0, 3.5, None], None, None),  # one rating missing
        (None, None, "Another title", None),
        (None, None, None, [FIRST + timedelta(days=7 * i + 1) for i in range(12)]),  # labels
    ],
)
def test_pixels_differ_when_data_differs(
    other_counts: list[int] | None,
    other_trust: list[float | None] | None,
    other_title: str | None,
    other_weeks: list[date] | None,
) -> None:
    base_counts = [i % 5 for i in range(12)]
    base_trust: list[float | None] = [3.0 + (i % 3) / 2 for i in range(12)]
    base = render_trend_chart(weeks(12), base_counts, base_trust, title="Trend")
    other = render_trend_chart(
        weeks(12) if other_weeks is None else other_weeks,
        base_counts if other_counts is None else other_counts,
        base_trust if other_trust is None else other_trust,
        title="Trend" if other_title is None else other_title,
    )
    assert differs(base, other)


def test_bars_and_line_use_their_colours() -> None:
    """Bars are drawn in the bar red and the line in the trust blue."""
    with_bars = open_png(render(12, [5] * 12, [None] * 12)).convert("RGB")
    without = open_png(render(12, [0] * 12, [None] * 12)).convert("RGB")
    with_line = open_png(render(12, [0] * 12, [3.0] * 12)).convert("RGB")

    def pixels(image: Image.Image) -> list[tuple[int, int, int]]:
        raw = image.tobytes()
        return [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]

    def reddish(image: Image.Image) -> int:
        return sum(1 for r, g, b in pixels(image) if r > 200 and g < 140 and b < 130)

    def bluish(image: Image.Image) -> int:
        return sum(1 for r, g, b in pixels(image) if b > 150 and r < 80 and g < 130)

    assert reddish(with_bars) > reddish(without) + 5_000  # twelve bars, not just the legend
    assert bluish(with_line) > bluish(without) + 1_000  # a line across the plot


@pytest.mark.parametrize(
    ("week_list", "at_risk", "trust", "message"),
    [
        (weeks(2), [1], [3.0, 3.0], "as long as"),
        (weeks(2), [1, 2], [3.0], "as long as"),
        (weeks(1), [-1], [3.0], "negative"),
        (weeks(1), [1], [0.5], "between 1 and 5"),
        (weeks(1), [1], [5.5], "between 1 and 5"),
        (weeks(1), [1], [float("nan")], "between 1 and 5"),
    ],
)
def test_rejects_inconsistent_input(
    week_list: list[date], at_risk: list[int], trust: list[float | None], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render_trend_chart(week_list, at_risk, trust, title="T")
