"""The triage inbox and the changes staff make to feedback items.

Filters, facet counts and sorting for the inbox; theme corrections (kept as staff
tags, which the next ``engage train`` learns from), status changes, notes,
redaction and bulk actions. Every change adds an audit entry; callers commit.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import NamedTuple

from flask import current_app
from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    column,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.sql.elements import ColumnElement, TextClause

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import retention, search
from engage.feedback.models import (
    Channel,
    DuplicateGroup,
    FeedbackItem,
    Status,
    TagSource,
    Theme,
    ThemeTag,
    current_of,
)
from engage.feedback.themes import percent
from engage.languages import names as language_names  # issue 24
from engage.pagination import PageNotFound
from engage.publish.queries import clean_param
from engage.staff import audit
from engage.staff.models import ItemNote, StaffUser
from engage.util import MAX_DB_ID, utcnow

UNCLASSIFIED = "unclassified"
GENERAL = "general"  # feedback not tied to an engagement
SORTS = {
    "unclassified": "Unclassified first, then newest",
    "received": "Most recently received first",
    "newest": "Newest first",
    "oldest": "Oldest first",
    "uncertain": "Least certain first",
}
PER_PAGE = 25
# The inbox counts matching items up to this many, ten pages ("more than 250"): a
# bounded read, where an exact 36,008 would read every matching item on every page.
# (Counting to 500 cost PostgreSQL 3-10 ms a page with a theme filter, issue #9.)
COUNT_CAP = 250
MAX_BULK = 500


class TriageError(ValueError):
    """A change staff asked for cannot be made; the message says why."""


def _parse_date(value: str | None) -> tuple[date | None, bool]:
    """(date, ok): empty is (None, True); a bad date is (None, False)."""
    value = clean_param(value, 20)
    if not value:
        return None, True
    try:
        return date.fromisoformat(value), True
    except ValueError:
        return None, False


@dataclass(frozen=True)
class InboxFilters:
    """The inbox's filters, cleaned; empty strings mean "any"."""

    engagement: str = ""  # a slug, or "general"
    theme: str = ""  # a slug, or "unclassified"
    area: str = ""
    channel: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    group: int | None = None  # a duplicate group's id
    language: str = ""  # issue 24: an ISO 639-1 code (engage.languages.names)
    sort: str = "unclassified"
    counts: bool = False  # show how many items each filter value would give (costly)
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> InboxFilters:
        """Read the query string. Unknown values are dropped with a message, never an error."""
        errors: list[str] = []
        channel = clean_param(args.get("channel"), 20)
        if channel and channel not in {c.value for c in Channel}:
            errors.append("That channel does not exist; showing every channel")
            channel = ""
        status = clean_param(args.get("status"), 20)
        if status and status not in {s.value for s in Status}:
            errors.append("That status does not exist; showing every status")
            status = ""
        q = clean_param(args.get("q"))
        sort = clean_param(args.get("sort"), 20) or _default_sort(q)
        if sort not in SORTS:
            sort = _default_sort(q)
        date_from, ok_from = _parse_date(args.get("from"))
        date_to, ok_to = _parse_date(args.get("to"))
        if not (ok_from and ok_to):
            errors.append("Enter dates as YYYY-MM-DD, for example 2019-06-30")
        if date_from and date_to and date_from > date_to:
            errors.append("The start date is after the end date; they have been swapped")
            date_from, date_to = date_to, date_from
        group_raw = clean_param(args.get("group"), 12)
        group = int(group_raw) if group_raw.isascii() and group_raw.isdigit() else None
        if group is not None and group > MAX_DB_ID:
            group = -1  # names no group: an empty list, not an error
        return cls(
            engagement=clean_param(args.get("engagement"), 120),
            theme=clean_param(args.get("theme"), 60),
            area=clean_param(args.get("area"), 120),
            channel=channel,
            status=status,
            date_from=date_from,
            date_to=date_to,
            q=q,
            group=group,
            language=_language_param(args.get("language"), errors),  # issue 24
            sort=sort,
            counts=clean_param(args.get("counts"), 1) == "1",
            errors=tuple(errors),
        )

    def as_args(self, **changes) -> dict[str, str]:
        """The filters that are set, as query-string values (for links and forms)."""
        f = replace(self, **changes) if changes else self
        out = {
            "engagement": f.engagement,
            "theme": f.theme,
            "area": f.area,
            "channel": f.channel,
            "status": f.status,
            "from": f.date_from.isoformat() if f.date_from else "",
            "to": f.date_to.isoformat() if f.date_to else "",
            "q": f.q,
            "group": str(f.group) if f.group else "",
            "language": f.language,  # issue 24
            "sort": "" if f.sort == _default_sort(f.q) else f.sort,
            "counts": "1" if f.counts else "",
        }
        return {k: v for k, v in out.items() if v}

    @property
    def active(self) -> bool:
        """True when anything narrows the list (sorting and counts do not)."""
        return any(v for k, v in self.as_args().items() if k not in ("sort", "counts"))


