"""Posts sent twice: the web form's double-submit key and a partner's Idempotency-Key.

Both are answered with what the first post stored rather than stored again. The key of
a form post is looked up before anything else (sent_before); a partner's key is
recorded with the references in the intake's own transaction (record_key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, select

from engage.extensions import db
from engage.feedback.models import FeedbackItem, IdempotencyKey
from engage.feedback.validation import Submission, clean_text
from engage.util import utcnow

log = logging.getLogger(__name__)

# The web form stores a post sent twice (a double click, a resend after a timeout) once
# when the same browser session sends the same text within this time.
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)
# A partner's Idempotency-Key is remembered this long; after it the key may be reused.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


class AlreadyStored(Exception):
    """The Idempotency-Key was used before for the same request: nothing new was stored,
    and ``references`` are what that request stored."""

    def __init__(self, references: list[str]):
        super().__init__(f"already stored as {', '.join(references[:3])}")
        self.references = references


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was used before for a different request; nothing was stored."""


@dataclass(frozen=True)
class Idempotency:
    """A partner's Idempotency-Key for one request, with the SHA-256 of its body."""

    partner_id: int
    key: str
    request_hash: str


def sent_before(
    keys: Mapping[str, int], *, window: timedelta | None = DOUBLE_SUBMIT_WINDOW
) -> tuple[dict[int, FeedbackItem], list[int]]:
    """Items stored under these double-submit keys: those within ``window`` by the
    position of the submission they answer, and the ids of the older ones."""
    if not keys:
        return {}, []
    column = FeedbackItem.submission_key
    # The form's case, one key, is one index seek.
    where = column == next(iter(keys)) if len(keys) == 1 else column.in_(list(keys))
    answered: dict[int, FeedbackItem] = {}
    stale: list[int] = []
    for earlier in db.session.scalars(select(FeedbackItem).where(where)):
        if window is None or earlier.submitted_at >= utcnow() - window:
            log.info("a post sent again within the window: answered with %s", earlier.reference)
            answered[keys[earlier.submission_key]] = earlier
        else:
            stale.append(earlier.id)
    return answered, stale


def stored_under(idempotency: Idempotency) -> list[str] | None:
    """The references stored by the request that used this Idempotency-Key, or None when
    the partner has not used the key (within IDEMPOTENCY_KEY_LIFETIME).

    Raises IdempotencyKeyReused when the key was used for a request with another body.
    """
    row = db.session.execute(
        select(IdempotencyKey.request_hash, IdempotencyKey.item_references).where(
            IdempotencyKey.partner_id == idempotency.partner_id,
            IdempotencyKey.key == idempotency.key,
            IdempotencyKey.created_at >= utcnow() - IDEMPOTENCY_KEY_LIFETIME,
        )
    ).first()
    if row is None:
        return None
    if not hmac.compare_digest(row.request_hash, idempotency.request_hash):
        raise IdempotencyKeyReused(idempotency.key)
    return list(row.item_references)


def request_hash(payload: object) -> str:
    """SHA-256 of a JSON request body, the same however its keys were ordered or spaced."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def record_key(idempotency: Idempotency, references: list[str]) -> None:
    """Record the key in the caller's transaction; the partner's expired keys go first
    (so an expired key can be used again)."""
    db.session.execute(
        delete(IdempotencyKey)
        .where(
            IdempotencyKey.partner_id == idempotency.partner_id,
            IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_KEY_LIFETIME,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        insert(IdempotencyKey),
        {
            "partner_id": idempotency.partner_id,
            "key": idempotency.key,
            "request_hash": idempotency.request_hash,
            "item_references": references,
            "created_at": utcnow(),
        },
    )


def form_submission_key(session_id: str, submission: Submission) -> str:
    """The double-submit key of a web form post: the same browser session (``session_id``,
    a secret of the session) sending the same text to the same place gets the same key."""
    values = [
        session_id,
        submission.engagement_slug,
        submission.subject,
        clean_text(submission.text),
    ]
    canonical = json.dumps(values, ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
