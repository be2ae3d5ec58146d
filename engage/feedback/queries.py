"""Reusable queries over feedback items and their themes."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Subquery, and_, or_, select
from sqlalchemy.orm import aliased

from engage.feedback.models import FeedbackItem, TagSource, ThemeTag


def is_current(tag, *, staff_tagged: ColumnElement[bool]) -> ColumnElement[bool]:
    """The tag ``tag`` (ThemeTag or an alias of it, joined to its FeedbackItem) is one of
    its item's current themes: a staff tag, or a model tag of an item staff have neither
    tagged nor reviewed.

    This is the one statement in SQL of the rule ``feedback.models.current_of`` states
    in Python. ``staff_tagged`` says "the item has a staff tag"; the caller chooses its
    form (``NOT IN`` a list, ``EXISTS``, a ``LIMIT 1`` probe), since which one a database
    runs fastest depends on the rest of the statement.
    """
    return or_(
        tag.source == TagSource.STAFF,
        and_(
            tag.source == TagSource.MODEL,
            FeedbackItem.themes_reviewed_at.is_(None),
            ~staff_tagged,
        ),
    )


def current_tags(
    where: ColumnElement[bool] | None = None, *, with_source: bool = False
) -> Subquery:
    """(item_id, theme_id) of each item's current themes, for items matching ``where``;
    ``with_source`` adds each tag's source and confidence.

    An item's current themes are its staff tags once staff have tagged or reviewed it,
    else the model's tags (``is_current``).
    """
    staff = aliased(ThemeTag)
    staff_tagged = select(staff.item_id).where(staff.source == TagSource.STAFF)
    columns = [ThemeTag.item_id, ThemeTag.theme_id]
    if with_source:
        columns += [ThemeTag.source, ThemeTag.confidence]
    query = (
        select(*columns)
        .join(FeedbackItem, FeedbackItem.id == ThemeTag.item_id)
        .where(is_current(ThemeTag, staff_tagged=ThemeTag.item_id.in_(staff_tagged)))
    )
    if where is not None:
        query = query.where(where)
    return query.subquery("current_tags")
