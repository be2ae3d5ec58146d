"""Reusable queries over feedback items and their themes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, Subquery, and_, or_, select
from sqlalchemy.orm import aliased

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import tally
from engage.feedback.models import (
    PLACEHOLDER,
    FeedbackItem,
    Status,
    TagSource,
    Theme,
    ThemeTag,
)
from engage.feedback.storing import references_in
from engage.util import utcnow


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


# Other domains register the items public figures leave out, as a function returning a
# SELECT of feedback_item ids (publish: comments sent as a reply to a response).
_NOT_COUNTED: list[Callable[[], Select]] = []


def not_counted(ids: Callable[[], Select]) -> None:
    """Register ``ids()``, a SELECT of feedback item ids that public figures leave out.

    The owning domain calls this when its models are imported, so this module (below
    it) never imports that domain.
    """
    if ids not in _NOT_COUNTED:
        _NOT_COUNTED.append(ids)


def counted_comments() -> ColumnElement[bool]:
    """The clause that picks the feedback public figures count: a counted status, and
    none of the items registered with ``not_counted`` (publish registers the comments
    sent with a "No" to "Does this answer your concern?": a reply to a response, kept
    for the team to read, not another comment on the engagement)."""
    clause = FeedbackItem.status.in_(COUNTED_STATUSES)
    for ids in _NOT_COUNTED:
        # NOT IN an uncorrelated list: the few ids are read once, not looked up per item.
        clause = clause & FeedbackItem.id.not_in(ids())
    return clause


def figures(engagement: Engagement) -> EngagementFigures:
    """Count an engagement's comments and the share carrying each theme.

    Read from the counts kept per day (``feedback.tally``: one sum over the
    engagement's days), less the few items ``not_counted`` leaves out, read one by one.
    """
    counted: dict[tuple[str, str], int] = {}
    for kind, key, n, spam, duplicate, _responded in tally.summed(
        (tally.ALL, tally.THEME), engagement_id=engagement.id
    ):
        counted[kind, key] = n - spam - duplicate
    left_out = _left_out(engagement.id)
    if left_out:
        delta: tally.Delta = {}
        tally.add(delta, tally.read_states(db.session(), left_out).values(), -1)
        for (kind, _engagement, _day, key), (n, spam, duplicate, _) in delta.items():
            if kind in (tally.ALL, tally.THEME):
                counted[kind, key] = counted.get((kind, key), 0) + n - spam - duplicate
    total = counted.get((tally.ALL, ""), 0)
    rows = db.session.execute(
        select(Theme.id, Theme.slug, Theme.name).order_by(Theme.position)
    ).all()
    shares = []
    for theme_id, slug, name in rows:
        count = counted.get((tally.THEME, str(theme_id)), 0)
        shares.append(ThemeShare(slug, name, count, round(100 * count / total) if total else 0))
    return EngagementFigures(total=total, themes=shares)


def _left_out(engagement_id: int) -> list[int]:
    """Ids of the engagement's items that ``not_counted`` leaves out of public figures."""
    if not _NOT_COUNTED:
        return []
    left_out = FeedbackItem.id.in_(_NOT_COUNTED[0]())
    for ids in _NOT_COUNTED[1:]:
        left_out = left_out | FeedbackItem.id.in_(ids())
    return list(
        db.session.scalars(
            select(FeedbackItem.id).where(FeedbackItem.engagement_id == engagement_id, left_out)
        )
    )


def earlier_items(subject: str | None, author_email: str | None) -> list[FeedbackItem]:
    """The items whose references ``subject`` quotes ("Re: We received your feedback
    YS-2026-000042") and that were sent from ``author_email``: what a reply to an
    acknowledgement follows up. Another sender's reference links nothing."""
    references = references_in(subject)[:5]
    email = (author_email or "").strip().lower()
    if not references or not email:
        return []
    rows = db.session.scalars(
        select(FeedbackItem).where(FeedbackItem.reference.in_(references)).order_by(FeedbackItem.id)
    )
    return [item for item in rows if (item.author_email or "").lower() == email]


def has_words() -> ColumnElement[bool]:
    """Items whose words can be read beside others': not spam, and with a text the
    retention purge did not replace (its placeholder is the same for every purged item,
    so concerns would gather them as one)."""
    return and_(FeedbackItem.status != Status.SPAM, FeedbackItem.text != PLACEHOLDER)
