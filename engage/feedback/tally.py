"""Feedback counts kept per engagement, day, kind and key (issue 25).

The staff dashboard and an engagement's public figures used to count every item of the
period (a second at 100,000 items, 10 s at 1,000,000). They now add up rows of
``FeedbackTally`` instead: a few per engagement, day and theme, channel, area or
duplicate group, however many items there are.

What one item adds to the table is ``contribution(state)``: one row of each kind
("all", "channel", "area", "theme" for each current theme or "unthemed" for none,
"group" when it is in a duplicate group), counted in ``n`` and, by its status, in
``spam``, ``duplicate`` or ``responded``. Every write that changes an item's
engagement, day, status, channel, area, duplicate group, review or tags adds the
difference between what the item contributed before and after, in the same
transaction, so the table always equals a recount (``rebuild`` makes it from one):

- the ORM's flushes are seen by ``_before_flush`` and ``_after_flush`` (installed by
  ``install()``): the touched items are read before the flush, their rows locked on
  PostgreSQL (``FOR UPDATE``, so two transactions never count from the same "before"),
  and again after it;
- statements run outside the ORM's unit of work say what they change: ``changing(ids)``
  around them (a translation's reset of model tags, the language back-fill),
  ``added(rows)`` for new items (the intake), ``retagged`` for new model tags
  (classification, from the states it read locked), ``apply(delta)`` with a difference
  computed by the caller (the retention purge, which holds the rows' locks).

Deleting an engagement or a theme (no code path does; the database would set the
items' engagement to NULL or drop their tags itself) would leave counts under its id:
run ``rebuild()`` after doing so by hand.

Increments are ``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n``: they commute,
so several workers adding to one row give the same total in any order. Rows are
written in key order, so two transactions never wait on each other's rows in turn.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, event, func, inspect, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engage.extensions import db
from engage.feedback.models import (
    DuplicateGroup,
    FeedbackItem,
    FeedbackTally,
    Status,
    TagSource,
    ThemeTag,
    current_of,
)

ALL, CHANNEL, AREA, THEME, UNTHEMED, GROUP = "all", "channel", "area", "theme", "unthemed", "group"
KINDS = (ALL, CHANNEL, AREA, THEME, UNTHEMED, GROUP)

# The item's attributes that change what it contributes ("tags" is the collection).
TALLIED = (
    "engagement_id",
    "engagement",
    "submitted_at",
    "status",
    "channel",
    "area",
    "duplicate_group_id",
    "duplicate_group",
    "themes_reviewed_at",
    "tags",
)
CHUNK = 500  # ids per IN list

Key = tuple[str, int, date, str]  # kind, engagement_key, day, key
Delta = dict[Key, list[int]]  # n, spam, duplicate, responded


class Tag(NamedTuple):
    theme_id: int
    source: TagSource


@dataclass(frozen=True)
class ItemState:
    """What an item's counts depend on."""

    engagement_id: int | None
    submitted_at: datetime
    status: Status
    channel: str
    area: str | None
    duplicate_group_id: int | None
    themes_reviewed_at: datetime | None
    tags: tuple[Tag, ...] = ()


def vector(status: Status | str) -> list[int]:
    """(n, spam, duplicate, responded) of one item of this status."""
    status = Status(status)
    return [
        1,
        int(status == Status.SPAM),
        int(status == Status.DUPLICATE),
        int(status == Status.RESPONDED),
    ]


def contribution(state: ItemState) -> list[tuple[Key, list[int]]]:
    """The rows one item adds to, each with its (n, spam, duplicate, responded)."""
    engagement = state.engagement_id or 0
    day = state.submitted_at.date()
    counts = vector(state.status)
    keys = [(ALL, ""), (CHANNEL, str(state.channel)), (AREA, state.area or "")]
    if state.duplicate_group_id is not None:
        keys.append((GROUP, str(state.duplicate_group_id)))
    current = current_of(state.tags, reviewed=state.themes_reviewed_at)
    keys += [(THEME, str(tag.theme_id)) for tag in current] or [(UNTHEMED, "")]
    return [((kind, engagement, day, key), counts) for kind, key in keys]


def add(delta: Delta, states: Iterable[ItemState], sign: int) -> None:
    for state in states:
        for key, counts in contribution(state):
            row = delta.setdefault(key, [0, 0, 0, 0])
            for i, value in enumerate(counts):
                row[i] += sign * value


def difference(before: Iterable[ItemState], after: Iterable[ItemState]) -> Delta:
    delta: Delta = {}
    add(delta, before, -1)
    add(delta, after, 1)
    return delta


