"""The audit log: who did what, when. Entries are only ever added.

A low module, below every domain that records: staff actions, retention purges and
concerns' changes all call ``record``. An entry names its actor by a foreign key to
the ``staff_user`` table (and by email, which outlives the account), so this module
imports nothing from ``engage.staff``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from flask import has_request_context, request
from sqlalchemy import JSON, ForeignKey, Index, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engage.extensions import db
from engage.util import utcnow


class Actor(Protocol):
    """Who did something: a staff account."""

    id: int
    email: str


class AuditEvent(db.Model):
    """One thing a person did (or tried to do) in the staff area. Append-only."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), index=True
    )
    # Kept as text too, so the log still reads right if the account is deleted.
    actor_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete an audit entry."""


@event.listens_for(Session, "before_flush")
def _audit_is_append_only(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("audit entries cannot be changed or deleted")


def record(
    action: str,
    *,
    actor: Actor | None = None,
    target: Any = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit entry to the session (the caller commits with its own change).

    ``actor`` is a staff account (the signed-in one when left out); ``target`` is any
    model with an ``id``; its table name is stored as the type.
    """
    if actor is None and has_request_context():
        from flask_login import current_user

        if current_user.is_authenticated:
            actor = current_user
    entry = AuditEvent(
        action=action,
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else None,
        target_type=getattr(target, "__tablename__", None),
        target_id=str(target.id) if target is not None and target.id is not None else None,
        detail=detail or {},
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(entry)
    return entry


def denied(reason: str, *, detail: dict[str, Any] | None = None) -> None:
    """Record, and commit at once, an attempt to reach something without the right."""
    info = {"reason": reason, **(detail or {})}
    if has_request_context():
        info.update(method=request.method, path=request.path)
    record("access.denied", detail=info)
    # Kept here: a denied attempt is recorded although the answer is an error (403),
    # which commits nothing at the end of the request.
    db.session.commit()


def recent(*, limit: int = 50, offset: int = 0, action: str | None = None) -> list[AuditEvent]:
    """The newest entries first, optionally only one action."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query.limit(limit).offset(offset)))


def count(*, action: str | None = None) -> int:
    query = select(db.func.count(AuditEvent.id))
    if action:
        query = query.where(AuditEvent.action == action)
    return db.session.scalar(query) or 0
