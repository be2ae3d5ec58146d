"""Reusable queries over feedback items and their themes."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Subquery, select
from sqlalchemy.orm import aliased

from engage.feedback.models import FeedbackItem, TagSource, ThemeTag


def current_tags(
    where: ColumnElement[bool] | None = None, *, with_source: bool = False
) -> Subquery:
    """(item_id, theme_id) of each item's current themes, for items matching ``where``;
    ``with_source`` adds each tag's source and confidence.

    An item's current themes are its staff tags once staff have tagged or reviewed it,
    else the model's tags: the same rule as FeedbackItem.themes(), in SQL.
    """
    staff = aliased(ThemeTag)
    staff_tagged = select(staff.item_id).where(staff.source == TagSource.STAFF)
    columns = [ThemeTag.item_id, ThemeTag.theme_id]
    if with_source:
        columns += [ThemeTag.source, ThemeTag.confidence]
    query = (
        select(*columns)
        .join(FeedbackItem, FeedbackItem.id == ThemeTag.item_id)
        .where(
            (ThemeTag.source == TagSource.STAFF)
            | (
                (ThemeTag.source == TagSource.MODEL)
                & FeedbackItem.themes_reviewed_at.is_(None)
                & ThemeTag.item_id.not_in(staff_tagged)
            )
        )
    )
    if where is not None:
        query = query.where(where)
    return query.subquery("current_tags")
