"""Claiming owed work, so each piece is done once by any number of workers and web nodes.

Owed work is marked in the table (an unclassified item, ``ack_pending``, a due outbox
message), and every process that can do it (each ``engage worker``, each web node
running its post-commit steps itself) looks for it. A process claims the rows it will
work on in the same transaction that does the work and clears the mark, so the claim
and the work commit together or not at all: a process killed half-way leaves its rows
owed, and the next sweep (of any process) does them.

- PostgreSQL: rows are claimed with ``SELECT ... FOR UPDATE`` (``SKIP LOCKED`` for a
  sweep, which then takes other rows instead of waiting; plain for the in-request path,
  which waits for the sweep holding them and then finds them done). A killed process's
  connection is closed, its transaction aborted and its row locks released.
- SQLite has one writer at a time and ignores ``FOR UPDATE``. ``writing()`` takes the
  database's write lock as the transaction's first statement, so what the block reads
  as owed cannot be taken by anyone else before it commits; the same claiming query is
  then simply a read of what is still owed. A killed process's lock goes with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Collection, Iterator

from sqlalchemy import Select, select, text
from sqlalchemy.sql.elements import ColumnElement

from engage.extensions import _sqlite_file, db, writer_queue

# A write that changes nothing, to take SQLite's write lock (on the whole file) at once
# (any table will do; this one is small and always there).
_TAKE_WRITE_LOCK = text("UPDATE theme SET id = id WHERE 0")


def locks_rows() -> bool:
    """Whether the database locks single rows (PostgreSQL) rather than the whole file."""
    return db.session.get_bind().dialect.name == "postgresql"


def for_claim(statement: Select, *, of: type, skip_locked: bool = True) -> Select:
    """``statement`` locking the rows it returns (of ``of``'s table, a mapped class)
    until the commit.

    ``skip_locked``: rows another transaction holds are left out rather than waited
    for. SQLite ignores the clause (use writing() there).
    """
    return statement.with_for_update(skip_locked=skip_locked, of=of)


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """The block's transaction is the only writer from its first statement on (SQLite).

    For a claim's re-read, its writes and its commit, all inside the block. On SQLite
    the caller first queues for the write lock behind other writers of this machine
    (extensions.writer_queue), then takes it, so nothing the block reads can change
    before it commits; on PostgreSQL it does nothing (rows are locked one by one, see
    for_claim). An exception rolls the transaction back before the lock is let go.
    """
    if locks_rows():
        yield
        return
    with writer_queue():
        try:
            db.session.execute(_TAKE_WRITE_LOCK)
            yield
        except BaseException:
            db.session.rollback()
            raise


def claim(
    ids: Collection[int], owed: ColumnElement[bool], *, of: type, skip_locked: bool = False
) -> list[int]:
    """Of the ids of ``of`` (a mapped class with an ``id``: a feedback item, say) in
    ``ids``, those still owed (``owed``: a condition on its table), held by this
    transaction until it commits. Call it inside writing().

    On PostgreSQL the rows are locked in id order (a lock held by another transaction is
    waited for, unless ``skip_locked``, and the condition then read again); on SQLite,
    inside writing(), no other writer can change them.
    """
    if not ids:
        return []
    statement = select(of.id).where(of.id.in_(list(ids)), owed).order_by(of.id)
    return list(db.session.scalars(for_claim(statement, of=of, skip_locked=skip_locked)))


@contextlib.contextmanager
def only_one(name: str) -> Iterator[bool]:
    """Yield whether this process holds the lock called ``name``; never waits for it.

    For work that one process at a time should do (reading one IMAP folder). On
    PostgreSQL it is a session advisory lock, held on a connection of its own (in
    autocommit, so no transaction stays open while the block runs) for every process
    on the database; on a SQLite file, an flock beside it for every process on the
    machine. Either is let go when the block ends or the process dies.
    """
    digest = hashlib.sha256(f"engage:{name}".encode()).digest()
    if db.engine.dialect.name == "postgresql":
        key = int.from_bytes(digest[:8], "big", signed=True)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return
    path = _sqlite_file()
    if path is None:  # an in-memory database: this process is the only one
        yield True
        return
    fd = os.open(f"{path}-{digest.hex()[:16]}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = False
        else:
            held = True
        yield held
    finally:
        os.close(fd)  # closing the descriptor lets go of the lock
