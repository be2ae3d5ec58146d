"""Queries and rules about engagements."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from engage.engagements.models import Engagement, EngagementExtension
from engage.extensions import db
from engage.util import date_in_window, date_window_message


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
