"""Charts for the staff dashboard as inline SVG: drawn on the server, no JavaScript.

Each chart is an image with a <title> and a <desc> that lists every value, so a
screen reader gets the figures; every label and title is escaped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from jinja2 import Environment
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


def _summary(rows: list[tuple[str, int]], description: str, suffix: str = "") -> str:
    figures = "; ".join(f"{label}: {_number(value)}{suffix}" for label, value in rows)
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


def bar_chart(
    rows: list[tuple[str, int]],
    *,
    title: str,
    description: str = "",
    suffix: str = "",
    top: int | None = None,
) -> Markup:
    """Horizontal bars, one per (label, value) row, with the label above and value beside.

    ``suffix`` follows each value ("%"); ``top`` fixes the value of a full-width bar
    (100 for percentages) instead of the largest value.
    """
    rows = _clean(rows)
    top = top or max((value for _, value in rows), default=0)
    if top == 0:
        return _empty(title, description)
    row_height, bar_height, value_space = 52, 22, 64
    scale = (WIDTH - 2 * PAD - value_space) / top
    body = []
    for index, (label, value) in enumerate(rows):
        y = PAD + index * row_height
        width = max(value * scale, 2.0) if value else 0.0
        tip = escape(f"{label}: {_number(value)}{suffix}")
        body.append(
            f"<g><title>{tip}</title>"
            f'<text x="{PAD}" y="{y + 15:g}" font-size="15">{escape(_label(label))}</text>'
            f'<rect x="{PAD}" y="{y + 22:g}" width="{width:.1f}" height="{bar_height}"'
            f' fill="{BAR}"/>'
            f'<text x="{PAD + width + 6:.1f}" y="{y + 22 + bar_height / 2 + 5:g}"'
            f' font-size="15" font-weight="bold">{_number(value)}{escape(suffix)}</text></g>'
        )
    height = 2 * PAD + len(rows) * row_height - (row_height - 22 - bar_height)
    return _svg(WIDTH, height, title, _summary(rows, description, suffix), body)


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
    drawn_to = -math.inf  # right edge of the last label drawn
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
        shown = _label(label)
        half = len(shown) * label_font * 0.3  # keep the first and last inside the frame
        centre = min(max(middle, PAD + half), width - PAD - half)
        # Skipped when it would touch the label before (the first one is pushed inwards).
        if index % every == 0 and centre - half >= drawn_to + 4:
            drawn_to = centre + half
            parts.append(
                f'<text x="{centre:.1f}" y="{baseline + 18}" text-anchor="middle"'
                f' font-size="{label_font}">{escape(shown)}</text>'
            )
        parts.append("</g>")
        body.append("".join(parts))
    return _svg(width, baseline + 28, title, _summary(rows, description), body)


# Line colours for several series: NHS blue, dark pink, green, warm yellow's darker
# neighbour, purple, dark grey, with a dash pattern each so colour is not the only cue.
SERIES = [
    ("#005eb8", ""),
    ("#ae2573", "6 3"),
    ("#007f3b", "2 3"),
    ("#8a5a00", "8 3 2 3"),
    ("#330072", "4 4"),
    ("#425563", "1 2"),
    ("#d5281b", "10 4"),
]


# The line chart is drawn by a Jinja template (autoescaped: every name and label is
# escaped by Jinja, not by hand); Python only works out the geometry.
_LINE_TEMPLATE = Environment(autoescape=True).from_string(
    """<svg xmlns="http://www.w3.org/2000/svg" class="app-chart" role="img" \
