"""The figures as the dashboard and the engagement page counted them before issue 25:
from every item, with the queries of engage/staff/dashboard.py and
engage/feedback/queries.py at 4a18ee1. Kept as the reference the kept counts
(engage.feedback.tally) must equal."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import ColumnElement, Date, case, distinct, exists, func, select, type_coerce
from sqlalchemy.orm import aliased

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status, TagSource, Theme, ThemeTag
from engage.feedback.queries import (
    EngagementFigures,
    ThemeShare,
    counted_comments,
    current_tags,
    is_current,
)
from engage.staff.dashboard import (
    UNCLASSIFIED,
    Period,
    PeriodStats,
    _as_date,
    _by_area,
    _by_channel,
    _counted,
    _top_areas,
    bucket_start,
)


def _in_period(engagement_id: int | None, period: Period) -> ColumnElement[bool]:
    # Bounds as datetimes so an index on submitted_at serves the range on both databases.
    start = datetime.combine(period.start, time.min)
    end = datetime.combine(period.end + timedelta(days=1), time.min)
    return (
        _counted(engagement_id)
        & (FeedbackItem.submitted_at >= start)
        & (FeedbackItem.submitted_at < end)
    )


_RESPONDED = case((FeedbackItem.status == Status.RESPONDED, 1), else_=0)


def _current_tag(tag) -> ColumnElement[bool]:
    """The tag is one of its item's current themes (``is_current``, as an anti-join)."""
    staff = aliased(ThemeTag)
    return is_current(
        tag,
        staff_tagged=exists().where(staff.item_id == tag.item_id, staff.source == TagSource.STAFF),
    )


def _has_current_theme() -> ColumnElement[bool]:
    # Some tag is current when a staff tag exists, or a model tag and no review: since
    # an item with a staff tag shows those, "any tag, staff or unreviewed" is the test.
    tag = aliased(ThemeTag)
    return exists().where(
        tag.item_id == FeedbackItem.id,
        (tag.source == TagSource.STAFF) | FeedbackItem.themes_reviewed_at.is_(None),
    )


def period_stats(engagement_id: int | None, period: Period) -> PeriodStats:
    """Every figure of the dashboard for non-spam feedback sent in ``period``.

    Four reads: per day (items, answered, without a theme), per day and theme (items,
    answered), per area, per channel; days are folded into the period's buckets here.
    """
    counted = _in_period(engagement_id, period)
    day = type_coerce(func.date(FeedbackItem.submitted_at), Date)
    no_theme = case((_has_current_theme(), 0), else_=1)
    daily = db.session.execute(
        select(day, func.count(), func.sum(_RESPONDED), func.sum(no_theme))
        .where(counted)
        .group_by(day)
    ).all()
    themed = db.session.execute(
        select(day, ThemeTag.theme_id, func.count(), func.sum(_RESPONDED))
        .select_from(ThemeTag)
        .join(FeedbackItem, FeedbackItem.id == ThemeTag.item_id)
        .where(counted, _current_tag(ThemeTag))
        .group_by(day, ThemeTag.theme_id)
    ).all()
    groups, grouped = db.session.execute(
        select(func.count(distinct(FeedbackItem.duplicate_group_id)), func.count()).where(
            counted, FeedbackItem.duplicate_group_id.is_not(None)
        )
    ).one()
    themes = db.session.execute(
        select(Theme.id, Theme.name).order_by(Theme.position, Theme.name)
    ).all()

    starts = period.starts()
    index = {start: i for i, start in enumerate(starts)}
    totals = [0] * len(starts)
    total = answered = unclassified = 0
    for when, n, done, none in daily:
        total, answered, unclassified = (
            total + n,
            answered + int(done or 0),
            unclassified + int(none or 0),
        )
        i = index.get(bucket_start(_as_date(when), period.unit))
        if i is not None:
            totals[i] += n
    trends = {theme_id: [0] * len(starts) for theme_id, _ in themes}
    per_theme = dict.fromkeys(trends, 0)
    answered_per_theme = dict.fromkeys(trends, 0)
    for when, theme_id, n, done in themed:
        if theme_id not in trends:
            continue
        per_theme[theme_id] += n
        answered_per_theme[theme_id] += int(done or 0)
        i = index.get(bucket_start(_as_date(when), period.unit))
        if i is not None:
            trends[theme_id][i] += n

    return PeriodStats(
        period=period,
        total=total,
        answered=answered,
        duplicate_groups=groups or 0,
        items_in_groups=grouped or 0,
        by_theme=[(name, per_theme[i]) for i, name in themes] + [(UNCLASSIFIED, unclassified)],
        answered_by_theme=[(name, per_theme[i], answered_per_theme[i]) for i, name in themes],
        by_area=_top_areas(_by_area(counted)),
        by_channel=_by_channel(counted),
        over_time=list(zip(starts, totals, strict=True)),
        theme_trends=[(name, trends[i]) for i, name in themes],
    )


def figures(engagement: Engagement) -> EngagementFigures:
    """Count an engagement's comments and the share carrying each theme."""
    counted = (FeedbackItem.engagement_id == engagement.id) & counted_comments()
    total = db.session.scalar(select(func.count()).select_from(FeedbackItem).where(counted)) or 0
    tags = current_tags(counted)
    rows = db.session.execute(
        select(Theme.slug, Theme.name, func.count(func.distinct(tags.c.item_id)))
        .select_from(Theme)
        .outerjoin(tags, tags.c.theme_id == Theme.id)
        .group_by(Theme.id, Theme.slug, Theme.name, Theme.position)
        .order_by(Theme.position)
    ).all()
    shares = [
        ThemeShare(slug, name, count, round(100 * count / total) if total else 0)
        for slug, name, count in rows
    ]
    return EngagementFigures(total=total, themes=shares)