def _language_param(value: str | None, errors: list[str]) -> str:
    """Issue 24: the language filter, a code engage knows, or "" (with a message)."""
    code = clean_param(value, 12)
    if code and code not in language_names.NAMES:
        errors.append("That language is not one we detect; showing every language")
        return ""
    return code


def _default_sort(q: str) -> str:
    """Unclassified first, or for a search the most recently received matches first
    (which the full-text index can give without reading every match)."""
    return "received" if q else "unclassified"


def _theme_ids() -> dict[str, int]:
    return {slug: i for slug, i in db.session.execute(select(Theme.slug, Theme.id))}


@dataclass(frozen=True)
class ThemeChoice:
    """A theme as the inbox shows it (a tag, an option)."""

    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class InboxChoices:
    """What the inbox's filter lists offer, read in one statement a page."""

    engagements: tuple[tuple[str, str], ...]  # (slug, title), most recently opened first
    themes: tuple[ThemeChoice, ...]  # in the labelling guide's order
    areas: tuple[str, ...]  # every area named on an item, sorted
    engagement_ids: dict[str, int] = field(compare=False)
    theme_by_id: dict[int, ThemeChoice] = field(compare=False)

    @property
    def theme_ids(self) -> dict[str, int]:
        return {t.slug: t.id for t in self.themes}


# Engagements, themes and areas in one round trip: three statements cost the inbox more
# Python than the SQL they run. Areas: one index seek per area, not a full scan.
_CHOICE_COLUMNS = (
    column("kind", String),
    column("id", Integer),
    column("slug", String),
    column("name", String),
    column("opens_on", Date),
    column("position", Integer),
)
_CHOICES_BUT_AREAS = text(
    "SELECT 'e' AS kind, id, slug, title AS name, opens_on, NULL AS position FROM engagement"
    " UNION ALL SELECT 't', id, slug, name, NULL, position FROM theme"
).columns(*_CHOICE_COLUMNS)
_CHOICES = text(
    "WITH RECURSIVE a(area) AS ("
    " SELECT min(area) FROM feedback_item WHERE area > ''"
    " UNION ALL"
    " SELECT (SELECT min(area) FROM feedback_item WHERE area > a.area)"
    " FROM a WHERE a.area IS NOT NULL"
    ")"
    " SELECT 'e' AS kind, id, slug, title AS name, opens_on, NULL AS position FROM engagement"
    " UNION ALL SELECT 't', id, slug, name, NULL, position FROM theme"
    " UNION ALL SELECT 'a', NULL, area, area, NULL, NULL FROM a WHERE area IS NOT NULL"
).columns(*_CHOICE_COLUMNS)


def _areas_store() -> dict:
    return current_app.extensions.setdefault("engage_inbox_areas", {})


def forget_areas() -> None:
    """Read the areas afresh on the next page (they are otherwise kept for
    ENGAGE_INBOX_AREAS_MAX_AGE seconds)."""
    _areas_store().clear()


