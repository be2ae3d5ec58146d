"""Flask extensions, created unbound and bound to the app in create_app()."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base with a naming convention so Alembic names constraints."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
mail = Mail()
login = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: enforce foreign keys; WAL so readers never wait for the writer."""
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # Safe with WAL: a power cut may lose the last commits, never corrupt the file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def keep_sqlite_statistics(*, only_if_missing: bool = False) -> bool:
    """SQLite: give the query planner statistics (ANALYZE); True if it ran.

    Without them SQLite plans some staff statements badly on a large table: the response
    editor's picker took 40 ms a call at 100,000 items, 3.75 ms after ANALYZE (bench
    README, the 21:17 run). ``analysis_limit`` bounds the work (about 75 ms at 100,000
    items). ``only_if_missing``: only when feedback has rows and none is described yet,
    as at a process's start (create_app); the quarter-hour job refreshes them as data
    grows. PostgreSQL keeps its own (autovacuum): nothing to do.
    """
    if db.engine.dialect.name != "sqlite":
        return False
    with db.engine.begin() as connection:
        run = connection.exec_driver_sql
        if only_if_missing:
            tables = {row[0] for row in run("SELECT name FROM sqlite_master WHERE type='table'")}
            if (
                "feedback_item" not in tables
                or not run("SELECT 1 FROM feedback_item LIMIT 1").first()
            ):
                return False
            if (
                "sqlite_stat1" in tables
                and run("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'feedback_item'").first()
            ):
                return False
        run("PRAGMA analysis_limit=400")
        run("ANALYZE")
    return True


def end_reads_with_commit(app: Flask) -> None:
    """PostgreSQL: end a context's read-only transaction with COMMIT, not ROLLBACK.

    psycopg prepares a statement once it has run a few times on a connection, so
    PostgreSQL parses and plans it once, not on every run; but it forgets every prepared
    statement when it sees a ROLLBACK, and a request that only read ends with one when
    its session is removed. Without this no statement is ever prepared, and the inbox's
    larger queries are planned afresh on every page (issue #9). A transaction that wrote
    anything, has changes pending or failed is left to be rolled back as before.

    Register after db.init_app(): teardown functions run last-registered first, so this
    runs before Flask-SQLAlchemy removes the session.
    """
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        conn.info["engage_wrote"] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(conn, cursor, statement, parameters, context, executemany) -> None:
        if not conn.info.get("engage_wrote") and not _reads_only(statement):
            conn.info["engage_wrote"] = True

    @app.teardown_appcontext
    def _commit_reads(error: BaseException | None) -> None:
        session = db.session()  # this context's Session, not the scoped proxy
        if error is not None or not session.in_transaction():
            return
        if session.new or session.dirty or session.deleted:
            return
        if session.connection().info.get("engage_wrote", True):
            return
        try:
            session.commit()
        except Exception:  # nothing was written: let the session's removal roll back
            session.rollback()


_WRITE_WORDS = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE)\b", re.I)


def _reads_only(statement: str) -> bool:
    """True for a SELECT, or a WITH ... SELECT that changes nothing (anything else might
    write, and is left to be rolled back)."""
    head = statement.lstrip()[:6].upper()
    if head == "SELECT":
        return True
    return head.startswith("WITH") and _WRITE_WORDS.search(statement) is None


@contextmanager
def writer_queue() -> Iterator[None]:
    """On a SQLite file, wait in line for the one write lock instead of polling for it.

    SQLite lets one connection write at a time. A connection that finds the lock taken
    sleeps and retries (its busy handler: 1, 2, 5 ... up to 100 ms between tries), and
    under a burst of form posts the same request can lose the race again and again.
    Inside this block the caller first holds an exclusive flock on a file beside the
    database, so writers from every thread and process queue in the kernel and each
    wakes as soon as the one before it lets go. Elsewhere (PostgreSQL, an in-memory
    database) it does nothing. Keep the block to the write and its commit.
    """
    path = _sqlite_file()
    if path is None:
        yield
        return
    with queue_on(f"{path}-writer.lock"):
        yield


@contextmanager
def queue_on(lock_path: str) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path`` (created if missing) inside the block.

    Each entry opens its own descriptor, so threads of one process queue as processes do.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _sqlite_file() -> str | None:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.database.startswith("file:"):  # a URI: memory or shared-cache forms
        return None
    return url.database
