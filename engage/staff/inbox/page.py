"""One page of the inbox: its rows (read as plain SQL, not ORM objects), their current
themes, a count up to a cap, and the neighbours of an item opened from the list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from engage import caching
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import search
from engage.feedback.models import (
    Channel,
    DuplicateGroup,
    FeedbackItem,
    Status,
    TagSource,
    ThemeTag,
    current_of,
)
from engage.feedback.themes import percent
from engage.pagination import PageNotFound
from engage.staff.inbox.choices import InboxChoices, ThemeChoice, inbox_choices, resolve
from engage.staff.inbox.conditions import classified, conditions, unclassified
from engage.staff.inbox.filters import UNCLASSIFIED, InboxFilters

PER_PAGE = 25
# The inbox counts matching items up to this many, ten pages ("more than 250"): a
# bounded read, where an exact 36,008 would read every matching item on every page.
# (Counting to 500 cost PostgreSQL 3-10 ms a page with a theme filter, issue #9.)
COUNT_CAP = 250

_NEWEST = (FeedbackItem.submitted_at.desc(), FeedbackItem.id.desc())


def _order(f: InboxFilters) -> list:
    if f.sort == "received":
        return [FeedbackItem.id.desc()]
    if f.sort == "newest":
        return [*_NEWEST]
    if f.sort == "oldest":
        return [FeedbackItem.submitted_at.asc(), FeedbackItem.id.asc()]
    if f.sort == "uncertain":
        # Never classified first, then the smallest margin to a threshold.
        return [
            case((FeedbackItem.certainty.is_(None), 0), else_=1),
            FeedbackItem.certainty.asc(),
            *_NEWEST,
        ]
    if f.theme:
        # A theme filter keeps only classified or only unclassified items.
        return [*_NEWEST]
    # Issue 24: items waiting for a translation first, then unclassified ones.
    return [
        case((FeedbackItem.needs_translation, 0), (unclassified(), 1), else_=2),
        *_NEWEST,
    ]


def inbox_query(f: InboxFilters) -> Select:
    """Items matching ``f`` in the order asked for."""
    return select(FeedbackItem).where(*conditions(f)).order_by(*_order(f))


def count(f: InboxFilters) -> int:
    """How many items match ``f`` (exactly)."""
    return db.session.scalar(select(func.count(FeedbackItem.id)).where(*conditions(f))) or 0


def _capped_count(where: list[ColumnElement[bool]], rows_from: Select | None = None) -> Select:
    """min(matching items, cap + 1), the cap + 1 bound as ``f_count_limit``: stops
    reading after cap + 1 matches."""
    base = select(FeedbackItem.id) if rows_from is None else rows_from
    rows = base.where(*where).limit(bindparam("f_count_limit", type_=Integer)).subquery()
    return select(func.count()).select_from(rows)


@dataclass(frozen=True)
class InboxPage:
    """One page of the inbox. ``total`` is exact unless ``total_capped``: then more than
    ``cap`` items match and ``total`` is ``cap + 1``."""

    items: list
    page: int
    per_page: int
    total: int
    has_next: bool
    cap: int = COUNT_CAP

    @property
    def total_capped(self) -> bool:
        """True when the exact number was not counted (more than ``cap`` match)."""
        return self.total > self.cap and self.has_next

    @property
    def pages(self) -> int | None:
        """How many pages there are, when the total was counted exactly."""
        return None if self.total_capped else max(1, -(-self.total // self.per_page))


@dataclass(slots=True)
class InboxRow:
    """What the inbox shows of one item, read with plain SQL rather than loaded as an
    ORM object (a page of objects and their relationships costs several times more)."""

    id: int
    reference: str
    submitted_at: datetime
    channel: Channel
    area: str | None
    text: str
    status: Status
    certainty: float | None  # orders "least certain first"; never shown
    themes_reviewed_at: datetime | None
    engagement_title: str | None
    duplicate_group_id: int | None
    duplicate_group_size: int | None
    current_themes: tuple[ThemeChoice, ...]
    # The model's probability of each current theme as a whole percent (None: staff set it).
    current_percents: tuple[int | None, ...] = ()
    language: str | None = None  # issue 24
    needs_translation: bool = False  # issue 24

    def themes(self) -> list[ThemeChoice]:
        """The item's current themes, as FeedbackItem.themes() gives them."""
        return list(self.current_themes)

    def theme_labels(self) -> tuple[tuple[str, int | None], ...]:
        """(name, percent) of each current theme, as FeedbackItem.theme_labels() gives them."""
        percents = self.current_percents or (None,) * len(self.current_themes)
        return tuple(
            (theme.name, p) for theme, p in zip(self.current_themes, percents, strict=True)
        )


