"""The digest's trend chart: at-risk accounts per week and average trust, as a PNG.

Pure: no Slack, no database, no clock, no font files. Drawn with Pillow and its built-in
default font, at twice the size and scaled down for smooth lines and text, so the same
input always gives the same bytes.

Layout (800×400): the title top left and the legend top right; bars for the number of
at-risk accounts each week against the left axis (0 up to a round number, the count
written above each bar); a line for the average trust rating against the right axis
(1 to 5), broken where a week has no rating; week labels such as "2 Nov" along the bottom
(thinned out when there are many weeks). With no weeks at all it says "No data yet".
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from datetime import date

from PIL import Image, ImageDraw, ImageFont

__all__ = ["CHART_HEIGHT", "CHART_WIDTH", "render_trend_chart"]

CHART_WIDTH = 800
CHART_HEIGHT = 400

_SCALE = 2  # drawn at twice the size, then scaled down (cheap anti-aliasing)
_TRUST_MIN, _TRUST_MAX = 1.0, 5.0
_MAX_LABELS = 13  # at most this many week labels along the bottom
_MAX_TITLE = 200  # characters considered before fitting the title to its space

_BACKGROUND = (255, 255, 255)
_TEXT = (34, 34, 34)
_MUTED = (110, 110, 110)
_GRID = (232, 232, 232)
_AXIS = (190, 190, 190)
_BAR = (224, 108, 94)
_BAR_EDGE = (196, 82, 70)
_LINE = (43, 108, 176)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Characters the built-in font lacks, and what to draw instead.
_PLAIN = str.maketrans({"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"'})

_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_Box = tuple[float, float, float, float]


def render_trend_chart(
    weeks: list[date], at_risk: list[int], avg_trust: list[float | None], *, title: str
) -> bytes:
    """Draw at-risk counts (bars) and average trust (line) per week; return PNG bytes."""
    _check(weeks, at_risk, avg_trust)
    s = _SCALE
    image = Image.new("RGB", (CHART_WIDTH * s, CHART_HEIGHT * s), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_font, text_font, small_font = _font(17), _font(13), _font(12)

    top_ticks = _count_ticks(max(at_risk, default=0))
    left_labels = [f"{tick:,}" for tick in top_ticks]
    left_width = max(_text_width(draw, label, small_font) for label in left_labels)
    plot: _Box = (
        max(48 * s, left_width + 18 * s),
        78 * s,
        CHART_WIDTH * s - 44 * s,
        CHART_HEIGHT * s - 44 * s,
    )

    legend_left = _draw_legend(draw, text_font)
    _draw_title(draw, title, title_font, right=legend_left - 20 * s)
    _draw_axes(draw, plot, top_ticks, left_labels, small_font)
    if weeks:
        _draw_bars(draw, plot, at_risk, top_ticks[-1])
        _draw_trust(draw, plot, avg_trust)
        _draw_counts(draw, plot, at_risk, top_ticks[-1], small_font)
        _draw_week_labels(draw, plot, weeks, small_font)
    else:
        x0, y0, x1, y1 = plot
        draw.text(
            ((x0 + x1) / 2, (y0 + y1) / 2), "No data yet", font=text_font, fill=_MUTED, anchor="mm"
        )

    final = image.resize((CHART_WIDTH, CHART_HEIGHT), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    final.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# --- internals -----------------------------------------------------------------------


def _check(
    weeks: Sequence[date], at_risk: Sequence[int], avg_trust: Sequence[float | None]
) -> None:
    if not len(weeks) == len(at_risk) == len(avg_trust):
        raise ValueError(
            f"weeks, at_risk and avg_trust must be as long as each other "
            f"({len(weeks)}, {len(at_risk)}, {len(avg_trust)})"
        )
    if any(count < 0 for count in at_risk):
        raise ValueError("at-risk counts can't be negative")
    for value in avg_trust:
        if value is not None and not (math.isfinite(value) and _TRUST_MIN <= value <= _TRUST_MAX):
            raise ValueError(f"average trust must be between 1 and 5, not {value}")


def _font(size: int) -> _Font:
    """Pillow's built-in font at `size` points (drawn at `_SCALE`)."""
    try:
        return ImageFont.load_default(size=size * _SCALE)
    except TypeError:  # Pillow < 10.1 has only the small bitmap font
        return ImageFont.load_default()


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: _Font) -> float:
    return float(draw.textlength(text, font=font))


def _count_ticks(largest: int) -> list[int]:
    """Round tick values from 0 up to at least `largest`, at most six of them."""
    if largest <= 0:
        return [0, 1, 2, 3, 4, 5]
    step = 1
    while True:
        for factor in (1, 2, 5):
            candidate = step * factor
            if math.ceil(largest / candidate) <= 5:
                top = math.ceil(largest / candidate) * candidate
                return list(range(0, top + 1, candidate))
        step *= 10


def _slot(plot: _Box, count: int, index: int) -> tuple[float, float]:
    """The centre x and the width of week `index` of `count`."""
    x0, _, x1, _ = plot
    width = (x1 - x0) / count
    return x0 + width * (index + 0.5), width