# ------------------------------------------------------------------ reading states

_COLUMNS = (
    FeedbackItem.id,
    FeedbackItem.engagement_id,
    FeedbackItem.submitted_at,
    FeedbackItem.status,
    FeedbackItem.channel,
    FeedbackItem.area,
    FeedbackItem.duplicate_group_id,
    FeedbackItem.themes_reviewed_at,
)


def read_states(
    session: Session, ids: Iterable[int], *, lock: bool = False
) -> dict[int, ItemState]:
    """The items' states as stored now (items that do not exist are left out).

    ``lock``: take the items' row locks first (PostgreSQL; SQLite has one writer).
    """
    ids = sorted(set(ids))
    states: dict[int, ItemState] = {}
    with session.no_autoflush:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            query = select(*_COLUMNS).where(FeedbackItem.id.in_(chunk)).order_by(FeedbackItem.id)
            if lock:
                query = query.with_for_update()
            rows = session.execute(query).all()
            if not rows:
                continue
            tags: dict[int, list[Tag]] = defaultdict(list)
            for item_id, theme_id, source in session.execute(
                select(ThemeTag.item_id, ThemeTag.theme_id, ThemeTag.source)
                .where(ThemeTag.item_id.in_([row[0] for row in rows]))
                .order_by(ThemeTag.id)
            ):
                tags[item_id].append(Tag(theme_id, source))
            for item_id, *columns in rows:
                states[item_id] = ItemState(*columns, tags=tuple(tags.get(item_id, ())))
    return states


def state_of_row(row: dict[str, Any]) -> ItemState:
    """The state of a new item from the columns it is inserted with (it has no tags)."""
    return ItemState(
        engagement_id=row.get("engagement_id"),
        submitted_at=row["submitted_at"],
        status=row.get("status") or Status.NEW,
        channel=str(row["channel"]),
        area=row.get("area"),
        duplicate_group_id=row.get("duplicate_group_id"),
        themes_reviewed_at=row.get("themes_reviewed_at"),
    )


# ------------------------------------------------------------------ writing

_TABLE = FeedbackTally.__table__
_KEY_COLUMNS = ("kind", "engagement_key", "day", "key")
_COUNT_COLUMNS = ("n", "spam", "duplicate", "responded")


# Written as one statement with a fixed text whatever the number of rows, so that it
# is compiled once: SQLite runs an executemany in C; PostgreSQL, which would run an
# executemany as a statement per row, gets the rows as arrays (unnest). A multi-row
# VALUES statement cost ~0.1 s a batch to compile (import-mail, cProfile).
_PG_UPSERT = text(
    "INSERT INTO feedback_tally (kind, engagement_key, day, key, n, spam, duplicate, responded)"
    " SELECT * FROM unnest(CAST(:kind AS VARCHAR[]), CAST(:engagement_key AS INTEGER[]),"
    " CAST(:day AS DATE[]), CAST(:key AS VARCHAR[]), CAST(:n AS INTEGER[]),"
    " CAST(:spam AS INTEGER[]), CAST(:duplicate AS INTEGER[]), CAST(:responded AS INTEGER[]))"
    " ON CONFLICT (kind, engagement_key, day, key) DO UPDATE SET"
    " n = feedback_tally.n + excluded.n, spam = feedback_tally.spam + excluded.spam,"
    " duplicate = feedback_tally.duplicate + excluded.duplicate,"
    " responded = feedback_tally.responded + excluded.responded"
)
_PG_DELETE_EMPTY = text(
    "DELETE FROM feedback_tally AS t USING unnest(CAST(:kind AS VARCHAR[]),"
    " CAST(:engagement_key AS INTEGER[]), CAST(:day AS DATE[]), CAST(:key AS VARCHAR[]))"
    " AS d (kind, engagement_key, day, key) WHERE t.kind = d.kind"
    " AND t.engagement_key = d.engagement_key AND t.day = d.day AND t.key = d.key AND t.n = 0"
)
_SQLITE_UPSERT = sqlite_insert(_TABLE)
_SQLITE_UPSERT = _SQLITE_UPSERT.on_conflict_do_update(
    index_elements=list(_KEY_COLUMNS),
    set_={name: _TABLE.c[name] + _SQLITE_UPSERT.excluded[name] for name in _COUNT_COLUMNS},
)
_SQLITE_DELETE_EMPTY = delete(_TABLE).where(
    *(_TABLE.c[name] == bindparam(f"k_{name}") for name in _KEY_COLUMNS), _TABLE.c.n == 0
)