class _Tag(NamedTuple):
    id: int
    theme_id: int
    source: TagSource
    confidence: float | None


_SOURCE_CODES = {TagSource.STAFF: "s", TagSource.MODEL: "m"}
_SOURCES = {code: source for source, code in _SOURCE_CODES.items()}


def _tags_column():
    """The item's tags as one string, "tag id:theme id:s|m:confidence,..." (any order):
    read with the row instead of by a second statement for the page."""
    tag = aliased(ThemeTag)
    code = case(*((tag.source == source, code) for source, code in _SOURCE_CODES.items()), else_="")
    confidence = func.coalesce(cast(tag.confidence, String), "")
    one = cast(tag.id, String) + ":" + cast(tag.theme_id, String) + ":" + code + ":" + confidence
    return (
        select(func.aggregate_strings(one, ","))
        .where(tag.item_id == FeedbackItem.id)
        .correlate(FeedbackItem)
        .scalar_subquery()
        .label("tags")
    )


def _parse_tags(value: str | None) -> list[_Tag]:
    """The tags of _tags_column(), in the order they were made (as FeedbackItem.tags)."""
    if not value:
        return []
    tags = []
    for part in value.split(","):
        tag_id, theme_id, code, confidence = part.split(":")
        if code in _SOURCES:
            score = float(confidence) if confidence else None
            tags.append(_Tag(int(tag_id), int(theme_id), _SOURCES[code], score))
    tags.sort()
    return tags


# InboxRow's fields in order (but its themes), then (issue 24) the item's language and
# whether it needs a translation, then the tags its themes are worked out from.
_ROW_COLUMNS = (
    FeedbackItem.id,
    FeedbackItem.reference,
    FeedbackItem.submitted_at,
    FeedbackItem.channel,
    FeedbackItem.area,
    FeedbackItem.text,
    FeedbackItem.status,
    FeedbackItem.certainty,
    FeedbackItem.themes_reviewed_at,
    Engagement.title.label("engagement_title"),
    FeedbackItem.duplicate_group_id,
    DuplicateGroup.size.label("duplicate_group_size"),
    FeedbackItem.language,  # issue 24
    FeedbackItem.needs_translation,  # issue 24
    _tags_column(),
)


def _rows_select() -> Select:
    return (
        select(*_ROW_COLUMNS)
        .select_from(FeedbackItem)
        .outerjoin(Engagement, Engagement.id == FeedbackItem.engagement_id)
        .outerjoin(DuplicateGroup, DuplicateGroup.id == FeedbackItem.duplicate_group_id)
    )


def _ranked_rows(where: list, *, any_waiting: bool = True) -> Select:
    """The default order without sorting every matching row on a CASE: the newest
    unclassified items, then the newest classified ones (issue 24: after those waiting
    for a translation, unless ``any_waiting`` is False: none wait), each read in index
    order (each part up to ``f_cutoff`` rows: the page's offset plus its limit)."""
    cutoff = bindparam("f_cutoff", type_=Integer)

    def part(condition: ColumnElement[bool], rank: int):
        return (
            select(FeedbackItem.id, FeedbackItem.submitted_at, literal(rank).label("rank"))
            .where(*where, condition)
            .order_by(*_NEWEST)
            .limit(cutoff)
            .subquery()
        )

    # Issue 24: items waiting for a translation come first (read through their partial
    # index), then the unclassified, then the rest; the three parts do not overlap.
    # "= 1" on SQLite (not "IS 1"), which its planner matches to the partial index.
    waiting = FeedbackItem.needs_translation == true()
    others = FeedbackItem.needs_translation == false()
    untranslated = part(waiting, 0)
    first, rest = part(and_(others, unclassified()), 1), part(and_(others, classified()), 2)
    parts = [select(untranslated)] if any_waiting else []
    both = union_all(*parts, select(first), select(rest)).subquery("ranked")
    return (
        _rows_select()
        .join(both, both.c.id == FeedbackItem.id)
        .order_by(both.c.rank, both.c.submitted_at.desc(), both.c.id.desc())
    )


