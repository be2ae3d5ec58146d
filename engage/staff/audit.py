"""The audit log: who did what, when. Entries are only ever added."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from sqlalchemy import select

from engage.extensions import db
from engage.staff.models import AuditEvent, StaffUser


def record(
    action: str,
    *,
    actor: StaffUser | None = None,
    target: Any = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit entry to the session (the caller commits with its own change).

    ``target`` is any model with an ``id``; its table name is stored as the type.
    """
    if actor is None and has_request_context():
        from flask_login import current_user

        if current_user.is_authenticated:
            actor = current_user
    event = AuditEvent(
        action=action,
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else None,
        target_type=getattr(target, "__tablename__", None),
        target_id=str(target.id) if target is not None and target.id is not None else None,
        detail=detail or {},
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event


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
