"""The geometry and the words of a concern's weekly bar chart (engage.concerns.trend)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engage.concerns import trend

JUNE_3 = date(2019, 6, 3)


def _weeks(counts, start=JUNE_3):
    return [(start + timedelta(days=7 * i), n) for i, n in enumerate(counts)]


def test_heights_are_proportional_and_the_highest_fills_the_chart():
    t = trend.chart(_weeks([2, 14, 7, 3]))
    heights = [b.height for b in t.bars]
    assert heights[1] == trend.HEIGHT
    for bar in t.bars:
        assert bar.height == pytest.approx(trend.HEIGHT * bar.count / 14, abs=0.01)
        assert bar.y + bar.height == pytest.approx(trend.HEIGHT)
    assert t.peak == 14


def test_a_week_with_nothing_is_an_empty_slot_and_a_small_week_still_shows():
    t = trend.chart(_weeks([0, 1000, 0, 1]))
    assert [b.height for b in t.bars][0::2] == [0, 0]
    assert t.bars[3].height == trend.MIN_BAR
    assert all(b.width > 0 for b in t.bars)


def test_one_week_is_one_bar_no_wider_than_the_maximum_in_the_middle():
    t = trend.chart(_weeks([5]))
    (bar,) = t.bars
    assert bar.width == trend.MAX_BAR and bar.height == trend.HEIGHT
    assert bar.x + bar.width / 2 == pytest.approx(trend.WIDTH / 2)
    assert t.summary == "Items per week: 5 items in the week of 3 June 2019."


def test_thirty_weeks_fit_side_by_side_inside_the_chart():
    t = trend.chart(_weeks([i % 7 for i in range(30)]))
    assert len(t.bars) == 30
    assert t.bars[0].x >= 0 and t.bars[-1].x + t.bars[-1].width <= trend.WIDTH + 0.01
    for a, b in zip(t.bars, t.bars[1:], strict=False):
        assert a.x + a.width < b.x  # a gap between every two bars
    assert t.bars[0].width > 5  # in viewBox units: about 6 px at 320 px wide


def test_the_sentence_names_the_span_the_peak_and_the_last_week():
    words = trend.describe(_weeks([2, 7, 14, 3, 0, 1, 6, 9, 2]))
    assert words == (
        "Items per week over 9 weeks from 3 June to 29 July 2019, 44 items in all: "
        "highest 14 in the week of 17 June; 2 in the last week."
    )
    across_years = trend.describe(_weeks([3, 3, 1], start=date(2019, 12, 23)))
    assert "from 23 December 2019 to 6 January 2020" in across_years
    assert "highest 3 in the week of 23 December 2019 (and 1 other week)" in across_years


def test_nothing_at_all():
    assert trend.chart([]).bars == []
    assert trend.describe([]) == "No items yet."
    assert trend.chart(_weeks([0, 0])).bars[0].height == 0