def apply(delta: Delta, session: Session | None = None) -> None:
    """Add ``delta`` to the table in the session's transaction (rows in key order)."""
    changed = sorted((key, counts) for key, counts in delta.items() if any(counts))
    if not changed:
        return
    session = session if session is not None else db.session()
    # A row that counts nothing goes: its key may be an area typed in by a resident,
    # which the retention purge must not leave behind.
    emptied = [key for key, counts in changed if counts[0] < 0]
    if session.get_bind().dialect.name == "postgresql":
        columns = [list(c) for c in zip(*(key + tuple(n) for key, n in changed), strict=True)]
        session.execute(_PG_UPSERT, dict(zip(_KEY_COLUMNS + _COUNT_COLUMNS, columns, strict=True)))
        if emptied:
            keys = [list(c) for c in zip(*emptied, strict=True)]
            session.execute(_PG_DELETE_EMPTY, dict(zip(_KEY_COLUMNS, keys, strict=True)))
        return
    session.execute(
        _SQLITE_UPSERT,
        [
            dict(zip(_KEY_COLUMNS + _COUNT_COLUMNS, key + tuple(counts), strict=True))
            for key, counts in changed
        ],
    )
    if emptied:
        session.execute(
            _SQLITE_DELETE_EMPTY,
            [
                {f"k_{name}": value for name, value in zip(_KEY_COLUMNS, key, strict=True)}
                for key in emptied
            ],
        )


def added(rows: Iterable[dict[str, Any]]) -> None:
    """Count new items inserted outside the ORM from their columns (the intake)."""
    delta: Delta = {}
    add(delta, (state_of_row(row) for row in rows), 1)
    apply(delta)


@contextlib.contextmanager
def changing(ids: Iterable[int]) -> Iterator[None]:
    """Around statements that change the items ``ids`` outside the ORM's flush: their
    counts before (rows locked) and after, the difference added when the block ends."""
    session = db.session()
    session.flush()
    ids = sorted(set(ids))
    before = read_states(session, ids, lock=True)
    yield
    after = read_states(session, ids)
    apply(difference(before.values(), after.values()), session)


def retagged(before: dict[int, ItemState], model_tags: Iterable[dict[str, Any]]) -> Delta:
    """The difference made by replacing the items' model tags with ``model_tags`` (rows
    of theme_tag) and changing nothing else they are counted by (classification)."""
    new: dict[int, list[Tag]] = defaultdict(list)
    for row in model_tags:
        new[row["item_id"]].append(Tag(row["theme_id"], TagSource.MODEL))
    after = [
        replace(
            state,
            tags=(*(t for t in state.tags if t.source == TagSource.STAFF), *new.get(item_id, ())),
        )
        for item_id, state in before.items()
    ]
    return difference(before.values(), after)


# ------------------------------------------------------------------ the ORM's flushes

_PENDING = "engage_tally_pending"


def _tag_item_id(tag: ThemeTag) -> int | None:
    # The item the tag was given to, if set as an object (not loaded just to ask).
    item = tag.__dict__.get("item")
    if item is not None:
        return item.id
    return tag.item_id


