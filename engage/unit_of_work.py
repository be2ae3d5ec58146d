"""Where a unit of work begins and commits: at the edge, once.

A web request is one unit of work. Views and the services they call change the session
(services may flush, to get ids or to check a constraint) and never commit; when the
view has answered, ``init_app``'s after-request step commits what the request wrote,
unless the answer is an error (status 400 or more), in which case nothing is committed
and the session's removal rolls it back. A view that raised commits nothing either.
A request that only read commits nothing here (on PostgreSQL
``extensions.end_reads_with_commit`` still ends its read with COMMIT).

A job (a huey task, a CLI command) is one unit of work, or one per batch it names:
``with transaction():`` (or ``@transaction()``) commits when the block ends and rolls
back if it raises.

A few steps commit inside themselves because a rule needs the commit before other work,
and each says why where it does it; docs/architecture.md ("Where each rule lives")
lists them: the intake (a submission is committed before any work that follows it),
claims of owed work (claiming.writing: each claim, its work and its commit in one
short transaction, holding SQLite's write lock or PostgreSQL's row locks only that
long), the outbox's lease and send, an IMAP message marked read only once stored,
sign-in failures and denied access (recorded even though the answer is an error).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import Flask, Response
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from engage.extensions import _reads_only, db

# Responses with this status or above are errors: what the request wrote is not kept.
ERROR_STATUS = 400
_WROTE = "engage_unit_wrote"


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """One unit of work for a job or a command: commit at the end, roll back on error.

    Usable as ``with transaction():`` and as a decorator (``@transaction()``).
    """
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def wrote(session: Session | None = None) -> bool:
    """Whether the session's transaction has changes to commit: objects not yet flushed,
    a flush, or an INSERT, UPDATE or DELETE run through it since it last ended."""
    session = session if session is not None else db.session()
    if session.new or session.dirty or session.deleted:
        return True
    return bool(session.info.get(_WROTE))


def _note_flush(session: Session, _flush_context) -> None:
    session.info[_WROTE] = True


def _note_statement(state) -> None:
    if state.is_select:
        return
    statement = state.statement
    if isinstance(statement, TextClause) and _reads_only(statement.text):
        return  # a SELECT written as text
    state.session.info[_WROTE] = True


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed or not
        session.info.pop(_WROTE, None)


def init_app(app: Flask) -> None:
    """Commit each request's writes once, after its view has answered without an error."""
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "after_flush", _note_flush):
        event.listen(session_class, "after_flush", _note_flush)
        event.listen(session_class, "do_orm_execute", _note_statement)
        event.listen(session_class, "after_transaction_end", _forget)

    @app.after_request
    def _commit_the_request(response: Response) -> Response:
        if response.status_code < ERROR_STATUS and wrote():
            db.session.commit()
        return response