def inbox_choices() -> InboxChoices:
    """The engagements, themes and areas the inbox's filters offer.

    Engagements and themes are read every time (a new engagement shows at once). The
    list of areas, a walk of an index that costs PostgreSQL about a millisecond, is
    kept per process for ENGAGE_INBOX_AREAS_MAX_AGE seconds: an area first named by new
    feedback joins the list within that time.
    """
    store = _areas_store()
    kept = store.get("areas")
    now = monotonic()
    fresh = kept is not None and kept[0] > now
    engagements, themes, areas = [], [], []
    for row in db.session.execute(_CHOICES_BUT_AREAS if fresh else _CHOICES):
        if row.kind == "e":
            engagements.append(row)
        elif row.kind == "t":
            themes.append(row)
        else:
            areas.append(row.slug)
    if fresh:
        area_choices = kept[1]
    else:
        area_choices = tuple(sorted(areas))
        max_age = current_app.config["ENGAGE_INBOX_AREAS_MAX_AGE"]
        store["areas"] = (now + max_age, area_choices)
    # As list_engagements(): the most recently opened first (ties: the older engagement).
    engagements.sort(key=lambda r: r.id)
    engagements.sort(key=lambda r: r.opens_on, reverse=True)
    themes.sort(key=lambda r: (r.position, r.id))
    theme_choices = tuple(ThemeChoice(t.id, t.slug, t.name) for t in themes)
    return InboxChoices(
        engagements=tuple((e.slug, e.name) for e in engagements),
        themes=theme_choices,
        areas=area_choices,
        engagement_ids={e.slug: e.id for e in engagements},
        theme_by_id={t.id: t for t in theme_choices},
    )


@dataclass(frozen=True)
class _Ids:
    """The ids the filters' slugs name (-1 for a slug that names nothing)."""

    engagement: int | None = None
    theme: int | None = None


def _resolve(f: InboxFilters, choices: InboxChoices | None = None) -> _Ids:
    """Look the engagement and theme slugs up once (in ``choices`` if given, else in one
    statement), so the item query compares plain ids (which an index can use) instead of
    running subqueries."""
    engagement = f.engagement if f.engagement and f.engagement != GENERAL else None
    theme = f.theme if f.theme and f.theme != UNCLASSIFIED else None
    if engagement is None and theme is None:
        return _Ids()
    if choices is not None:
        return _Ids(
            engagement=None if engagement is None else choices.engagement_ids.get(engagement, -1),
            theme=None if theme is None else choices.theme_ids.get(theme, -1),
        )
    row = db.session.execute(
        select(
            select(Engagement.id).where(Engagement.slug == (engagement or "")).scalar_subquery(),
            select(Theme.id).where(Theme.slug == (theme or "")).scalar_subquery(),
        )
    ).one()
    return _Ids(
        engagement=None if engagement is None else (row[0] if row[0] is not None else -1),
        theme=None if theme is None else (row[1] if row[1] is not None else -1),
    )


def _probe(query: Select) -> ColumnElement[bool]:
    """True when ``query`` (correlated to the item) finds a row.

    A scalar subquery with LIMIT 1 rather than EXISTS: PostgreSQL turns EXISTS into a
    join or a hashed subplan that first reads every tag (of the theme, or of all items),
    even when a page needs 26 rows; this stays one index probe per row read, on both
    databases.
    """
    return query.correlate(FeedbackItem).limit(1).scalar_subquery().is_not(None)


# The probes below are built once and reused: a clause is immutable, and building one
# (an aliased tag table, a correlated subquery) costs more Python than running it.


@functools.lru_cache(maxsize=64)
def _tagged(theme_id: int | None = None, source: TagSource | None = None) -> ColumnElement[bool]:
    """The item has a tag (of ``theme_id``, from ``source``)."""
    tag = aliased(ThemeTag)
    query = select(literal(1)).select_from(tag).where(tag.item_id == FeedbackItem.id)
    if theme_id is not None:
        query = query.where(tag.theme_id == theme_id)
    if source is not None:
        query = query.where(tag.source == source)
    return _probe(query)


