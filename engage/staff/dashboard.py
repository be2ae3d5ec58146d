"""Figures for the staff dashboard: feedback by theme, area, channel and week.

Staff see every item except spam, campaign duplicates included (the public figures
count those once; see engage.feedback.queries.COUNTED_STATUSES).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, Date, distinct, exists, func, select, type_coerce

from engage import caching
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import tally
from engage.feedback.models import Channel, FeedbackItem, Status, Theme
from engage.feedback.queries import current_tags
from engage.publish.queries import week_start
from engage.util import utcnow

UNCLASSIFIED = "Unclassified"
NOT_GIVEN = "Not given"


@dataclass(frozen=True)
class DashboardStats:
    """Counts for one engagement (or all feedback), ready for tables and charts.

    Each list holds (label, count) rows; ``by_week`` holds (Monday, count) rows for
    every week from the first item's to the last item's, empty weeks included.
    """

    total: int = 0
    by_theme: list[tuple[str, int]] = field(default_factory=list)
    by_area: list[tuple[str, int]] = field(default_factory=list)
    by_channel: list[tuple[str, int]] = field(default_factory=list)
    by_week: list[tuple[date, int]] = field(default_factory=list)
    duplicate_groups: int = 0
    items_in_groups: int = 0

    def week_rows(self) -> list[tuple[str, int]]:
        """``by_week`` labelled for a chart, such as "3 Jun 2019"."""
        return [(f"{monday.day} {monday:%b %Y}", n) for monday, n in self.by_week]


def _counted(engagement_id: int | None) -> ColumnElement[bool]:
    condition = FeedbackItem.status != Status.SPAM
    if engagement_id is not None:
        condition = condition & (FeedbackItem.engagement_id == engagement_id)
    return condition


def _by_theme(counted: ColumnElement[bool]) -> list[tuple[str, int]]:
    tags = current_tags(counted)
    rows = db.session.execute(
        select(Theme.name, func.count(distinct(tags.c.item_id)))
        .select_from(Theme)
        .outerjoin(tags, tags.c.theme_id == Theme.id)
        .group_by(Theme.id, Theme.name, Theme.position)
        .order_by(Theme.position, Theme.name)
    ).all()
    unclassified = db.session.scalar(
        select(func.count())
        .select_from(FeedbackItem)
        .where(counted, ~exists().where(tags.c.item_id == FeedbackItem.id))
    )
    return [(name, n) for name, n in rows] + [(UNCLASSIFIED, unclassified or 0)]


def _by_area(counted: ColumnElement[bool]) -> list[tuple[str, int]]:
    return _area_rows(
        db.session.execute(
            select(FeedbackItem.area, func.count()).where(counted).group_by(FeedbackItem.area)
        )
    )


def _area_rows(rows) -> list[tuple[str, int]]:
    """(area as typed, count) rows labelled and added up: blank is "Not given"."""
    areas: dict[str, int] = {}
    for area, n in rows:
        label = (area or "").strip() or NOT_GIVEN
        areas[label] = areas.get(label, 0) + n
    # Largest first; "Not given" last whatever its size, as it is not a place.
    return sorted(areas.items(), key=lambda row: (row[0] == NOT_GIVEN, -row[1], row[0]))


def _by_channel(counted: ColumnElement[bool]) -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(FeedbackItem.channel, func.count()).where(counted).group_by(FeedbackItem.channel)
    ).all()
    return _channel_rows((Channel(channel), n) for channel, n in rows)


def _channel_rows(rows) -> list[tuple[str, int]]:
    """(channel, count) rows, largest first, named for staff."""
    ordered = sorted(rows, key=lambda row: (-row[1], list(Channel).index(row[0])))
    return [(channel.label, n) for channel, n in ordered]


def _by_week(counted: ColumnElement[bool]) -> list[tuple[date, int]]:
    # Days are counted in SQL (DATE() means the same on SQLite and PostgreSQL) and
    # folded into ISO weeks here: at most a few hundred rows per engagement.
    day = type_coerce(func.date(FeedbackItem.submitted_at), Date)
    weeks: dict[date, int] = {}
    for when, n in db.session.execute(select(day, func.count()).where(counted).group_by(day)):
        monday = week_start(when)
        weeks[monday] = weeks.get(monday, 0) + n
    if not weeks:
        return []
    first, last = min(weeks), max(weeks)
    mondays = (first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1))
    return [(monday, weeks.get(monday, 0)) for monday in mondays]


def engagement_stats(engagement_id: int | None) -> DashboardStats:
    """Count non-spam feedback on an engagement (None: all feedback) every way staff need."""
    counted = _counted(engagement_id)
    total = db.session.scalar(select(func.count()).select_from(FeedbackItem).where(counted))
    groups, grouped = db.session.execute(
        select(func.count(distinct(FeedbackItem.duplicate_group_id)), func.count()).where(
            counted, FeedbackItem.duplicate_group_id.is_not(None)
        )
    ).one()
    return DashboardStats(
        total=total or 0,
        by_theme=_by_theme(counted),
        by_area=_by_area(counted),
        by_channel=_by_channel(counted),
        by_week=_by_week(counted),
        duplicate_groups=groups or 0,
        items_in_groups=grouped or 0,
    )


# ---------------------------------------------------------------------------------------
# A dashboard for a period: buckets sized so a chart never has more than MAX_POINTS.

MAX_POINTS = 60
DEFAULT_WEEKS = 12
UNITS = ("week", "month", "quarter", "year")
UNIT_NAMES = {"week": "Week starting", "month": "Month", "quarter": "Quarter", "year": "Year"}
MAX_AREAS = 10  # the largest areas by name; the rest are added up as "Other areas"
OTHER_AREAS = "Other areas"
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def bucket_start(day: date, unit: str) -> date:
    """The first day of the week (Monday), month, quarter or year ``day`` falls in."""
    if unit == "week":
        return week_start(day)
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _next_bucket(start: date, unit: str) -> date:
    if unit == "week":
        return start + timedelta(weeks=1)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def bucket_starts(first: date, last: date, unit: str) -> list[date]:
    """Every bucket's first day from the one holding ``first`` to the one holding ``last``."""
    starts, current = [], bucket_start(first, unit)
    while current <= last:
        starts.append(current)
        current = _next_bucket(current, unit)
    return starts


