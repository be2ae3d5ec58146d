"""Queries and rules about engagements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select

from engage.engagements.models import Engagement, EngagementExtension
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status, Theme
from engage.feedback.queries import current_tags
from engage.util import date_in_window, date_window_message, utcnow


def list_engagements() -> list[Engagement]:
    """Every engagement, the most recently opened first."""
    return list(db.session.scalars(select(Engagement).order_by(Engagement.opens_on.desc())))


def get_by_slug(slug: str) -> Engagement | None:
    """The engagement with this slug, or None."""
    return db.session.scalar(select(Engagement).where(Engagement.slug == slug))


def extend_deadline(
    engagement: Engagement, *, new_closes_on: date, announced_on: date, reason: str = ""
) -> EngagementExtension:
    """Move an engagement's closing date later, keeping the earlier date as history.

    Raises ValueError when the new date is not after the current one, or either date is
    outside the window of engage.util.date_in_window.
    """
    for value, what in ((new_closes_on, "The new closing date"), (announced_on, "The date")):
        if not date_in_window(value):
            raise ValueError(date_window_message(what))
    if new_closes_on <= engagement.closes_on:
        raise ValueError("An extension must move the closing date later")
    extension = EngagementExtension(
        engagement=engagement,
        previous_closes_on=engagement.closes_on,
        new_closes_on=new_closes_on,
        announced_on=announced_on,
        reason=reason,
    )
    engagement.closes_on = new_closes_on
    db.session.add(extension)
    return extension


@dataclass(frozen=True)
class ThemeShare:
    """How many counted items carry a theme, and what share of the total that is."""

    slug: str
    name: str
    count: int
    percent: int


@dataclass(frozen=True)
class EngagementFigures:
    """Public headline numbers for an engagement, and when they were counted (UTC)."""

    total: int
    themes: list[ThemeShare]
    counted_at: datetime = field(default_factory=utcnow)


# Spam and campaign duplicates are not counted as separate comments in public figures.
COUNTED_STATUSES = (Status.NEW, Status.TRIAGED, Status.RESPONDED, Status.ARCHIVED)


def counted_comments():
    """The clause that picks the feedback public figures count: a counted status, and
    not a comment sent with a "No" to "Does this answer your concern?" (that is a reply
    to a response, kept for the team to read, not another comment on the engagement)."""
    from engage.publish.models import ResponseVote

    # NOT IN an uncorrelated list: the few replies are read once, not looked up per item.
    replies = select(ResponseVote.feedback_item_id).where(
        ResponseVote.feedback_item_id.is_not(None)
    )
    return FeedbackItem.status.in_(COUNTED_STATUSES) & FeedbackItem.id.not_in(replies)


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