@functools.lru_cache(maxsize=64)
def _has_current_theme(theme_id: int | None) -> ColumnElement[bool]:
    """The item's current themes include ``theme_id``.

    The rule of current_tags() and FeedbackItem.themes() (staff tags once staff have
    tagged or reviewed the item, else the model's), written as a probe of the item's own
    tags through the (item_id, theme_id, source) index instead of a subquery over every
    tag: a page then costs a few index lookups per row it reads.
    """
    tag = aliased(ThemeTag)
    return _probe(
        select(literal(1))
        .select_from(tag)
        .where(
            tag.item_id == FeedbackItem.id,
            tag.theme_id == theme_id,
            or_(
                tag.source == TagSource.STAFF,
                and_(
                    tag.source == TagSource.MODEL,
                    FeedbackItem.themes_reviewed_at.is_(None),
                    ~_tagged(source=TagSource.STAFF),
                ),
            ),
        )
    )


@functools.cache
def _unclassified() -> ColumnElement[bool]:
    """No current themes and not reviewed by staff as having none.

    Unreviewed items take their themes from staff tags if there are any, else from the
    model's, so an unreviewed item has no current theme exactly when it has no tag at all.
    """
    return and_(FeedbackItem.themes_reviewed_at.is_(None), ~_tagged())


@functools.cache
def _classified() -> ColumnElement[bool]:
    """NOT _unclassified()."""
    return or_(FeedbackItem.themes_reviewed_at.is_not(None), _tagged())


class _Where(list):
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


def _conditions(f: InboxFilters, ids: _Ids | None = None, *, skip: str | None = None) -> _Where:
    """WHERE conditions for ``f``; ``skip`` leaves one dimension out (for its facet)."""
    if ids is None:
        ids = _resolve(f)
    where = _Where()
    if f.engagement and skip != "engagement":
        if f.engagement == GENERAL:
            where.add("general", FeedbackItem.engagement_id.is_(None))
        else:
            where.compare("engagement", FeedbackItem.engagement_id, operator.eq, ids.engagement)
    if f.theme and skip != "theme":
        if f.theme == UNCLASSIFIED:
            where.add("unclassified", _unclassified())
        else:
            # One probe per theme, built once (see _has_current_theme): its id is its shape.
            where.add(f"theme={ids.theme}", _has_current_theme(ids.theme))
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
        case((FeedbackItem.needs_translation, 0), (_unclassified(), 1), else_=2),
        *_NEWEST,
    ]


def inbox_query(f: InboxFilters) -> Select:
    """Items matching ``f`` in the order asked for."""
    return select(FeedbackItem).where(*_conditions(f)).order_by(*_order(f))


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


def _ranked_rows(where: list) -> Select:
    """The default order without sorting every matching row on a CASE: the newest
    unclassified items, then the newest classified ones, each read in index order (each
    part up to ``f_cutoff`` rows: the page's offset plus its limit)."""
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
    first, rest = part(and_(others, _unclassified()), 1), part(and_(others, _classified()), 2)
    both = union_all(select(untranslated), select(first), select(rest)).subquery("ranked")
    return (
        _rows_select()
        .join(both, both.c.id == FeedbackItem.id)
        .order_by(both.c.rank, both.c.submitted_at.desc(), both.c.id.desc())
    )


# A page's two statements by shape (_page_statements): building them costs more Python
# than running them, and a statement made once keeps its SQLAlchemy cache key too.
_STATEMENTS: dict[tuple, tuple[Select, Select]] = {}
MAX_STATEMENTS = 256


def _paged(query: Select) -> Select:
    """One page of ``query``: ``f_limit`` rows after the first ``f_offset``."""
    return query.limit(bindparam("f_limit", type_=Integer)).offset(
        bindparam("f_offset", type_=Integer)
    )


