"""Full-text search over feedback: SQLite FTS5 or PostgreSQL's text search.

``install(connection)`` creates the index (called when the table is created and by
the migration); ``matching(q)`` returns a clause that keeps the items matching the
words of ``q``. Whatever the user types is treated as words, never as query syntax:
quotes, ``*``, ``NEAR``, ``%`` and the like cannot cause an error.
"""

from __future__ import annotations

import re

from sqlalchemy import column, event, select, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement, TextClause
from sqlalchemy.sql.expression import TableClause

from engage.feedback.models import FeedbackItem

_SQLITE_DDL = (
    """CREATE VIRTUAL TABLE IF NOT EXISTS feedback_fts USING fts5(
        subject, text, content='feedback_item', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS feedback_fts_ai AFTER INSERT ON feedback_item BEGIN
        INSERT INTO feedback_fts(rowid, subject, text)
        VALUES (new.id, coalesce(new.subject, ''), new.text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS feedback_fts_ad AFTER DELETE ON feedback_item BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, subject, text)
        VALUES ('delete', old.id, coalesce(old.subject, ''), old.text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS feedback_fts_au AFTER UPDATE OF subject, text
        ON feedback_item BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, subject, text)
        VALUES ('delete', old.id, coalesce(old.subject, ''), old.text);
        INSERT INTO feedback_fts(rowid, subject, text)
        VALUES (new.id, coalesce(new.subject, ''), new.text);
    END""",
    # Index whatever is already there (a no-op on an empty table).
    "INSERT INTO feedback_fts(feedback_fts) VALUES ('rebuild')",
)
_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS feedback_fts_ai",
    "DROP TRIGGER IF EXISTS feedback_fts_ad",
    "DROP TRIGGER IF EXISTS feedback_fts_au",
    "DROP TABLE IF EXISTS feedback_fts",
)
_PG_DOCUMENT = "to_tsvector('english', coalesce(subject, '') || ' ' || text)"
# PostgreSQL keeps each item's document in a stored column (computed by the database on
# every insert and update) with a GIN index on it. Stored, not an index on the
# expression: a search listing the latest matches first can then read the table
# backwards and test each row's ready-made document, where the expression would be
# worked out again for every row read.
_PG_DDL = (
    "ALTER TABLE feedback_item ADD COLUMN IF NOT EXISTS search_document tsvector "
    f"GENERATED ALWAYS AS ({_PG_DOCUMENT}) STORED",
    "DROP INDEX IF EXISTS ix_feedback_item_fulltext",  # the expression index of 0006
    "CREATE INDEX IF NOT EXISTS ix_feedback_item_search ON feedback_item "
    "USING gin (search_document)",
)
_PG_DROP = (
    "DROP INDEX IF EXISTS ix_feedback_item_search",
    "DROP INDEX IF EXISTS ix_feedback_item_fulltext",
    "ALTER TABLE feedback_item DROP COLUMN IF EXISTS search_document",
)

_WORD = re.compile(r"\w+", re.UNICODE)


def install(connection: Connection) -> None:
    """Create the full-text index for the connection's database."""
    statements = _SQLITE_DDL if connection.dialect.name == "sqlite" else _PG_DDL
    for statement in statements:
        connection.execute(text(statement))


_SQLITE_TRIGGERS = ("feedback_fts_ai", "feedback_fts_ad", "feedback_fts_au")


def repair(connection: Connection) -> bool:
    """SQLite: put the full-text index and its triggers back if any is missing, and
    index what was stored without them; True if it had to.

    SQLite drops a table's triggers with the table, and a batch migration copies
    feedback_item into a new table and drops the old one (0014-0021 did: nothing stored
    after them was found by the staff search). migrations/env.py calls this after
    every upgrade. PostgreSQL's document is a generated column: nothing to repair.
    """
    if connection.dialect.name != "sqlite":
        return False
    names = set(
        connection.execute(
            text("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        ).scalars()
    )
    if "feedback_item" not in names:
        return False
    if {"feedback_fts", *_SQLITE_TRIGGERS} <= names:
        return False
    install(connection)
    return True


def uninstall(connection: Connection) -> None:
    """Drop the full-text index."""
    statements = _SQLITE_DROP if connection.dialect.name == "sqlite" else _PG_DROP
    for statement in statements:
        connection.execute(text(statement))


event.listen(
    FeedbackItem.__table__, "after_create", lambda target, connection, **kw: install(connection)
)
event.listen(
    FeedbackItem.__table__,
    "before_drop",
    lambda target, connection, **kw: uninstall(connection),
)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """For Alembic's autogenerate: leave the hand-made full-text objects alone."""
    if type_ == "table" and name and name.startswith("feedback_fts"):
        return False
    if type_ == "column" and name == "search_document":
        return False
    return not (
        type_ == "index" and name in ("ix_feedback_item_fulltext", "ix_feedback_item_search")
    )


def words(q: str) -> list[str]:
    """The search words in what the user typed (letters and digits only), at most 12."""
    return _WORD.findall(q or "")[:12]


def _fts_expression(terms: list[str]) -> str:
    # Each word quoted: FTS5 then reads it as a plain term, never as an operator.
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


_SQLITE_MATCH = text("feedback_fts MATCH :fts_query")
_PG_MATCH = text("feedback_item.search_document @@ plainto_tsquery('english', :pg_query)")


def match_params(q: str, dialect: str) -> dict[str, str] | None:
    """The values bound in the clauses below for ``q`` (None if ``q`` has no words): a
    statement made for one search runs another with them."""
    terms = words(q)
    if not terms:
        return None
    if dialect == "sqlite":
        return {"fts_query": _fts_expression(terms)}
    return {"pg_query": " ".join(terms)}


def sqlite_matches(q: str) -> tuple[TableClause, TextClause] | None:
    """SQLite: the full-text table and its MATCH condition for ``q``, to join on
    ``rowid`` (the item's id); None if ``q`` has no words.

    Joined and ordered by its rowid, newest first, FTS5 reads the index backwards and
    stops at the LIMIT; ``id IN (...)`` would read every match first.
    """
    params = match_params(q, "sqlite")
    if params is None:
        return None
    return _FTS, _SQLITE_MATCH.bindparams(**params)


_FTS = table("feedback_fts", column("rowid"))


def matching(q: str, dialect: str) -> ColumnElement[bool] | TextClause | None:
    """A WHERE clause keeping items that contain every word of ``q``; None if no words."""
    params = match_params(q, dialect)
    if params is None:
        return None
    if dialect == "sqlite":
        return FeedbackItem.id.in_(select(_FTS.c.rowid).where(_SQLITE_MATCH.bindparams(**params)))
    return _PG_MATCH.bindparams(**params)