# A page's two statements by shape (_page_statements): building them costs more Python
# than running them, and a statement made once keeps its SQLAlchemy cache key too. The
# shapes are few (a dialect, a sort and which filters are set), so an LRU bound keeps
# every one in use; they never go stale (values are bound parameters).
#
# Why not SQLAlchemy's lambda_stmt: measured 2026-12-05 on the 100,000-item SQLite
# data set (status and oldest-first filters, rows statement made and run, CPU per page):
# kept here 0.35 ms; built afresh each time 0.77 ms (SQLAlchemy's compiled cache still
# hits, but the statement and its cache key are made again); as a lambda_stmt over the
# same conditions 1.23 ms, since the conditions vary by filter and reach the lambdas as
# closure variables, which SQLAlchemy analyses on every call.
MAX_STATEMENTS = 256


def _statement_cache() -> caching.NamedCache:
    return caching.named_cache("inbox_statements", maxsize=MAX_STATEMENTS, seconds=None)


def _paged(query: Select) -> Select:
    """One page of ``query``: ``f_limit`` rows after the first ``f_offset``."""
    return query.limit(bindparam("f_limit", type_=Integer)).offset(
        bindparam("f_offset", type_=Integer)
    )


def _page_statements(key: tuple, build: Callable[[], tuple[Select, Select]]):
    return _statement_cache().get_or_make(key, build)


def _with_themes(rows: list, themes: Mapping[int, ThemeChoice]) -> list[InboxRow]:
    """InboxRows for the rows, each with its current themes and their percents."""
    out = []
    for row in rows:
        current = current_of(_parse_tags(row.tags), reviewed=row.themes_reviewed_at)
        out.append(
            InboxRow(
                *row[:-3],
                language=row.language,  # issue 24
                needs_translation=row.needs_translation,
                current_themes=tuple(themes[t.theme_id] for t in current),
                current_percents=tuple(
                    percent(t.confidence) if t.source == TagSource.MODEL else None for t in current
                ),
            )
        )
    return out


def _anything_waiting() -> bool:
    """Whether any item waits for a translation (one lookup in its partial index)."""
    waiting = select(FeedbackItem.id).where(FeedbackItem.needs_translation == true()).limit(1)
    return db.session.execute(waiting).first() is not None


def _statements_at(f: InboxFilters, offset: int, limit: int, choices: InboxChoices):
    """The inbox's rows statement, its capped count and their parameters for ``limit``
    rows after the first ``offset`` in the order of ``f``."""
    ids = resolve(f, choices)
    dialect = db.engine.dialect.name
    variant = None
    fts = search.sqlite_matches(f.q) if dialect == "sqlite" else None
    if fts is not None:
        # SQLite: join the full-text index rather than test ``id IN`` every match.
        fts_table, match = fts
        where = conditions(f, ids, skip="q")
        where.add("fts", match, **search.match_params(f.q, dialect))
        order = [fts_table.c.rowid.desc()] if f.sort == "received" else _order(f)
        joined = (fts_table, fts_table.c.rowid == FeedbackItem.id)

        def build():
            rows = _rows_select().join(*joined).where(*where).order_by(*order)
            return _paged(rows), _capped_count(where, select(FeedbackItem.id).join(*joined))

    elif f.sort == "unclassified" and not f.theme and not f.q:
        where = conditions(f, ids)
        # SQLite's planner, with statistics from ANALYZE, reads the "waiting for a
        # translation" part through ix_feedback_item_submitted_at (every row, testing
        # each) rather than through its partial index when that index is empty: 40-60 ms
        # a page at 100,000 items with nothing waiting (bench growth, 2026-12-06). A
        # lookup in the partial index says whether anything waits; if not, the part is
        # left out. PostgreSQL's planner reads the partial index either way.
        variant = dialect != "sqlite" or _anything_waiting()

        def build():
            return _paged(_ranked_rows(where, any_waiting=variant)), _capped_count(where)

    else:
        where = conditions(f, ids)

        def build():
            rows = _rows_select().where(*where).order_by(*_order(f))
            return _paged(rows), _capped_count(where)

    rows_query, count_query = _page_statements(
        (dialect, fts is not None, f.sort, variant, *where.shape), build
    )
    params = {
        **where.params,
        "f_limit": limit,
        "f_offset": offset,
        "f_cutoff": offset + limit,
        "f_count_limit": COUNT_CAP + 1,
    }
    return rows_query, count_query, params