def _page_statements(key: tuple, build: Callable[[], tuple[Select, Select]]):
    found = _STATEMENTS.get(key)
    if found is None:
        found = build()
        if len(_STATEMENTS) >= MAX_STATEMENTS:
            _STATEMENTS.clear()  # start again rather than keep shapes nobody uses
        _STATEMENTS[key] = found
    return found


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


def _statements_at(f: InboxFilters, offset: int, limit: int, choices: InboxChoices):
    """The inbox's rows statement, its capped count and their parameters for ``limit``
    rows after the first ``offset`` in the order of ``f``."""
    ids = _resolve(f, choices)
    dialect = db.engine.dialect.name
    fts = search.sqlite_matches(f.q) if dialect == "sqlite" else None
    if fts is not None:
        # SQLite: join the full-text index rather than test ``id IN`` every match.
        fts_table, match = fts
        where = _conditions(f, ids, skip="q")
        where.add("fts", match, **search.match_params(f.q, dialect))
        order = [fts_table.c.rowid.desc()] if f.sort == "received" else _order(f)
        joined = (fts_table, fts_table.c.rowid == FeedbackItem.id)

        def build():
            rows = _rows_select().join(*joined).where(*where).order_by(*order)
            return _paged(rows), _capped_count(where, select(FeedbackItem.id).join(*joined))

    elif f.sort == "unclassified" and not f.theme and not f.q:
        where = _conditions(f, ids)

        def build():
            return _paged(_ranked_rows(where)), _capped_count(where)

    else:
        where = _conditions(f, ids)

        def build():
            rows = _rows_select().where(*where).order_by(*_order(f))
            return _paged(rows), _capped_count(where)

    rows_query, count_query = _page_statements(
        (dialect, fts is not None, f.sort, *where.shape), build
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


def count(f: InboxFilters) -> int:
    """How many items match ``f`` (exactly)."""
    return db.session.scalar(select(func.count(FeedbackItem.id)).where(*_conditions(f))) or 0


@dataclass
class Facets:
    """How many items each filter value would give, the other filters kept."""

    engagement: dict[str, int]
    theme: dict[str, int]
    area: dict[str, int]
    channel: dict[str, int]
    status: dict[str, int]
    language: dict[str, int] = field(default_factory=dict)  # issue 24: code -> items


def _grouped(column, where: list[ColumnElement[bool]]) -> dict:
    rows = db.session.execute(
        select(column, func.count(FeedbackItem.id)).where(*where).group_by(column)
    )
    return {key: n for key, n in rows}


def facets(f: InboxFilters) -> Facets:
    """Counts per value of each filter, each computed with the other filters applied.

    Exact, so it reads every matching item: over a whole 100,000-item inbox this takes
    a few hundred milliseconds, which is why the inbox shows it only when asked.
    """
    theme_ids = _theme_ids()
    ids = _resolve(f)
    by_engagement_id = _grouped(FeedbackItem.engagement_id, _conditions(f, ids, skip="engagement"))
    slugs = dict(db.session.execute(select(Engagement.id, Engagement.slug)).all())
    engagement = {slugs[k]: n for k, n in by_engagement_id.items() if k is not None}
    if by_engagement_id.get(None):
        engagement[GENERAL] = by_engagement_id[None]

    # Each current tag once: an item's staff tags, or (unreviewed and without staff
    # tags) its model tags; an item never has two current tags of one theme.
    where = _conditions(f, ids, skip="theme")
    current = or_(
        ThemeTag.source == TagSource.STAFF,
        and_(
            ThemeTag.source == TagSource.MODEL,
            FeedbackItem.themes_reviewed_at.is_(None),
            ~_tagged(source=TagSource.STAFF),
        ),
    )
    by_theme_id = dict(
        db.session.execute(
            select(ThemeTag.theme_id, func.count())
            .join(FeedbackItem, FeedbackItem.id == ThemeTag.item_id)
            .where(current, *where)
            .group_by(ThemeTag.theme_id)
        ).all()
    )
    theme = {slug: by_theme_id[i] for slug, i in theme_ids.items() if by_theme_id.get(i)}
    theme[UNCLASSIFIED] = (
        db.session.scalar(select(func.count(FeedbackItem.id)).where(*where, _unclassified())) or 0
    )
    area = _grouped(FeedbackItem.area, _conditions(f, ids, skip="area"))
    channel = _grouped(FeedbackItem.channel, _conditions(f, ids, skip="channel"))
    status = _grouped(FeedbackItem.status, _conditions(f, ids, skip="status"))
    language = _grouped(FeedbackItem.language, _conditions(f, ids, skip="language"))
    return Facets(
        engagement=engagement,
        theme=theme,
        area={k: n for k, n in area.items() if k},
        channel={k.value: n for k, n in channel.items()},
        status={k.value: n for k, n in status.items()},
        language={k: n for k, n in language.items() if k},  # issue 24
    )


# ------------------------------------------------------------------ changes


def _theme_map() -> dict[str, Theme]:
    return {t.slug: t for t in db.session.scalars(select(Theme))}


def _current_slugs(item: FeedbackItem) -> list[str]:
    return sorted(t.slug for t in item.themes())


def set_themes(item: FeedbackItem, slugs: Iterable[str], *, by: StaffUser) -> bool:
    """Replace the item's themes with staff tags; True if they changed.

    The model's tags are kept (for comparison and explanation) but no longer count.
    An empty set is a decision too: "reviewed, none of the themes".
    """
    themes = _theme_map()
    wanted = sorted(set(slugs))
    unknown = [s for s in wanted if s not in themes]
    if unknown:
        raise TriageError(f"Unknown theme: {', '.join(unknown)}")
    before = _current_slugs(item)
    reviewed_before = item.themes_reviewed_at is not None
    # Change only the difference: a kept tag stays the same row (unique item/theme/source).
    staff_tags = {t.theme.slug: t for t in item.tags if t.source == TagSource.STAFF}
    for slug, tag in staff_tags.items():
        if slug not in wanted:
            item.tags.remove(tag)
    for slug in wanted:
        if slug not in staff_tags:
            item.tags.append(ThemeTag(theme=themes[slug], source=TagSource.STAFF, confidence=1.0))
    item.themes_reviewed_at = utcnow()
    item.themes_reviewed_by_id = by.id
    changed = before != wanted or not reviewed_before
    if changed:
        audit.record(
            "item.themes", actor=by, target=item, detail={"before": before, "after": wanted}
        )
    return changed


def add_theme(item: FeedbackItem, slug: str, *, by: StaffUser) -> bool:
    return set_themes(item, set(_current_slugs(item)) | {slug}, by=by)


def remove_theme(item: FeedbackItem, slug: str, *, by: StaffUser) -> bool:
    return set_themes(item, set(_current_slugs(item)) - {slug}, by=by)


def set_status(item: FeedbackItem, status: Status, *, by: StaffUser) -> bool:
    """Change the workflow status; ``responded`` is set only by linking a response."""
    if item.status == status:
        return False
    if status == Status.RESPONDED:
        raise TriageError("Link the item to a response to mark it responded")
    before = item.status
    item.status = status
    audit.record(
        "item.status", actor=by, target=item, detail={"before": before.value, "after": status}
    )
    return True


def add_note(item: FeedbackItem, text: str, *, by: StaffUser) -> ItemNote:
    text = (text or "").strip()
    if not text:
        raise TriageError("Write the note")
    note = ItemNote(item_id=item.id, author_id=by.id, text=text[:5000])
    db.session.add(note)
    audit.record("item.note", actor=by, target=item, detail={"length": len(note.text)})
    return note


def notes_for(item: FeedbackItem) -> list[ItemNote]:
    return list(
        db.session.scalars(
            select(ItemNote)
            .where(ItemNote.item_id == item.id)
            .options(selectinload(ItemNote.author))
            .order_by(ItemNote.created_at, ItemNote.id)
        )
    )


def save_redaction(item: FeedbackItem, redacted_text: str, *, by: StaffUser) -> None:
    """Keep the copy that may be quoted; the original text is never changed."""
    redacted_text = (redacted_text or "").strip()
    if not redacted_text:
        raise TriageError("Enter the redacted text")
    item.redacted_text = redacted_text[:10_000]
    item.redacted_at = utcnow()
    item.redacted_by_id = by.id
    audit.record(
        "item.redaction",
        actor=by,
        target=item,
        detail={"original_length": len(item.text), "redacted_length": len(item.redacted_text)},
    )


BULK_ACTIONS = {
    "add_theme": "Add a theme",
    "remove_theme": "Remove a theme",
    "triaged": "Mark triaged",
    "archived": "Archive",
    "spam": "Mark as spam",
}


def bulk(action: str, item_ids: Iterable[int], *, by: StaffUser, theme: str = "") -> int:
    """Apply one action to many items; returns how many changed."""
    if action not in BULK_ACTIONS:
        raise TriageError("Choose an action")
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        raise TriageError("Select at least one item")
    if len(ids) > MAX_BULK:
        raise TriageError(f"Select at most {MAX_BULK} items at a time")
    if ids[-1] > MAX_DB_ID:
        raise TriageError("Some of the selected items no longer exist; nothing was changed")
    if action in ("add_theme", "remove_theme") and theme not in _theme_map():
        raise TriageError("Choose a theme")
    items = list(
        db.session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.id.in_(ids))
            .options(selectinload(FeedbackItem.tags))
        )
    )
    if len(items) != len(ids):
        raise TriageError("Some of the selected items no longer exist; nothing was changed")
    changed = 0
    for item in items:
        if action == "add_theme":
            changed += add_theme(item, theme, by=by)
        elif action == "remove_theme":
            changed += remove_theme(item, theme, by=by)
        elif item.status != Status.RESPONDED or action != "triaged":
            changed += set_status(item, Status(action), by=by)
    audit.record(
        "item.bulk", actor=by, detail={"action": action, "theme": theme, "count": len(ids)}
    )
    return changed


