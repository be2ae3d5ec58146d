"""A concern's items per week as the geometry of a small bar chart, and in words.

Pure Python: the staff concerns page draws the bars as inline SVG from these
numbers (no markup is built here), and uses the sentence as the chart's text
alternative. Every week gets a slot of the same width, so 30 weeks fit as well as
one; a week with no items has a bar of height 0 (an empty slot).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH = 300.0  # the viewBox's units; the page stretches it to the card's width
HEIGHT = 60.0
MAX_BAR = 40.0  # a bar is never wider than this, so one week is not a block
GAP = 0.25  # share of a slot left empty between bars
MIN_BAR = 2.0  # a week with items stays visible (about 2 px), however small beside the peak


@dataclass(frozen=True)
class Bar:
    week: date
    count: int
    x: float
    y: float
    width: float
    height: float
    slot_x: float
    slot_width: float


@dataclass(frozen=True)
class Trend:
    bars: list[Bar]
    width: float
    height: float
    peak: int
    summary: str


def _day(day: date, *, year: bool) -> str:
    return f"{day.day} {day:%B %Y}" if year else f"{day.day} {day:%B}"


def _items(n: int) -> str:
    return f"{n:,} item" if n == 1 else f"{n:,} items"


def describe(weeks: Sequence[tuple[date, int]]) -> str:
    """The trend in one sentence, e.g. "Items per week from 3 June to 29 July 2019:
    highest 14 in the week of 17 June; 2 in the last week." """
    if not weeks:
        return "No items yet."
    first, last = weeks[0][0], weeks[-1][0]
    same_year = first.year == last.year
    if len(weeks) == 1:
        return f"Items per week: {_items(weeks[0][1])} in the week of {_day(first, year=True)}."
    span = f"from {_day(first, year=not same_year)} to {_day(last, year=True)}"
    peak = max(n for _week, n in weeks)
    total = sum(n for _week, n in weeks)
    head = f"Items per week over {len(weeks)} weeks {span}, {_items(total)} in all"
    if peak == 0:
        return f"{head}."
    peak_weeks = [week for week, n in weeks if n == peak]
    also = len(peak_weeks) - 1
    words = f"{head}: highest {peak:,} in the week of {_day(peak_weeks[0], year=not same_year)}"
    if also:
        words += f" (and {also} other {'week' if also == 1 else 'weeks'})"
    return f"{words}; {weeks[-1][1]:,} in the last week."


def chart(weeks: Sequence[tuple[date, int]]) -> Trend:
    """Bars for each week, heights proportional to the count (the highest is full)."""
    rows = [(week, max(int(n), 0)) for week, n in weeks]
    peak = max((n for _week, n in rows), default=0)
    slot = WIDTH / len(rows) if rows else WIDTH
    width = min(slot * (1 - GAP), MAX_BAR)
    bars = []
    for i, (week, n) in enumerate(rows):
        height = 0.0 if n == 0 or peak == 0 else max(HEIGHT * n / peak, MIN_BAR)
        bars.append(
            Bar(
                week=week,
                count=n,
                x=round(i * slot + (slot - width) / 2, 3),
                y=round(HEIGHT - height, 3),
                width=round(width, 3),
                height=round(height, 3),
                slot_x=round(i * slot, 3),
                slot_width=round(slot, 3),
            )
        )
    return Trend(bars, WIDTH, HEIGHT, peak, describe(rows))