def choose_unit(first: date, last: date, max_points: int = MAX_POINTS) -> str:
    """The finest of week, month, quarter and year giving at most ``max_points`` buckets."""
    for unit in UNITS[:-1]:
        if len(bucket_starts(first, last, unit)) <= max_points:
            return unit
    return "year"


def bucket_label(start: date, unit: str) -> str:
    """How a bucket reads on a chart: "3 Jun 2019", "Jun 2019", "Q2 2019", "2019"."""
    if unit == "week":
        return f"{start.day} {start:%b %Y}"
    if unit == "month":
        return f"{start:%b %Y}"
    if unit == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return str(start.year)


@dataclass(frozen=True)
class Period:
    """An inclusive range of days, and the bucket size its charts use."""

    start: date
    end: date
    unit: str

    @classmethod
    def of(cls, start: date, end: date) -> Period:
        start, end = sorted((start, end))
        # Even by year no more than MAX_POINTS: a longer range keeps its last years.
        start = max(start, date(end.year - MAX_POINTS + 1, 1, 1))
        return cls(start, end, choose_unit(start, end))

    def starts(self) -> list[date]:
        return bucket_starts(self.start, self.end, self.unit)

    @property
    def unit_name(self) -> str:
        return UNIT_NAMES[self.unit]

    def describe(self) -> str:
        return f"{self.start.day} {self.start:%B %Y} to {self.end.day} {self.end:%B %Y}"


def default_period(engagement: Engagement | None, today: date) -> Period:
    """An engagement's open period (to today while it is open), else the last 12 weeks."""
    if engagement is not None:
        return Period.of(
            engagement.opens_on, max(engagement.opens_on, min(engagement.closes_on, today))
        )
    return Period.of(today - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1), today)


def current_engagement(everything: list[Engagement], today: date) -> Engagement | None:
    """The engagement open today that opened last (None if none is open)."""
    open_now = [e for e in everything if e.is_open(today)]
    return max(open_now, key=lambda e: (e.opens_on, e.id), default=None)


@dataclass(frozen=True)
class PeriodStats:
    """The dashboard's figures for an engagement (or all feedback) over a period."""

    period: Period
    counted_at: datetime = field(default_factory=utcnow)
    total: int = 0
    answered: int = 0
    duplicate_groups: int = 0
    items_in_groups: int = 0
    by_theme: list[tuple[str, int]] = field(default_factory=list)
    answered_by_theme: list[tuple[str, int, int]] = field(
        default_factory=list
    )  # name, all, answered
    by_area: list[tuple[str, int]] = field(default_factory=list)
    by_channel: list[tuple[str, int]] = field(default_factory=list)
    over_time: list[tuple[date, int]] = field(default_factory=list)
    theme_trends: list[tuple[str, list[int]]] = field(default_factory=list)  # per bucket

    def time_rows(self) -> list[tuple[str, int]]:
        return [(bucket_label(start, self.period.unit), n) for start, n in self.over_time]

    def bucket_labels(self) -> list[str]:
        return [bucket_label(start, self.period.unit) for start, _ in self.over_time]

    def answered_share(self) -> list[tuple[str, int]]:
        """(theme, whole percent answered) for themes with items."""
        return [(name, round(100 * done / n)) for name, n, done in self.answered_by_theme if n]


