"""Charts for the staff dashboard as inline SVG: drawn on the server, no JavaScript.

Each chart is an image with a <title> and a <desc> that lists every value, so a
screen reader gets the figures; every label and title is escaped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#005eb8"  # NHS blue
TEXT = "#212b32"  # NHS text colour
AXIS = "#4c6272"  # NHS secondary text colour
FONT = "Frutiger W01, Arial, Helvetica, sans-serif"
EMPTY_TEXT = "No feedback yet"

WIDTH = 640
PAD = 8
MAX_LABEL = 60  # characters drawn; the full label is in the tooltip and the <desc>
_ids = itertools.count(1)


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _number(value: int) -> str:
    return f"{value:,}"


def _clean(rows: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(str(label), max(int(value), 0)) for label, value in rows]


def _summary(rows: list[tuple[str, int]], description: str) -> str:
    figures = "; ".join(f"{label}: {_number(value)}" for label, value in rows)
    return " ".join(part for part in (description.strip(), figures + ".") if part)


def _svg(width: float, height: float, title: str, desc: str, body: list[str]) -> Markup:
    chart_id = f"chart-{next(_ids)}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="app-chart" role="img"'
        f' viewBox="0 0 {width:g} {height:g}" width="100%"'
        f' preserveAspectRatio="xMinYMin meet"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc"'
        f' font-family="{FONT}" fill="{TEXT}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704  # nosec B704 (every part escaped above)


def _empty(title: str, description: str) -> Markup:
    desc = " ".join(part for part in (description.strip(), EMPTY_TEXT + ".") if part)
    text = f'<text x="{WIDTH / 2:g}" y="34" text-anchor="middle" font-size="16">{EMPTY_TEXT}</text>'
    return _svg(WIDTH, 56, title, desc, [text])


def bar_chart(rows: list[tuple[str, int]], *, title: str, description: str = "") -> Markup:
    """Horizontal bars, one per (label, value) row, with the label above and value beside."""
    rows = _clean(rows)
    top = max((value for _, value in rows), default=0)
    if top == 0:
        return _empty(title, description)
    row_height, bar_height, value_space = 52, 22, 64
    scale = (WIDTH - 2 * PAD - value_space) / top
    body = []
    for index, (label, value) in enumerate(rows):
        y = PAD + index * row_height
        width = max(value * scale, 2.0) if value else 0.0
        tip = escape(f"{label}: {_number(value)}")
        body.append(
            f"<g><title>{tip}</title>"
            f'<text x="{PAD}" y="{y + 15:g}" font-size="15">{escape(_label(label))}</text>'
            f'<rect x="{PAD}" y="{y + 22:g}" width="{width:.1f}" height="{bar_height}"'
            f' fill="{BAR}"/>'
            f'<text x="{PAD + width + 6:.1f}" y="{y + 22 + bar_height / 2 + 5:g}"'
            f' font-size="15" font-weight="bold">{_number(value)}</text></g>'
        )
    height = 2 * PAD + len(rows) * row_height - (row_height - 22 - bar_height)
    return _svg(WIDTH, height, title, _summary(rows, description), body)


def column_chart(rows: list[tuple[str, int]], *, title: str, description: str = "") -> Markup:
    """Vertical columns in order (such as items per week), labels below, values above."""
    rows = _clean(rows)
    top = max((value for _, value in rows), default=0)
    if top == 0:
        return _empty(title, description)
    # Columns narrow as their number grows, so a long range still fits a page width.
    slot = max(12.0, min(48.0, (WIDTH - 2 * PAD) / len(rows)))
    width = max(WIDTH, 2 * PAD + len(rows) * slot)
    plot_top, plot_height, label_font = 24, 180, 12
    baseline = plot_top + plot_height
    longest = max(len(_label(label)) for label, _ in rows) * label_font * 0.6
    # Label every n-th column when labels are wider than a column.
    every = max(1, math.ceil((longest + 4) / slot))
    show_values = slot >= 28
    scale = plot_height / top
    body = [
        f'<line x1="{PAD}" y1="{baseline}" x2="{width - PAD:g}" y2="{baseline}"'
        f' stroke="{AXIS}" stroke-width="1"/>'
    ]
    for index, (label, value) in enumerate(rows):
        x = PAD + index * slot
        middle = x + slot / 2
        height = max(value * scale, 2.0) if value else 0.0
        tip = escape(f"{label}: {_number(value)}")
        parts = [
            f"<g><title>{tip}</title>",
            f'<rect x="{x + slot * 0.15:.1f}" y="{baseline - height:.1f}"'
            f' width="{slot * 0.7:.1f}" height="{height:.1f}" fill="{BAR}"/>',
        ]
        if show_values:
            parts.append(
                f'<text x="{middle:.1f}" y="{baseline - height - 5:.1f}" text-anchor="middle"'
                f' font-size="{label_font}" font-weight="bold">{_number(value)}</text>'
            )
        if index % every == 0:
            shown = _label(label)
            half = len(shown) * label_font * 0.3  # keep the first and last inside the frame
            centre = min(max(middle, PAD + half), width - PAD - half)
            parts.append(
                f'<text x="{centre:.1f}" y="{baseline + 18}" text-anchor="middle"'
                f' font-size="{label_font}">{escape(shown)}</text>'
            )
        parts.append("</g>")
        body.append("".join(parts))
    return _svg(width, baseline + 28, title, _summary(rows, description), body)