def queue_ids(f: InboxFilters, offset: int, limit: int, *, choices: InboxChoices | None = None):
    """Ids of the items at positions offset .. offset + limit - 1 of the inbox for ``f``."""
    if choices is None:
        choices = inbox_choices()
    rows_query, _count, params = _statements_at(f, max(offset, 0), limit, choices)
    return [row[0] for row in db.session.execute(rows_query, params).all()]


@dataclass(frozen=True)
class Neighbours:
    """Where to go from an item opened at position ``at`` of a filtered inbox."""

    previous: int | None = None  # an item id
    previous_at: int | None = None
    next: int | None = None
    next_at: int | None = None
    unclassified: int | None = None  # the first unclassified item (not this one)


def neighbours(
    f: InboxFilters, at: int | None, item_id: int, *, choices: InboxChoices | None = None
) -> Neighbours:
    """The items before and after ``item_id`` in the inbox for ``f``, read at ``at``
    (the position the item had when the inbox was shown), and the first unclassified
    item of the same filters.

    When the item has left the list (it was tagged while the list shows unclassified
    items) the item now at ``at`` is the next one.
    """
    if choices is None:
        choices = inbox_choices()
    previous = previous_at = following = following_at = None
    if at is not None:
        start = max(at - 1, 0)
        ids = queue_ids(f, start, 3, choices=choices)
        if item_id in ids:
            here = ids.index(item_id)
            if here > 0:
                previous, previous_at = ids[here - 1], start + here - 1
            if here + 1 < len(ids):
                following, following_at = ids[here + 1], start + here + 1
        else:
            here = at - start  # where the item was: the next one has moved up into it
            if 0 <= here - 1 < len(ids):
                previous, previous_at = ids[here - 1], at - 1
            if here < len(ids):
                following, following_at = ids[here], at
    unclassified = next(
        (
            i
            for i in queue_ids(replace(f, theme=UNCLASSIFIED), 0, 2, choices=choices)
            if i != item_id
        ),
        None,
    )
    return Neighbours(previous, previous_at, following, following_at, unclassified)


def inbox_page(
    f: InboxFilters,
    page: int,
    per_page: int = PER_PAGE,
    *,
    choices: InboxChoices | None = None,
) -> InboxPage:
    """One page of the inbox (InboxRows, with engagement titles and current themes).

    ``choices`` (from inbox_choices()) resolves the filters' slugs and names the themes;
    the page reads it if not given.

    Reads ``per_page + 1`` rows to know whether there is a next page, and counts the
    matching items only up to COUNT_CAP. Raises PageNotFound for an empty page past the
    first.
    """
    if page < 1:
        raise PageNotFound(page)
    offset = (page - 1) * per_page
    if choices is None:
        choices = inbox_choices()
    rows_query, count_query, params = _statements_at(f, offset, per_page + 1, choices)
    cap = COUNT_CAP
    rows = _with_themes(db.session.execute(rows_query, params).all(), choices.theme_by_id)
    if page > 1 and not rows:
        raise PageNotFound(page)
    if len(rows) <= per_page:
        total = offset + len(rows)  # the last page: the total is known without counting
    elif offset + len(rows) > cap:
        total = cap + 1  # already past the cap
    else:
        total = db.session.scalar(count_query, params) or 0
    has_next = len(rows) > per_page
    return InboxPage(rows[:per_page], page, per_page, total, has_next=has_next, cap=cap)