def _top_areas(rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The MAX_AREAS largest named areas, the rest added up, then "Not given"."""
    named = [row for row in rows if row[0] != NOT_GIVEN]
    rest = named[MAX_AREAS:]
    shown = named[:MAX_AREAS]
    if rest:
        shown.append((f"{OTHER_AREAS} ({len(rest)})", sum(n for _, n in rest)))
    return shown + [row for row in rows if row[0] == NOT_GIVEN]


def _as_date(value) -> date:
    # SQLite hands DATE() back as text; PostgreSQL as a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def period_stats(engagement_id: int | None, period: Period) -> PeriodStats:
    """Every figure of the dashboard for non-spam feedback sent in ``period``.

    Read from the counts kept per engagement, day and key (``feedback.tally``), not from
    the items: two sums (per day: all, unthemed and each theme; per key: area, channel,
    duplicate group) and the themes; days are folded into the period's buckets here.
    The figures equal a count of the items (tests/feedback/test_tally.py holds them to it).
    """
    where = {"engagement_id": engagement_id, "first": period.start, "last": period.end}
    daily = tally.summed((tally.ALL, tally.UNTHEMED, tally.THEME), by_day=True, **where)
    keyed = tally.summed((tally.AREA, tally.CHANNEL, tally.GROUP), **where)
    themes = db.session.execute(
        select(Theme.id, Theme.name).order_by(Theme.position, Theme.name)
    ).all()

    starts = period.starts()
    index = {start: i for i, start in enumerate(starts)}
    totals = [0] * len(starts)
    trends = {theme_id: [0] * len(starts) for theme_id, _ in themes}
    per_theme = dict.fromkeys(trends, 0)
    answered_per_theme = dict.fromkeys(trends, 0)
    total = answered = unclassified = 0
    for kind, when, key, n, spam, _duplicate, responded in daily:
        counted = n - spam  # staff see every item but spam
        i = index.get(bucket_start(_as_date(when), period.unit))
        if kind == tally.ALL:
            total += counted
            answered += responded
            if i is not None:
                totals[i] += counted
        elif kind == tally.UNTHEMED:
            unclassified += counted
        elif int(key) in trends:
            theme_id = int(key)
            per_theme[theme_id] += counted
            answered_per_theme[theme_id] += responded
            if i is not None:
                trends[theme_id][i] += counted
    areas: dict[str, int] = {}
    channels: dict[Channel, int] = {}
    groups = grouped = 0
    for kind, key, n, spam, _duplicate, _responded in keyed:
        counted = n - spam
        if counted <= 0:
            continue
        if kind == tally.AREA:
            areas[key] = counted
        elif kind == tally.CHANNEL:
            channels[Channel(key)] = counted
        else:
            groups, grouped = groups + 1, grouped + counted

    return PeriodStats(
        period=period,
        total=total,
        answered=answered,
        duplicate_groups=groups,
        items_in_groups=grouped,
        by_theme=[(name, per_theme[i]) for i, name in themes] + [(UNCLASSIFIED, unclassified)],
        answered_by_theme=[(name, per_theme[i], answered_per_theme[i]) for i, name in themes],
        by_area=_top_areas(_area_rows(areas.items())),
        by_channel=_channel_rows(channels.items()),
        over_time=list(zip(starts, totals, strict=True)),
        theme_trends=[(name, trends[i]) for i, name in themes],
    )


def csv_rows(stats: PeriodStats, scope: str) -> list[list[str | int]]:
    """The dashboard's figures as rows for a CSV file: figure, bucket start, label, value."""
    p = stats.period
    rows: list[list[str | int]] = [["figure", "period_start", "label", "value"]]
    rows.append(["scope", p.start.isoformat(), scope, stats.total])
    rows.append(
        ["answered", p.start.isoformat(), "Items linked to a published response", stats.answered]
    )
    rows += [["by_theme", p.start.isoformat(), label, n] for label, n in stats.by_theme]
    rows += [
        ["answered_percent_by_theme", p.start.isoformat(), label, pct]
        for label, pct in stats.answered_share()
    ]
    rows += [["by_area", p.start.isoformat(), label, n] for label, n in stats.by_area]
    rows += [["by_channel", p.start.isoformat(), label, n] for label, n in stats.by_channel]
    rows += [
        [f"per_{p.unit}", start.isoformat(), "All feedback", n] for start, n in stats.over_time
    ]
    for name, values in stats.theme_trends:
        rows += [
            [f"per_{p.unit}_by_theme", start.isoformat(), name, n]
            for (start, _), n in zip(stats.over_time, values, strict=True)
        ]
    return rows


def cached_period_stats(engagement_id: int | None, period: Period) -> PeriodStats:
    """period_stats, kept for DASHBOARD_CACHE_SECONDS (60; none when testing) per worker
    in the named cache ``dashboard_period_stats``.

    The figures are sums of the kept counts (a few milliseconds to tens at 1,000,000
    items); a minute's delay is fine on a dashboard, and the page says when the figures
    were counted. The
    cache's lifetime is the setting as the process first reads it (or
    ENGAGE_CACHE_DASHBOARD_PERIOD_STATS_SECONDS); a setting of 0 at any time bypasses it.
    """
    seconds = current_app.config.get("DASHBOARD_CACHE_SECONDS", 0 if current_app.testing else 60)
    if not seconds:
        return period_stats(engagement_id, period)
    # A few engagements × a few periods.
    cache = caching.named_cache("dashboard_period_stats", maxsize=64, seconds=seconds)
    return cache.get_or_make((engagement_id, period), lambda: period_stats(engagement_id, period))