def _draw_title(draw: ImageDraw.ImageDraw, title: str, font: _Font, *, right: float) -> None:
    s = _SCALE
    text = " ".join(title.translate(_PLAIN).split())[:_MAX_TITLE]
    left = 20 * s
    if _text_width(draw, text, font) > right - left:
        while text and _text_width(draw, text + "…", font) > right - left:
            text = text[:-1]
        text = text.rstrip() + "…"
    draw.text((left, 26 * s), text, font=font, fill=_TEXT, anchor="lm")


def _draw_legend(draw: ImageDraw.ImageDraw, font: _Font) -> float:
    """Draw the legend at the top right; return its left edge."""
    s = _SCALE
    y = 26 * s
    entries = ["At-risk accounts", "Average trust (1-5)"]
    swatch, gap, spacing = 22 * s, 6 * s, 18 * s
    widths = [swatch + gap + _text_width(draw, entry, font) for entry in entries]
    left = CHART_WIDTH * s - 20 * s - sum(widths) - spacing
    x = left
    draw.rectangle(
        (x + 5 * s, y - 6 * s, x + swatch - 5 * s, y + 6 * s), fill=_BAR, outline=_BAR_EDGE
    )
    draw.text((x + swatch + gap, y), entries[0], font=font, fill=_TEXT, anchor="lm")
    x += widths[0] + spacing
    draw.line((x, y, x + swatch, y), fill=_LINE, width=3 * s)
    _dot(draw, x + swatch / 2, y)
    draw.text((x + swatch + gap, y), entries[1], font=font, fill=_TEXT, anchor="lm")
    return left


def _draw_axes(
    draw: ImageDraw.ImageDraw,
    plot: _Box,
    ticks: list[int],
    labels: list[str],
    font: _Font,
) -> None:
    s = _SCALE
    x0, y0, x1, y1 = plot
    for tick, label in zip(ticks, labels, strict=True):
        y = y1 - (y1 - y0) * tick / ticks[-1]
        draw.line((x0, y, x1, y), fill=_GRID if tick else _AXIS, width=s)
        draw.text((x0 - 8 * s, y), label, font=font, fill=_MUTED, anchor="rm")
    for rating in range(int(_TRUST_MIN), int(_TRUST_MAX) + 1):
        y = _trust_y(plot, float(rating))
        draw.line((x1, y, x1 + 4 * s, y), fill=_AXIS, width=s)
        draw.text((x1 + 8 * s, y), str(rating), font=font, fill=_LINE, anchor="lm")
    draw.line((x1, y0, x1, y1), fill=_AXIS, width=s)


def _draw_bars(draw: ImageDraw.ImageDraw, plot: _Box, counts: list[int], top: int) -> None:
    _, y0, _, y1 = plot
    for index, count in enumerate(counts):
        centre, width = _slot(plot, len(counts), index)
        half = min(width * 0.3, 28 * _SCALE)
        height = (y1 - y0) * count / top
        if count:
            draw.rectangle(
                (centre - half, y1 - height, centre + half, y1), fill=_BAR, outline=_BAR_EDGE
            )


def _draw_counts(
    draw: ImageDraw.ImageDraw, plot: _Box, counts: list[int], top: int, font: _Font
) -> None:
    """Write each count above its bar, haloed so the trust line never hides it."""
    s = _SCALE
    _, y0, _, y1 = plot
    for index, count in enumerate(counts):
        centre, width = _slot(plot, len(counts), index)
        if width < 26 * s:  # no room between the bars
            return
        draw.text(
            (centre, y1 - (y1 - y0) * count / top - 4 * s),
            f"{count:,}",
            font=font,
            fill=_MUTED,
            anchor="md",
            stroke_width=2 * s,
            stroke_fill=_BACKGROUND,
        )


def _trust_y(plot: _Box, value: float) -> float:
    _, y0, _, y1 = plot
    return y1 - (y1 - y0) * (value - _TRUST_MIN) / (_TRUST_MAX - _TRUST_MIN)


def _draw_trust(draw: ImageDraw.ImageDraw, plot: _Box, values: list[float | None]) -> None:
    s = _SCALE
    points = [
        None if value is None else (_slot(plot, len(values), index)[0], _trust_y(plot, value))
        for index, value in enumerate(values)
    ]
    for a, b in itertools.pairwise(points):
        if a is not None and b is not None:
            draw.line((a, b), fill=_LINE, width=3 * s)
    radius = min(4.0 * s, _slot(plot, len(values), 0)[1] / 4)
    for point in points:
        if point is not None:
            _dot(draw, *point, radius=radius)


def _dot(draw: ImageDraw.ImageDraw, x: float, y: float, *, radius: float = 4.0 * _SCALE) -> None:
    r = radius
    draw.ellipse((x - r, y - r, x + r, y + r), fill=_LINE, outline=_BACKGROUND, width=_SCALE)


def _draw_week_labels(
    draw: ImageDraw.ImageDraw, plot: _Box, weeks: list[date], font: _Font
) -> None:
    s = _SCALE
    every = max(1, math.ceil(len(weeks) / _MAX_LABELS))
    last = len(weeks) - 1
    for index, week in enumerate(weeks):
        if (last - index) % every:  # keep the latest week labelled
            continue
        centre, _ = _slot(plot, len(weeks), index)
        label = f"{week.day} {_MONTHS[week.month - 1]}"
        draw.text((centre, plot[3] + 10 * s), label, font=font, fill=_MUTED, anchor="mt")
