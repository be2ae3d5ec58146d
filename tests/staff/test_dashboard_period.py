"""The dashboard over a period: bucket sizes, figures against an independent count,
the page's defaults and its CSV download (issue #22)."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import date, datetime, timedelta

import pytest

from engage.extensions import db
from engage.feedback.models import Channel, Status, TagSource
from engage.staff import dashboard
from engage.staff.dashboard import (
    MAX_POINTS,
    UNCLASSIFIED,
    Period,
    bucket_label,
    bucket_start,
    choose_unit,
    engagement_stats,
    period_stats,
)
from engage.staff.models import Role
from tests.staff.test_dashboard import MONDAY, dataset, item, tag, themes  # noqa: F401

WHOLE = Period.of(date(2019, 1, 1), date(2019, 12, 31))


@pytest.mark.parametrize(
    ("first", "last", "unit"),
    [
        (date(2025, 1, 1), date(2025, 3, 25), "week"),  # 12 weeks
        (date(2024, 1, 1), date(2025, 2, 1), "week"),  # 57 weeks still fit
        (date(2024, 1, 1), date(2025, 6, 1), "month"),
        (date(2019, 1, 1), date(2026, 12, 5), "quarter"),  # the demo's 2019-2026
        (date(2000, 1, 1), date(2030, 1, 1), "year"),
    ],
)
def test_the_finest_unit_that_fits_is_chosen(first, last, unit):
    assert choose_unit(first, last) == unit


def test_no_range_gives_more_than_the_maximum_number_of_points():
    rng = random.Random(22)
    for _ in range(300):
        first = date(2000, 1, 1) + timedelta(days=rng.randrange(9000))
        last = first + timedelta(days=rng.randrange(12000))
        period = Period.of(last, first)  # either order
        starts = period.starts()
        assert period.start <= period.end
        assert 1 <= len(starts) <= MAX_POINTS
        assert starts[0] <= period.start and bucket_start(period.end, period.unit) == starts[-1]
        assert starts == sorted(set(starts))


def test_a_century_keeps_its_last_sixty_years():
    period = Period.of(date(2000, 1, 1), date(2100, 12, 31))
    assert period.unit == "year"
    assert period.start == date(2041, 1, 1) and len(period.starts()) == MAX_POINTS


def test_bucket_starts_and_labels():
    day = date(2019, 8, 21)  # a Wednesday
    assert bucket_start(day, "week") == date(2019, 8, 19)
    assert bucket_start(day, "month") == date(2019, 8, 1)
    assert bucket_start(day, "quarter") == date(2019, 7, 1)
    assert bucket_start(day, "year") == date(2019, 1, 1)
    assert bucket_label(date(2019, 6, 3), "week") == "3 Jun 2019"
    assert bucket_label(date(2019, 6, 1), "month") == "Jun 2019"
    assert bucket_label(date(2019, 4, 1), "quarter") == "Q2 2019"
    assert Period.of(date(2019, 11, 1), date(2020, 2, 1)).starts()[-1] == date(2020, 1, 27)


def test_period_figures_agree_with_the_all_time_figures(dataset):  # noqa: F811
    engagements, _rows = dataset
    for engagement_id in [e.id for e in engagements] + [None]:
        expected = engagement_stats(engagement_id)  # current_tags, a different query
        stats = period_stats(engagement_id, WHOLE)
        assert stats.total == expected.total > 0
        assert stats.by_theme == expected.by_theme
        assert dict(stats.by_channel) == dict(expected.by_channel)
        assert sum(n for _, n in stats.over_time) == stats.total
        assert stats.items_in_groups == expected.items_in_groups
        # Each theme's line adds up to its bar.
        for (name, values), (bar_name, n) in zip(stats.theme_trends, stats.by_theme, strict=False):
            assert name == bar_name and sum(values) == n
        weekly = Period.of(MONDAY.date(), MONDAY.date() + timedelta(weeks=7))
        by_week = dict(period_stats(engagement_id, weekly).over_time)
        expected_weeks = dict(expected.by_week)
        assert {k: v for k, v in by_week.items() if k in expected_weeks} == expected_weeks
        assert all(v == 0 for k, v in by_week.items() if k not in expected_weeks)


def test_the_period_includes_its_last_day_and_nothing_after(app, make_engagement):
    engagement = make_engagement()
    item(1, engagement=engagement, submitted_at=datetime(2019, 6, 30, 23, 59, 59))
    item(2, engagement=engagement, submitted_at=datetime(2019, 7, 1, 0, 0, 0))
    item(3, engagement=engagement, submitted_at=datetime(2019, 6, 1, 0, 0, 0))
    item(4, engagement=engagement, submitted_at=datetime(2019, 5, 31, 23, 59, 59))
    db.session.commit()
    june = period_stats(engagement.id, Period.of(date(2019, 6, 1), date(2019, 6, 30)))
    assert june.total == 2
    assert june.period.unit == "week"


def test_share_answered_per_theme(app, make_engagement):
    engagement = make_engagement()
    t = themes()
    for n in range(4):
        made = item(n, engagement=engagement, status=Status.RESPONDED if n == 0 else Status.NEW)
        tag(made, t["money"], TagSource.STAFF)
    jobs = item(9, engagement=engagement, status=Status.RESPONDED)
    tag(jobs, t["jobs"], TagSource.MODEL)
    item(10, engagement=engagement, status=Status.SPAM)
    db.session.commit()
    stats = period_stats(engagement.id, WHOLE)
    assert stats.total == 5 and stats.answered == 2
    shares = dict(stats.answered_share())
    assert shares["Money"] == 25
    assert shares["Impact on jobs"] == 100
    assert "Decision-making" not in shares  # no items: no share to show
    assert dict(stats.by_theme)[UNCLASSIFIED] == 0


def _points(svg_html: str) -> int:
    return len(re.findall(r"<rect ", svg_html))


def test_default_is_the_open_engagement_and_its_period(app, signed_in, make_engagement):
    today = date.today()
    make_engagement(title="Closed long ago", opens_on=date(2019, 1, 1), closes_on=date(2019, 3, 1))
    current = make_engagement(
        title="Open now", opens_on=today - timedelta(days=500), closes_on=today + timedelta(days=30)
    )
    client = signed_in(Role.VIEWER)
    page = client.get("/staff/dashboard").get_data(as_text=True)
    assert f'<option value="{current.slug}" selected>' in page
    assert f'value="{(today - timedelta(days=500)).isoformat()}"' in page
    assert f'value="{today.isoformat()}"' in page  # open: up to today, not the closing day
    assert "one bar or point per month" in page


def test_all_feedback_defaults_to_the_last_twelve_weeks(app, signed_in):
    client = signed_in(Role.VIEWER)
    page = client.get("/staff/dashboard").get_data(as_text=True)
    today = date.today()
    assert f'value="{(today - timedelta(weeks=12) + timedelta(days=1)).isoformat()}"' in page
    assert "one bar or point per week" in page


def test_a_long_range_page_stays_within_sixty_points(app, signed_in, dataset):  # noqa: F811
    client = signed_in(Role.VIEWER)
    page = client.get("/staff/dashboard?engagement=all&from=2000-01-01&to=2050-12-31")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    time_chart = html.split('id="by-time"')[1].split("</svg>")[0]
    assert 0 < _points(time_chart) <= MAX_POINTS
    assert "one bar or point per year" in html
    assert "1 January 2000 to 31 December 2050" in html
    assert "Download the figures (CSV)" in html


def test_bad_dates_and_unknown_engagements(app, signed_in):
    client = signed_in(Role.VIEWER)
    page = client.get("/staff/dashboard?from=June")
    assert page.status_code == 200
    assert "is not a date like 2025-06-01" in page.get_data(as_text=True)
    assert client.get("/staff/dashboard?engagement=nope").status_code == 404
    assert client.get("/staff/dashboard.csv?engagement=nope").status_code == 404


def test_csv_holds_the_figures_and_cannot_run_formulas(app, signed_in, make_engagement):
    engagement = make_engagement()
    item(1, engagement=engagement, area="=HYPERLINK(1)", channel=Channel.EMAIL)
    item(2, engagement=engagement, area="Brent")
    db.session.commit()
    client = signed_in(Role.VIEWER)
    got = client.get(
        f"/staff/dashboard.csv?engagement={engagement.slug}&from=2019-06-01&to=2019-06-30"
    )
    assert got.status_code == 200
    assert got.mimetype == "text/csv"
    assert "attachment" in got.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(got.get_data(as_text=True))))
    assert rows[0] == ["figure", "period_start", "label", "value"]
    assert ["scope", "2019-06-01", engagement.title, "2"] in rows
    areas = {r[2]: r[3] for r in rows if r[0] == "by_area"}
    assert areas == {"Brent": "1", "'=HYPERLINK(1)": "1"}
    weekly = [r for r in rows if r[0] == "per_week"]
    assert sum(int(r[3]) for r in weekly) == 2 and len(weekly) == 5


def test_dashboard_needs_a_signed_in_account(app, client):
    assert client.get("/staff/dashboard").status_code == 302
    assert client.get("/staff/dashboard.csv").status_code == 302


def test_figures_are_kept_for_a_while_when_the_cache_is_on(app, make_engagement):
    engagement = make_engagement()
    item(1, engagement=engagement)
    db.session.commit()
    app.config["DASHBOARD_CACHE_SECONDS"] = 60
    try:
        with app.test_request_context():
            first = dashboard.cached_period_stats(engagement.id, WHOLE)
            item(2, engagement=engagement)
            db.session.commit()
            assert dashboard.cached_period_stats(engagement.id, WHOLE).total == first.total == 1
            app.config["DASHBOARD_CACHE_SECONDS"] = 0
            assert dashboard.cached_period_stats(engagement.id, WHOLE).total == 2
    finally:
        app.config.pop("DASHBOARD_CACHE_SECONDS", None)


def test_line_chart_is_escaped_xml_with_a_legend_and_every_value():
    import xml.etree.ElementTree as ET

    from engage.staff.charts import bar_chart, line_chart

    svg = line_chart(
        ["Jun 2019", "Jul 2019", "Aug 2019"],
        [("Money <b>&", [3, 0, 7]), ("Jobs", [1, 2, 0])],
        title="Themes & months",
    )
    root = ET.fromstring(str(svg))  # fails if anything is left unescaped
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}g/{ns}polyline")
    assert len(lines) == 2
    assert len(lines[0].get("points").split()) == 3
    assert lines[0].get("stroke") != lines[1].get("stroke")
    legend = [t.text for t in root.iter(f"{ns}text")]
    assert "Money <b>&" in legend and "Jobs" in legend
    desc = root.find(f"{ns}desc").text
    assert "Money <b>&: 3, 0, 7" in desc and "Jul 2019" in desc
    empty = ET.fromstring(str(line_chart(["Jun 2019"], [("Jobs", [0])], title="t")))
    assert "No feedback yet" in [t.text for t in empty.iter(f"{ns}text")]
    shares = ET.fromstring(str(bar_chart([("Money", 50)], title="t", suffix="%", top=100)))
    assert "50%" in [t.text for t in shares.iter(f"{ns}text")]
    widths = [float(r.get("width")) for r in shares.iter(f"{ns}rect")]
    full = float(shares.get("viewBox").split()[2])
    assert widths[0] < full / 2  # 50 of a fixed 100, not the widest bar
