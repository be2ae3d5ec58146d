"""Accepting feedback: the one path every channel goes through.

intake() stores a list of submissions in one transaction, all or none, and only then
hands the new items to the one post-commit owner (engage.followup.post_commit:
classification and acknowledgement, here or in the worker). Every channel uses it:
submit() is intake() of one (the web form, with its double-submit key),
submit_many() a partner batch refused whole if any item is invalid (with its
Idempotency-Key), and email (the webhook, IMAP, `engage import-mail`) passes
submissions it has already checked, dropping the invalid ones rather than the batch.

Beside it: engage.feedback.validation (Submission, the limits, validate()),
engage.feedback.storing (the insert and references) and engage.feedback.idempotency
(posts sent twice: the form's double-submit key, a partner's Idempotency-Key).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from engage.engagements.models import Engagement
from engage.extensions import db, writer_queue
from engage.feedback.idempotency import (
    AlreadyStored,
    Idempotency,
    record_key,
    sent_before,
    stored_under,
)
from engage.feedback.models import FeedbackItem, Theme
from engage.feedback.storing import canonical_reference, insert_items, item_row, loaded_item
from engage.feedback.themes import DEFAULT_THEMES
from engage.feedback.validation import (
    Checked,
    InvalidBatch,
    InvalidSubmission,
    Submission,
    engagements_named,
    validate,
)

log = logging.getLogger(__name__)


@dataclass
class Intake:
    """What intake() did with each submission, by position: ``items`` holds the stored
    item (or, for a post sent twice, the earlier one) or None for a dropped one,
    ``references`` their references (read before any work after the commit, which
    expires the items), and ``refused`` the field errors of each dropped one
    (``drop_invalid``)."""

    items: list[FeedbackItem | None]
    references: list[str | None]
    refused: dict[int, dict[str, str]] = field(default_factory=dict)

    def stored(self, item: FeedbackItem, index: int) -> None:
        self.items[index] = item
        self.references[index] = item.reference


class PostCommitOwner(Protocol):
    def after_commit(self, items: Sequence[FeedbackItem], *, here: bool = False) -> None: ...


# The one owner of the work after a commit (engage.followup.post_commit; create_app sets
# it): classification and acknowledgement, here or in the worker.
_post_commit: PostCommitOwner | None = None


def follow_up_with(owner: PostCommitOwner | None) -> None:
    """Hand every commit's new items to ``owner.after_commit()`` (create_app calls this)."""
    global _post_commit
    _post_commit = owner


def submit(submission: Submission, *, engagement: Engagement | None = None) -> FeedbackItem:
    """Validate, store and commit one feedback item (the web form): intake() of one.

    ``engagement`` is the engagement named by ``submission.engagement_slug`` when the
    caller has already loaded it (saves looking it up again). With a ``submission_key``
    an item stored with the same key within DOUBLE_SUBMIT_WINDOW is returned instead
    and nothing is stored. Raises InvalidSubmission (nothing stored) when the input is
    not acceptable.
    """
    known = {engagement.slug: engagement} if engagement is not None else None
    try:
        result = intake([submission], engagements=known, refuse_nul=False)
    except InvalidBatch as invalid:
        raise InvalidSubmission(invalid.by_index[0]) from None
    return result.items[0]


def submit_many(
    submissions: Iterable[Submission], *, idempotency: Idempotency | None = None
) -> list[str]:
    """Store a list of submissions in one transaction, all or none; their references
    (the partner API): intake() refusing the whole batch if any submission is invalid."""
    return [r for r in intake(submissions, idempotency=idempotency).references if r]