def _changed(obj, names: Iterable[str]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _touched(session: Session) -> tuple[set[int], list[FeedbackItem]]:
    """Ids of stored items this flush changes the counts of, and the new items."""
    touched: set[int] = set()
    new_items: list[FeedbackItem] = []
    for obj in session.new:
        if isinstance(obj, FeedbackItem):
            new_items.append(obj)
        elif isinstance(obj, ThemeTag):
            item_id = _tag_item_id(obj)
            if item_id is not None:
                touched.add(item_id)
    for obj in session.dirty:
        if isinstance(obj, FeedbackItem):
            if obj.id is not None and _changed(obj, TALLIED):
                touched.add(obj.id)
        elif isinstance(obj, ThemeTag) and _changed(obj, ("item_id", "item", "theme_id", "source")):
            history = inspect(obj).attrs.item_id.history
            touched.update(i for i in (*history.deleted, *history.unchanged) if i is not None)
            item_id = _tag_item_id(obj)
            if item_id is not None:
                touched.add(item_id)
    groups = []
    for obj in session.deleted:
        if isinstance(obj, FeedbackItem):
            touched.add(obj.id)
        elif isinstance(obj, ThemeTag) and obj.item_id is not None:
            touched.add(obj.item_id)
        elif isinstance(obj, DuplicateGroup):
            groups.append(obj.id)
    if groups:
        with session.no_autoflush:
            touched.update(
                session.scalars(
                    select(FeedbackItem.id).where(FeedbackItem.duplicate_group_id.in_(groups))
                )
            )
    return touched, new_items


def _before_flush(session: Session, flush_context, instances) -> None:
    touched, new_items = _touched(session)
    if not touched and not new_items:
        return
    before = read_states(session, touched, lock=True) if touched else {}
    session.info.setdefault(_PENDING, []).append((touched, before, new_items))


def _after_flush(session: Session, flush_context) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    touched: set[int] = set()
    before: dict[int, ItemState] = {}
    for ids, states, new_items in pending:
        touched |= ids
        touched.update(item.id for item in new_items if item.id is not None)
        for item_id, state in states.items():
            before.setdefault(item_id, state)
    after = read_states(session, touched)
    apply(difference(before.values(), after.values()), session)


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def install() -> None:
    """Keep the table in step with every flush of every session (once per process)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_transaction_end", _forget)


# ------------------------------------------------------------------ reading sums


def summed(
    kinds: Iterable[str],
    *,
    engagement_id: int | None = None,
    first: date | None = None,
    last: date | None = None,
    by_day: bool = False,
    session: Session | None = None,
) -> list[tuple]:
    """(kind, [day,] key, n, spam, duplicate, responded) summed over the engagement (all
    feedback when None) and the days ``first`` to ``last`` (inclusive), per kind and key
    (and day with ``by_day``)."""
    session = session if session is not None else db.session()
    t = FeedbackTally
    groups = [t.kind, *([t.day] if by_day else []), t.key]
    query = select(*groups, *(func.sum(getattr(t, name)) for name in _COUNT_COLUMNS)).where(
        t.kind.in_(list(kinds))
    )
    if engagement_id is not None:
        query = query.where(t.engagement_key == engagement_id)
    if first is not None:
        query = query.where(t.day >= first)
    if last is not None:
        query = query.where(t.day <= last)
    width = len(groups)
    return [
        (*row[:width], *(int(value or 0) for value in row[width:]))
        for row in session.execute(query.group_by(*groups))
    ]


# ------------------------------------------------------------------ from scratch

_STATUS_SUMS = (
    "COUNT(*), "
    "SUM(CASE WHEN i.status = 'spam' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN i.status = 'duplicate' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN i.status = 'responded' THEN 1 ELSE 0 END)"
)
_INTO = (
    "INSERT INTO feedback_tally (kind, engagement_key, day, key, n, spam, duplicate, responded) "
)
_CURRENT_TAG = (
    "(t.source = 'staff' OR (t.source = 'model' AND i.themes_reviewed_at IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM theme_tag s WHERE s.item_id = t.item_id"
    " AND s.source = 'staff')))"
)


def _grouped(kind: str, key: str, source: str = "feedback_item i", where: str = "") -> str:
    engagement, day = "COALESCE(i.engagement_id, 0)", "DATE(i.submitted_at)"
    # Only this module's constants are interpolated: nothing comes from outside.
    select_ = f"SELECT '{kind}', {engagement}, {day}, {key}, {_STATUS_SUMS} FROM {source}"  # noqa: S608
    where = f" WHERE {where}" if where else ""
    grouped = f"{engagement}, {day}" + ("" if key.startswith("'") else f", {key}")
    return f"{_INTO}{select_}{where} GROUP BY {grouped}"  # noqa: S608


# Portable SQL (SQLite and PostgreSQL), also run by the migration that made the table.
REBUILD = (
    "DELETE FROM feedback_tally",
    _grouped(ALL, "''"),
    _grouped(CHANNEL, "i.channel"),
    _grouped(AREA, "COALESCE(i.area, '')"),
    _grouped(
        GROUP,
        "CAST(i.duplicate_group_id AS VARCHAR(20))",
        where="i.duplicate_group_id IS NOT NULL",
    ),
    _grouped(
        THEME,
        "CAST(t.theme_id AS VARCHAR(20))",
        source="theme_tag t JOIN feedback_item i ON i.id = t.item_id",
        where=_CURRENT_TAG,
    ),
    _grouped(
        UNTHEMED,
        "''",
        where="NOT EXISTS (SELECT 1 FROM theme_tag t WHERE t.item_id = i.id"
        " AND (t.source = 'staff' OR i.themes_reviewed_at IS NULL))",
    ),
)


def rebuild(connection=None) -> None:
    """Count every item again into an emptied table (after a bulk load that bypassed
    the app, or to repair). The caller commits."""
    run = connection.execute if connection is not None else db.session.execute
    for statement in REBUILD:
        run(text(statement))
