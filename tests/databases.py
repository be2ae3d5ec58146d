"""Brand-new empty databases for tests that need one of their own, and a statement counter."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from tests.conftest import TEST_DATABASE_URL


@contextlib.contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """Yield the URL of a new empty database of the kind the suite runs on; drop it after."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        yield f"sqlite:///{folder / f'{uuid.uuid4().hex[:8]}.db'}"
        return
    server = make_url(TEST_DATABASE_URL)
    name = f"engage_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def counting_statements() -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block, in order."""
    from engage.extensions import db

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
