"""Writing new items: their rows, the fast insert of each database, their references.

insert_items() runs in the intake's transaction and gives each row its id and its
reference (YS-YYYY-NNNNNN); loaded_item() turns a committed row into a FeedbackItem
in the session without reading it back.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy import Insert, String, bindparam, func, insert, select, text, update
from sqlalchemy.orm import make_transient_to_detached

from engage.caching import memoize
from engage.extensions import db
from engage.feedback import tally
from engage.feedback.models import FeedbackItem, Status
from engage.feedback.validation import Submission
from engage.util import utcnow


def make_reference(item_id: int, when: datetime) -> str:
    """Return the human reference for an item, such as ``YS-2026-000042``."""
    return f"{_reference_prefix(when)}{item_id:06d}"


def _reference_prefix(when: datetime) -> str:
    return f"YS-{when.year}-"


# A reference as people copy it: any case, with or without the dashes, or with spaces,
# dots or slashes in their place ("ys 2026 000316", "YS2026000316", "YS/2026/316").
_TYPED_REFERENCE = re.compile(r"\bYS[\s./_-]*(\d{4})[\s./_-]*(\d{1,12})\b", re.IGNORECASE)


def references_in(text: str | None) -> list[str]:
    """Every reference ``text`` quotes (a reply's subject, "Re: We received your feedback
    YS-2026-000042"), as make_reference() writes them, in order, once each."""
    found = (
        f"YS-{m.group(1)}-{int(m.group(2)):06d}" for m in _TYPED_REFERENCE.finditer(text or "")
    )
    return list(dict.fromkeys(found))


def canonical_reference(typed: str | None) -> str | None:
    """The reference ``typed`` stands for, written as make_reference() writes it, or
    None when it is not one. Only the whole of ``typed`` (spaces around it aside)."""
    match = _TYPED_REFERENCE.fullmatch((typed or "").strip())
    if match is None:
        return None
    return f"YS-{match.group(1)}-{int(match.group(2)):06d}"


def item_row(submission: Submission, cleaned: dict, engagement_id: int | None) -> dict:
    """The columns of the item that ``submission`` (validated as ``cleaned``) becomes.

    The reference is a unique placeholder until insert_items() knows the item's id.
    """
    return {
        "reference": f"pending-{uuid.uuid4().hex}",
        "engagement_id": engagement_id,
        "channel": submission.channel,
        "submitted_at": submission.submitted_at or utcnow(),
        "text": cleaned["text"],
        "subject": cleaned["subject"],
        "author_name": cleaned["author_name"],
        "author_email": cleaned["author_email"],
        "area": cleaned["area"],
        "consent_to_quote": submission.consent_to_quote,
        "contact_me": bool(submission.contact_me and cleaned["author_email"]),
        "status": Status.NEW,
        "ack_pending": bool(submission.acknowledge and cleaned["author_email"]),
        "submission_key": submission.submission_key,
        "ui_locale": submission.ui_locale,
        **submission.extra,
    }


def insert_items(rows: list[dict]) -> list[tuple[int, str]]:
    """Insert item rows (from item_row()) in the caller's transaction; their ids and
    references, in order. The caller commits.

    Core statements on the table, not the ORM: no objects to build, flush and reload,
    and one INSERT for many rows (the ORM would split them into one statement per run of
    rows with the same NULL columns). New feedback moves no public page version. Each
    row is given its ``id`` and final reference.
    """
    if not rows:
        return []
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        _insert_with_sequence(rows)
    elif dialect == "sqlite" and len(rows) == 1:
        _insert_one_sqlite(rows[0])
    else:
        _insert_then_reference(rows)
    tally.added(rows)  # the counts of the dashboard and the public figures
    return [(row["id"], row["reference"]) for row in rows]


def _insert_with_sequence(rows: list[dict]) -> None:
    """PostgreSQL: take the ids from the sequence first, so each row is written once
    with its reference (every later UPDATE would rewrite the row and its indexes)."""
    ids = db.session.scalars(_NEXT_IDS, {"n": len(rows)}).all()
    for row, item_id in zip(rows, ids, strict=True):
        row["id"] = item_id
        row["reference"] = make_reference(item_id, row["submitted_at"])
    db.session.execute(insert(FeedbackItem.__table__), rows)


_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('feedback_item', 'id')) FROM generate_series(1, :n)"
)


def _insert_one_sqlite(row: dict) -> None:
    """SQLite, one row (the form's case): one statement that takes the next id itself.

    The next id is max(id) + 1, which is how SQLite numbers a row whose key is not
    given (the table has no AUTOINCREMENT), read and used inside the one INSERT that
    holds the database's write lock; the reference is built from it in the same
    statement. A statement fewer than insert-then-update is a shorter hold on the lock
    every writer waits for.
    """
    columns = tuple(name for name in row if name not in ("id", "reference"))
    params = {name: row[name] for name in columns}
    params["reference_prefix"] = _reference_prefix(row["submitted_at"])
    row["id"] = db.session.execute(_insert_one_statement(columns), params).lastrowid
    row["reference"] = make_reference(row["id"], row["submitted_at"])


@memoize("feedback_insert_statements", maxsize=64)
def _insert_one_statement(columns: tuple[str, ...]) -> Insert:
    table = FeedbackItem.__table__
    next_id = select((func.coalesce(func.max(table.c.id), 0) + 1).label("id")).subquery()
    values = select(
        next_id.c.id,
        bindparam("reference_prefix", type_=String) + func.printf("%06d", next_id.c.id),
        *(bindparam(name, type_=table.c[name].type) for name in columns),
    )
    return insert(table).from_select(["id", "reference", *columns], values)


def _insert_then_reference(rows: list[dict]) -> None:
    """Elsewhere one INSERT (the ids come back by the placeholder references, whatever
    order the database returns them in) and one UPDATE run for all the rows."""
    table = FeedbackItem.__table__
    by_placeholder = dict(
        db.session.execute(insert(table).returning(table.c.reference, table.c.id), rows).all()
    )
    for row in rows:
        row["id"] = by_placeholder[row["reference"]]
        row["reference"] = make_reference(row["id"], row["submitted_at"])
    db.session.execute(
        update(table).where(table.c.id == bindparam("item_id")),
        [{"item_id": row["id"], "reference": row["reference"]} for row in rows],
    )


def loaded_item(row: dict) -> FeedbackItem:
    """The committed row as a persistent FeedbackItem in the session, without a query.

    Columns not in ``row`` load when first read, as do the item's tags.
    """
    item = FeedbackItem(**row)
    make_transient_to_detached(item)
    db.session.add(item)
    return item