def intake(
    submissions: Iterable[Submission | Checked],
    *,
    idempotency: Idempotency | None = None,
    drop_invalid: bool = False,
    refuse_nul: bool = True,
    engagements: Mapping[str, Engagement | None] | None = None,
    follow_up_here: bool = False,
) -> Intake:
    """Store submissions in one transaction, all or none, then hand them to the one
    post-commit owner: the one way feedback is stored, whatever the channel.

    Each Submission is validated first (the engagements named looked up in one query;
    ``engagements`` maps slugs the caller has already loaded); a Checked one was
    validated by its caller. If any is not acceptable, InvalidBatch says which and why
    and nothing is stored, or with ``drop_invalid`` (email) those are left out and
    listed in ``Intake.refused`` and the others stored. The rows are then inserted and
    committed together, so a failure at any point before the commit (an error, a lost
    connection, a killed process) leaves none of them. ``refuse_nul`` refuses a NUL
    (a program sent it) rather than dropping it (a person's typing).

    Only after the commit are the items handed to the post-commit owner (classification
    and acknowledgement: now, or in the worker with ENGAGE_POST_COMMIT_IN_WORKER;
    ``follow_up_here`` always now).

    A Submission with a ``submission_key`` (the web form) that matches an item stored
    within DOUBLE_SUBMIT_WINDOW is answered with that item and not stored again: one
    index seek before anything else. The key's unique index settles two posts racing.

    With ``idempotency`` (a partner's Idempotency-Key) the key is recorded with the
    references in the same transaction. If the key was recorded before for the same
    request, nothing is stored and AlreadyStored carries the earlier references; for a
    different request, IdempotencyKeyReused. Either can also come from a concurrent
    request with the same key that committed first.
    """
    submissions = list(submissions)
    if idempotency is not None:
        earlier = stored_under(idempotency)
        if earlier is not None:
            raise AlreadyStored(earlier)
    result = Intake(items=[None] * len(submissions), references=[None] * len(submissions))
    if not submissions:
        return result
    keys = {
        s.submission_key: index
        for index, s in enumerate(submissions)
        if isinstance(s, Submission) and s.submission_key
    }
    answered, stale = sent_before(keys)
    for index, item in answered.items():
        result.stored(item, index)
    wanted = [
        s.engagement_slug
        for s in submissions
        if isinstance(s, Submission) and not (engagements and s.engagement_slug in engagements)
    ]
    known = {**engagements_named(wanted), **(engagements or {})}
    rows: list[dict] = []
    positions: list[int] = []
    for index, submission in enumerate(submissions):
        if index in answered:
            continue
        if isinstance(submission, Checked):
            rows.append(
                item_row(submission.submission, submission.cleaned, submission.engagement_id)
            )
            positions.append(index)
            continue
        try:
            cleaned = validate(submission, engagements=known, refuse_nul=refuse_nul)
        except InvalidSubmission as invalid:
            result.refused[index] = invalid.errors
            continue
        engagement = cleaned["engagement"]
        rows.append(item_row(submission, cleaned, engagement.id if engagement else None))
        positions.append(index)
    if result.refused and not drop_invalid:
        raise InvalidBatch(result.refused)
    if not rows:
        return result
    try:
        with writer_queue():
            if stale:  # sent again after the window: the new item takes the key
                db.session.execute(
                    update(FeedbackItem)
                    .where(FeedbackItem.id.in_(stale))
                    .values(submission_key=None)
                    .execution_options(synchronize_session=False)
                )
            references = [reference for _, reference in insert_items(rows)]
            if idempotency is not None:
                record_key(idempotency, references)
            # Kept here: a submission is committed before any other work (the post-commit
            # hand-over below, the resident's reference), inside the SQLite writer queue.
            db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if idempotency is not None:
            earlier = stored_under(idempotency)  # raises IdempotencyKeyReused for another body
            if earlier is not None:
                raise AlreadyStored(earlier) from None
        if keys and len(keys) == len(rows):  # the same posts, sent at the same moment
            first, _ = sent_before(keys, window=None)
            if len(first) == len(keys):
                for index, item in first.items():
                    result.stored(item, index)
                return result
        raise
    except BaseException:
        db.session.rollback()
        raise
    stored = [loaded_item(row) for row in rows]
    for index, item in zip(positions, stored, strict=True):
        result.stored(item, index)
    if _post_commit is not None:
        _post_commit.after_commit(stored, here=follow_up_here)
    return result


def find_for_tracking(reference: str | None, email: str | None) -> FeedbackItem | None:
    """The item with this reference, only if ``email`` is the address it was sent with."""
    reference = canonical_reference(reference)
    email = (email or "").strip().lower()
    if not reference or not email:
        return None
    item = db.session.scalar(select(FeedbackItem).where(FeedbackItem.reference == reference))
    stored = (item.author_email or "").lower() if item else ""
    # Compare in constant time, and the same way whether or not the reference exists.
    if not hmac.compare_digest(stored.encode(), email.encode()) or not stored:
        return None
    return item


def ensure_default_themes() -> list[Theme]:
    """Create any of the five default themes that are missing; return all themes in order."""
    existing = {t.slug for t in db.session.scalars(select(Theme))}
    for position, (slug, name, description) in enumerate(DEFAULT_THEMES):
        if slug not in existing:
            db.session.add(Theme(slug=slug, name=name, description=description, position=position))
    db.session.flush()  # the caller's unit of work commits
    return list(db.session.scalars(select(Theme).order_by(Theme.position)))
