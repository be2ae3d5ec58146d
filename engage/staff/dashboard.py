"""Figures for the staff dashboard: feedback by theme, area, channel and week.

Staff see every item except spam, campaign duplicates included (the public figures
count those once; see engage.engagements.service.COUNTED_STATUSES).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Date, distinct, exists, func, select, type_coerce

from engage.extensions import db
from engage.feedback.models import Channel, FeedbackItem, Status, Theme
from engage.feedback.queries import current_tags
from engage.publish.queries import week_start

UNCLASSIFIED = "Unclassified"
NOT_GIVEN = "Not given"

CHANNEL_LABELS = {
    Channel.WEB: "Web form",
    Channel.EMAIL: "Email",
    Channel.API: "Partner API",
    Channel.IMPORT: "Imported mail",
    Channel.PHONE: "Phone",
    Channel.LETTER: "Letter",
    Channel.MEETING: "Meeting",
}


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
    areas: dict[str, int] = {}
    for area, n in db.session.execute(
        select(FeedbackItem.area, func.count()).where(counted).group_by(FeedbackItem.area)
    ):
        label = (area or "").strip() or NOT_GIVEN
        areas[label] = areas.get(label, 0) + n
    # Largest first; "Not given" last whatever its size, as it is not a place.
    return sorted(areas.items(), key=lambda row: (row[0] == NOT_GIVEN, -row[1], row[0]))


def _by_channel(counted: ColumnElement[bool]) -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(FeedbackItem.channel, func.count()).where(counted).group_by(FeedbackItem.channel)
    ).all()
    found = {Channel(channel): n for channel, n in rows}
    ordered = sorted(found.items(), key=lambda row: (-row[1], list(Channel).index(row[0])))
    return [(CHANNEL_LABELS[channel], n) for channel, n in ordered]


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