viewBox="0 0 {{ width }} {{ height }}" width="100%" preserveAspectRatio="xMinYMin meet" \
aria-labelledby="{{ id }}-title {{ id }}-desc" font-family="{{ font }}" fill="{{ text }}">\
<title id="{{ id }}-title">{{ title }}</title><desc id="{{ id }}-desc">{{ desc }}</desc>\
<line x1="{{ left }}" y1="{{ baseline }}" x2="{{ right }}" y2="{{ baseline }}" \
stroke="{{ axis }}" stroke-width="1"/>\
<text x="{{ left - 6 }}" y="{{ top + 4 }}" text-anchor="end" font-size="12">{{ top_value }}</text>\
<text x="{{ left - 6 }}" y="{{ baseline + 4 }}" text-anchor="end" font-size="12">0</text>\
{% for x, label in ticks %}<text x="{{ x }}" y="{{ baseline + 18 }}" text-anchor="middle" \
font-size="12">{{ label }}</text>{% endfor %}\
{% for line in lines %}<g><title>{{ line.tip }}</title><polyline points="{{ line.points }}" \
fill="none" stroke="{{ line.colour }}" stroke-width="2.5"\
{% if line.dash %} stroke-dasharray="{{ line.dash }}"{% endif %}/></g>\
<line x1="{{ line.kx }}" y1="{{ line.ky - 4 }}" x2="{{ line.kx + 28 }}" y2="{{ line.ky - 4 }}" \
stroke="{{ line.colour }}" stroke-width="3"{% if line.dash %} stroke-dasharray="{{ line.dash }}"\
{% endif %}/><text x="{{ line.kx + 34 }}" y="{{ line.ky }}" font-size="13">{{ line.name }}</text>\
{% endfor %}</svg>"""
)


def line_chart(
    labels: list[str],
    series: list[tuple[str, list[int]]],
    *,
    title: str,
    description: str = "",
) -> Markup:
    """Several series over the same buckets (such as each theme per month) as lines,
    with a legend that pairs each name with its colour and dash pattern."""
    series = [(str(name), [max(int(v), 0) for v in values]) for name, values in series]
    top = max((v for _, values in series for v in values), default=0)
    if top == 0 or not labels:
        return _empty(title, description)
    label_font, plot_top, plot_height = 12, 16, 180
    baseline = plot_top + plot_height
    left = PAD + 40  # room for the axis values
    step = (WIDTH - left - PAD) / max(len(labels) - 1, 1)
    scale = plot_height / top
    longest = max(len(_label(label)) for label in labels) * label_font * 0.6
    every = max(1, math.ceil((longest + 8) / max(step, 1)))
    ticks, drawn_to = [], -math.inf
    for index, label in enumerate(labels):
        if index % every:
            continue
        shown = _label(label)
        half = len(shown) * label_font * 0.3
        x = min(max(left + index * step, left + half), WIDTH - PAD - half)
        if x - half < drawn_to + 6:
            continue
        drawn_to = x + half
        ticks.append((f"{x:.1f}", shown))
    legend_top = baseline + 40
    lines = []
    for number, (name, values) in enumerate(series):
        colour, dash = SERIES[number % len(SERIES)]
        lines.append(
            {
                "name": _label(name)[:26],
                "tip": f"{name}: {_number(sum(values))} in all",
                "points": " ".join(
                    f"{left + i * step:.1f},{baseline - v * scale:.1f}"
                    for i, v in enumerate(values)
                ),
                "colour": colour,
                "dash": dash,
                "kx": round(PAD + (number % 3) * (WIDTH - 2 * PAD) / 3, 1),
                "ky": legend_top + (number // 3) * 22,
            }
        )
    figures = "; ".join(
        f"{name}: {', '.join(_number(v) for v in values)}" for name, values in series
    )
    desc = " ".join(
        part
        for part in (description.strip(), f"Buckets: {', '.join(labels)}.", figures + ".")
        if part
    )
    return Markup(  # noqa: S704  # nosec B704 (rendered by an autoescaping Jinja template)
        _LINE_TEMPLATE.render(
            id=f"chart-{next(_ids)}",
            width=WIDTH,
            height=legend_top + 22 * math.ceil(len(series) / 3),
            font=FONT,
            text=TEXT,
            axis=AXIS,
            title=title,
            desc=desc,
            left=left,
            right=WIDTH - PAD,
            top=plot_top,
            baseline=baseline,
            top_value=_number(top),
            ticks=ticks,
            lines=lines,
        )
    )
