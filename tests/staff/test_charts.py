"""Dashboard charts: well-formed, accessible SVG with every label escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup, escape

from engage.staff.charts import BAR, EMPTY_TEXT, MAX_LABEL, TEXT, bar_chart, column_chart

SVG = "{http://www.w3.org/2000/svg}"
CHARTS = [bar_chart, column_chart]


def parse(chart: Markup) -> ET.Element:
    """The chart as XML: parsing fails if anything is left unescaped."""
    root = ET.fromstring(str(chart))
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


def bar_widths(root: ET.Element) -> list[float]:
    return [float(r.get("width")) for r in root.iter(f"{SVG}rect")]


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_is_an_accessible_scalable_image(chart):
    rows = [("Money", 12), ("Impact on jobs", 3), ("Unclassified", 0)]
    svg = chart(rows, title="Feedback by theme", description="Items per theme.")
    assert isinstance(svg, Markup)
    root = parse(svg)
    assert root.get("role") == "img"
    width, height = (float(v) for v in root.get("viewBox").split()[2:])
    assert width > 0 and height > 0
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == "Feedback by theme"
    # The description carries every figure, for screen readers.
    assert desc.text == "Items per theme. Money: 12; Impact on jobs: 3; Unclassified: 0."
    assert root.get("aria-labelledby").split() == [title.get("id"), desc.get("id")]
    assert {r.get("fill") for r in root.iter(f"{SVG}rect")} == {BAR}
    assert root.get("fill") == TEXT
    assert "script" not in str(svg).lower()
    assert len(list(root.iter(f"{SVG}rect"))) == len(rows)
    # Each bar or column has a tooltip with its label and value.
    tips = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g")]
    assert tips == ["Money: 12", "Impact on jobs: 3", "Unclassified: 0"]


def test_bar_chart_draws_label_and_value_for_each_bar():
    root = parse(bar_chart([("Money", 10), ("Jobs", 5), ("Services", 1)], title="Themes"))
    assert texts(root) == ["Money", "10", "Jobs", "5", "Services", "1"]
    money, jobs, services = bar_widths(root)
    assert jobs == pytest.approx(money / 2, abs=0.1)
    assert 0 < services < jobs  # small but visible


def test_column_chart_keeps_order_and_labels_every_column_when_few():
    rows = [("3 Jun", 4), ("10 Jun", 0), ("17 Jun", 8)]
    root = parse(column_chart(rows, title="Items per week"))
    assert texts(root) == ["4", "3 Jun", "0", "10 Jun", "8", "17 Jun"]
    assert len(set(bar_widths(root))) == 1
    heights = [float(r.get("height")) for r in root.iter(f"{SVG}rect")]
    assert heights[1] == 0 and heights[2] == pytest.approx(2 * heights[0], abs=0.1)


def test_column_chart_with_many_columns_still_describes_them_all():
    rows = [(f"Week {n}", n) for n in range(1, 121)]
    root = parse(column_chart(rows, title="Items per week"))
    assert len(list(root.iter(f"{SVG}rect"))) == 120
    shown = [t for t in texts(root) if t.startswith("Week")]
    assert 0 < len(shown) < 120  # labels thinned so they do not overlap
    assert all(f"Week {n}: {n}" in root.find(f"{SVG}desc").text for n in range(1, 121))
    assert float(root.get("viewBox").split()[2]) <= 2 * 8 + 120 * 12


@pytest.mark.parametrize("chart", CHARTS)
def test_labels_and_titles_are_escaped(chart):
    evil = '<script>alert("x")</script> & co'
    svg = chart([(evil, 3), ("Safe", 1)], title="<b>Title</b>", description="<i>d</i>")
    text = str(svg)
    assert "<script>" not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;script&gt;" in text
    root = parse(svg)  # still well-formed XML
    assert evil in texts(root)
    assert root.find(f"{SVG}title").text == "<b>Title</b>"
    assert evil in root.find(f"{SVG}desc").text
    # Markup is not escaped a second time by Jinja.
    assert str(escape(svg)) == text


@pytest.mark.parametrize("chart", CHARTS)
@pytest.mark.parametrize("rows", [[], [("Money", 0), ("Jobs", 0)]])
def test_no_data_gives_a_small_valid_chart(chart, rows):
    svg = chart(rows, title="Feedback by theme", description="Items per theme.")
    root = parse(svg)
    assert root.get("role") == "img"
    assert texts(root) == [EMPTY_TEXT]
    assert root.find(f"{SVG}desc").text == f"Items per theme. {EMPTY_TEXT}."
    assert list(root.iter(f"{SVG}rect")) == []
    assert float(root.get("viewBox").split()[3]) < 100


def test_long_labels_are_shortened_on_screen_but_kept_in_full():
    label = "A very long area name " * 10
    root = parse(bar_chart([(label, 2)], title="Areas"))
    drawn = texts(root)[0]
    assert len(drawn) == MAX_LABEL and drawn.endswith("…")
    assert label in root.find(f"{SVG}desc").text


def test_chart_ids_are_unique_on_a_page():
    first = parse(bar_chart([("Money", 1)], title="A"))
    second = parse(bar_chart([("Money", 1)], title="A"))
    assert first.get("aria-labelledby") != second.get("aria-labelledby")
