"""The SQL conditions of the inbox's filters, and the probes they are made of.

Clauses are immutable and building one (an aliased tag table, a correlated subquery)
costs more Python than running it, so each probe is built once per process and kept in
a named cache (``engage.caching``) with no lifetime: it is a pure function of its
arguments.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime, time, timedelta

from sqlalchemy import Select, and_, bindparam, literal, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement, TextClause

from engage import caching
from engage.extensions import db
from engage.feedback import search
from engage.feedback.models import Channel, FeedbackItem, Status, TagSource, ThemeTag
from engage.feedback.queries import is_current
from engage.staff.inbox.choices import Ids, resolve
from engage.staff.inbox.filters import GENERAL, UNCLASSIFIED, InboxFilters


def _probe(query: Select) -> ColumnElement[bool]:
    """True when ``query`` (correlated to the item) finds a row.

    A scalar subquery with LIMIT 1 rather than EXISTS: PostgreSQL turns EXISTS into a
    join or a hashed subplan that first reads every tag (of the theme, or of all items),
    even when a page needs 26 rows; this stays one index probe per row read, on both
    databases.
    """
    return query.correlate(FeedbackItem).limit(1).scalar_subquery().is_not(None)


@caching.memoize("inbox_tagged_probe", maxsize=64)
def tagged(theme_id: int | None = None, source: TagSource | None = None) -> ColumnElement[bool]:
    """The item has a tag (of ``theme_id``, from ``source``)."""
    tag = aliased(ThemeTag)
    query = select(literal(1)).select_from(tag).where(tag.item_id == FeedbackItem.id)
    if theme_id is not None:
        query = query.where(tag.theme_id == theme_id)
    if source is not None:
        query = query.where(tag.source == source)
    return _probe(query)


@caching.memoize("inbox_theme_probe", maxsize=64)
def has_current_theme(theme_id: int | None) -> ColumnElement[bool]:
    """The item's current themes include ``theme_id``.

    ``feedback.queries.is_current`` written as a probe of the item's own tags through
    the (item_id, theme_id, source) index instead of a subquery over every tag: a page
    then costs a few index lookups per row it reads.
    """
    tag = aliased(ThemeTag)
    return _probe(
        select(literal(1))
        .select_from(tag)
        .where(
            tag.item_id == FeedbackItem.id,
            tag.theme_id == theme_id,
            is_current(tag, staff_tagged=tagged(source=TagSource.STAFF)),
        )
    )


@caching.memoize("inbox_unclassified", maxsize=1)
def unclassified() -> ColumnElement[bool]:
    """No current themes and not reviewed by staff as having none.

    Unreviewed items take their themes from staff tags if there are any, else from the
    model's, so an unreviewed item has no current theme exactly when it has no tag at all.
    """
    return and_(FeedbackItem.themes_reviewed_at.is_(None), ~tagged())


@caching.memoize("inbox_classified", maxsize=1)
def classified() -> ColumnElement[bool]:
    """NOT unclassified()."""
    return or_(FeedbackItem.themes_reviewed_at.is_not(None), tagged())


class Where(list):
    """WHERE conditions, and what lets a statement made for one set of filters run
    another set of the same shape: ``shape`` names the conditions (with any value the
    clause itself holds), ``params`` the values they bind by name."""

    def __init__(self) -> None:
        super().__init__()
        self.shape: list[str] = []
        self.params: dict[str, object] = {}

    def add(self, form: str, clause: ColumnElement[bool] | TextClause, **params: object) -> None:
        self.append(clause)
        self.shape.append(form)
        self.params.update(params)

    def compare(self, name: str, column, op: Callable, value: object) -> None:
        """``column op value``, the value bound as ``f_<name>``."""
        key = f"f_{name}"
        self.add(name, op(column, bindparam(key, value, type_=column.type)), **{key: value})


def conditions(f: InboxFilters, ids: Ids | None = None, *, skip: str | None = None) -> Where:
    """WHERE conditions for ``f``; ``skip`` leaves one dimension out (for its facet)."""
    if ids is None:
        ids = resolve(f)
    where = Where()
    if f.engagement and skip != "engagement":
        if f.engagement == GENERAL:
            where.add("general", FeedbackItem.engagement_id.is_(None))
        else:
            where.compare("engagement", FeedbackItem.engagement_id, operator.eq, ids.engagement)
    if f.theme and skip != "theme":
        if f.theme == UNCLASSIFIED:
            where.add("unclassified", unclassified())
        else:
            # One probe per theme, built once (see has_current_theme): its id is its shape.
            where.add(f"theme={ids.theme}", has_current_theme(ids.theme))
    if f.area and skip != "area":
        where.compare("area", FeedbackItem.area, operator.eq, f.area)
    if f.channel and skip != "channel":
        where.compare("channel", FeedbackItem.channel, operator.eq, Channel(f.channel))
    if f.status and skip != "status":
        where.compare("status", FeedbackItem.status, operator.eq, Status(f.status))
    if f.date_from:
        since = datetime.combine(f.date_from, time.min)
        where.compare("since", FeedbackItem.submitted_at, operator.ge, since)
    if f.date_to:
        before = datetime.combine(f.date_to + timedelta(days=1), time.min)
        where.compare("before", FeedbackItem.submitted_at, operator.lt, before)
    if f.group:
        where.compare("group", FeedbackItem.duplicate_group_id, operator.eq, f.group)
    if f.language and skip != "language":  # issue 24
        where.compare("language", FeedbackItem.language, operator.eq, f.language)
    if f.q and skip != "q":
        dialect = db.engine.dialect.name
        clause = search.matching(f.q, dialect)
        if clause is not None:
            where.add("q", clause, **search.match_params(f.q, dialect))
    return where