def suggestions(item: FeedbackItem, themes: Iterable[Theme], n: int = 2) -> list[tuple[Theme, int]]:
    """An unclassified item's likeliest themes by the active model, as (theme, percent),
    likeliest first, for staff to apply with one click.

    Only for an item the model has classified without any theme over its threshold and
    staff have not reviewed; only themes at or above the suggestion floor; none without
    a usable model, or once the text has been removed under the retention policy.
    """
    from engage.classify import service as classify

    if item.classified_at is None or item.themes_reviewed_at is not None or item.themes():
        return []
    if item.text == retention.PLACEHOLDER or item.needs_translation:  # issue 24
        return []
    by_slug = {theme.slug: theme for theme in themes}
    return [
        (by_slug[slug], percent(p))
        # Issue 24: the model read the English translation, when there is one.
        for slug, p in classify.suggest_themes(item.translation or item.text, n=n)
        if slug in by_slug
    ]


def explanation(item: FeedbackItem, limit: int = 6) -> dict[str, list[tuple[str, float]]]:
    """For each model theme on the item, the words that pushed the model towards it."""
    from engage.classify import service as classify

    model_tags = [t for t in item.tags if t.source == TagSource.MODEL]
    if not model_tags:
        return {}
    try:
        model, row = classify.load_active()
    except classify.NoModelError:
        return {}
    if row.version != item.model_version:
        return {}
    out = {}
    for tag in model_tags:
        try:
            # Issue 24: the words of the English translation, when the model read one.
            english = item.translation or item.text
            out[tag.theme.slug] = model.explain(english, tag.theme.slug, top=limit)
        except ValueError:
            continue
    return out
