"""Retention: remove personal details from feedback older than the retention period.

An operation over every domain (feedback, mail's outbox, responses' votes and alerts,
staff notes, the audit log), so it sits above them all; the text it leaves in place of a
removed one (``PLACEHOLDER``) and the hashed form of a Message-ID are defined with the
feedback item, in ``engage.feedback.models``, where the classifier and the mail intake
read them.

``purge(older_than_days)`` keeps the public record whole and removes whatever could
identify a person once feedback is older than ENGAGE_RETENTION_DAYS (730 by default).

For every feedback item submitted before the cutoff it
- clears ``author_name``, ``author_email``, ``subject`` and ``attachment_names``;
- clears staff's English ``translation`` (issue 24: it repeats the whole text), and an
  item whose text is gone no longer "needs translation";
- replaces the original ``text`` by the staff's redacted copy when there is one, else by
  PLACEHOLDER (the redacted copy itself is kept: staff made it to be quotable);
- replaces a Message-ID by a SHA-256 of it (``msgid-sha256:…``): a Message-ID can carry
  a sender's name, address or machine name, but the hash still lets a corrected mail
  import recognise the message (see ``hashed_message_id``); ids that are already a hash
  of the message (``sha256:…``, made when a message had no Message-ID) are kept;
- clears ``area`` unless it is a borough on some engagement's list (a typed-in area
  could be an address; the borough level is what the open data publishes);
- turns off ``contact_me`` and ``ack_pending`` (there is no address left to write to);
- deletes the item's internal staff notes, which often repeat personal details;
- marks an item that was never classified and lost its text as processed, so the
  worker never tags the placeholder (which would change the published counts);
- replaces a campaign group's sample text when it was one of these items' text.

It keeps the item row, its reference, engagement, channel, date, status, themes (model
and staff tags), borough, consent flag, duplicate group and links to responses, so the
anonymised counts (open data, dashboards) and published responses do not change.

It also deletes outbox messages (sent or not) created before the cutoff, the comments
left with "Does this answer your concern?" answers given before it (the yes/no stays
counted), and alert subscriptions that were unsubscribed, or never confirmed, before it.

The audit log is append-only and is not touched. On SQLite the purge runs with
``secure_delete`` (freed space is zeroed) and merges the full-text index, which would
otherwise keep the removed words; on PostgreSQL old row versions and index entries go
at the next (auto)VACUUM.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update

from engage import audit
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import tally
from engage.feedback.models import (
    PLACEHOLDER,
    DuplicateGroup,
    FeedbackItem,
    hashed_message_id,
)
from engage.outbox.models import OutboxMessage
from engage.publish.models import AlertSubscription, ResponseVote
from engage.staff.models import ItemNote
from engage.util import utcnow

DEFAULT_DAYS = 730
# Items per transaction: at 1,000,000 items on PostgreSQL a batch of 500 held its rows'
# locks for 0.16 s typically and 1.55 s at worst on a loaded machine (bench growth,
# issue 25); 250 keeps the worst case near half a second.
BATCH = 250

# What the purge reads of an item: plain rows, not ORM objects (a third of a batch's
# time went in building 500 objects that are only read).
_READ = (
    FeedbackItem.id,
    FeedbackItem.engagement_id,
    FeedbackItem.submitted_at,
    FeedbackItem.status,
    FeedbackItem.text,
    FeedbackItem.redacted_text,
    FeedbackItem.author_name,
    FeedbackItem.author_email,
    FeedbackItem.subject,
    FeedbackItem.attachment_names,
    FeedbackItem.contact_me,
    FeedbackItem.ack_pending,
    FeedbackItem.submission_key,
    FeedbackItem.translation,
    FeedbackItem.message_id,
    FeedbackItem.area,
    FeedbackItem.classified_at,
    FeedbackItem.needs_translation,
    FeedbackItem.duplicate_group_id,
)


@dataclass
class PurgeResult:
    """What a purge removed, or would remove with ``dry_run``."""

    older_than_days: int
    cutoff: datetime
    dry_run: bool
    items: int = 0
    notes: int = 0
    vote_comments: int = 0
    outbox_messages: int = 0
    alert_subscriptions: int = 0
    campaign_samples: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cutoff"] = self.cutoff.replace(microsecond=0).isoformat() + "Z"
        return data


def cutoff_for(days: int, *, now: datetime | None = None) -> datetime:
    """The moment before which feedback is purged (naive UTC, like every stored time)."""
    if days < 1:
        raise ValueError("The retention period must be at least 1 day")
    return (now or utcnow()) - timedelta(days=days)


def purge(
    older_than_days: int, *, dry_run: bool = False, now: datetime | None = None
) -> PurgeResult:
    """Remove personal details older than ``older_than_days``; return a PurgeResult.

    With ``dry_run`` nothing is changed and nothing is recorded; the counts say what
    a real run would do. A real run commits batch by batch (running it again after an
    interruption finishes the job) and adds a ``retention.purge`` audit entry.
    """
    cutoff = cutoff_for(older_than_days, now=now)
    result = PurgeResult(older_than_days=older_than_days, cutoff=cutoff, dry_run=dry_run)
    boroughs = _known_areas()
    secure = _SecureDelete()

    last_id = 0
    while True:
        batch = (
            select(*_READ)
            .where(FeedbackItem.submitted_at < cutoff, FeedbackItem.id > last_id)
            .order_by(FeedbackItem.id)
            .limit(BATCH)
        )
        if not dry_run:
            # Locked until the batch commits: no other writer changes them in between.
            batch = batch.with_for_update(of=FeedbackItem)
        if not dry_run:
            _commit_without_waiting()
        items = db.session.execute(batch).all()
        if not items:
            db.session.rollback()
            break
        last_id = items[-1].id
        if not dry_run:
            secure.on()
        ids = [item.id for item in items]
        noted = dict(
            db.session.execute(
                select(ItemNote.item_id, func.count(ItemNote.id))
                .where(ItemNote.item_id.in_(ids))
                .group_by(ItemNote.item_id)
            ).all()
        )
        changed_texts: dict[str, str] = {}
        groups: set[int] = set()
        scrubbed: list[dict[str, Any]] = []
        for item in items:
            if not _holds_personal_data(item, boroughs) and not noted.get(item.id):
                continue
            result.items += 1
            result.notes += noted.get(item.id, 0)
            if item.text != _new_text(item):
                changed_texts[item.text] = _new_text(item)
            if item.duplicate_group_id is not None:
                groups.add(item.duplicate_group_id)
            if not dry_run:
                scrubbed.append(_scrubbed(item, boroughs))
        if scrubbed:
            # A typed-in area goes: the dashboard's counts by area move with it.
            tally.apply(_areas_moved(items, scrubbed))
            # One executemany for the batch (an UPDATE per item, by primary key): the
            # objects changed one by one were flushed one statement at a time, a round
            # trip per item (bench growth: 270 items/s against 1,060 on PostgreSQL).
            db.session.execute(update(FeedbackItem), scrubbed)
        result.campaign_samples += _replace_samples(groups, changed_texts, apply=not dry_run)
        if not dry_run:
            if noted:
                db.session.execute(delete(ItemNote).where(ItemNote.item_id.in_(list(noted))))
            db.session.flush()
            secure.restore()
            db.session.commit()

    old_votes = (ResponseVote.created_at < cutoff) & ResponseVote.comment.is_not(None)
    old_outbox = OutboxMessage.created_at < cutoff
    stale_alerts = or_(
        AlertSubscription.unsubscribed_at < cutoff,
        AlertSubscription.confirmed_at.is_(None) & (AlertSubscription.created_at < cutoff),
    )
    result.vote_comments = _count(ResponseVote, old_votes)
    result.outbox_messages = _count(OutboxMessage, old_outbox)
    result.alert_subscriptions = _count(AlertSubscription, stale_alerts)
    if dry_run:
        return result

    secure.on()
    db.session.execute(update(ResponseVote).where(old_votes).values(comment=None))
    db.session.execute(delete(OutboxMessage).where(old_outbox))
    db.session.execute(delete(AlertSubscription).where(stale_alerts))
    if result.items:
        _compact_search_index()
    db.session.flush()
    secure.restore()
    audit.record("retention.purge", detail=result.as_dict())
    db.session.commit()
    return result


def _areas_moved(items, scrubbed: list[dict[str, Any]]) -> tally.Delta:
    """What the purge's change of areas takes from and adds to the counts by area (the
    rows are locked, so the items' other counted columns are the ones stored)."""
    delta: tally.Delta = {}
    by_id = {item.id: item for item in items}
    for row in scrubbed:
        item = by_id[row["id"]]
        if (row["area"] or "") == (item.area or ""):
            continue
        counts = tally.vector(item.status)
        key = (item.engagement_id or 0, item.submitted_at.date())
        for area, sign in ((item.area or "", -1), (row["area"] or "", 1)):
            total = delta.setdefault((tally.AREA, *key, area), [0, 0, 0, 0])
            for i, value in enumerate(counts):
                total[i] += sign * value
    return delta


def _commit_without_waiting() -> None:
    """On PostgreSQL, let this transaction's commit return before its WAL is on disk.

    Safe for the purge alone: a crash can lose only the last batches' commits, and
    running the purge again redoes them (it changes only what still holds personal
    data). Each of its ~3,000 commits at 1,000,000 items no longer waits on the disk.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit = off"))


def _count(model, condition) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(condition)) or 0


def _known_areas() -> frozenset[str]:
    """Every borough on some engagement's list: the level the public counts use."""
    areas: set[str] = set()
    for listed in db.session.scalars(select(Engagement.areas)):
        areas.update(a for a in (listed or []) if isinstance(a, str))
    return frozenset(areas)


def _new_text(item) -> str:
    redacted = (item.redacted_text or "").strip()
    return redacted or PLACEHOLDER


def _holds_personal_data(item, boroughs: frozenset[str]) -> bool:
    """True while the item still has something purge() would remove."""
    return bool(
        item.author_name is not None
        or item.author_email is not None
        or item.subject is not None
        or item.attachment_names
        or item.contact_me
        or item.ack_pending
        or item.submission_key is not None
        or item.text != _new_text(item)
        or item.translation is not None  # issue 24
        or (item.message_id is not None and hashed_message_id(item.message_id) != item.message_id)
        or (item.area is not None and item.area not in boroughs)
        or (item.classified_at is None and _new_text(item) == PLACEHOLDER)
    )


def _scrubbed(item, boroughs: frozenset[str]) -> dict[str, Any]:
    """The item's row after the purge, as the values of an UPDATE by its id.

    Every item gets the same keys, so a batch is written as one executemany.
    """
    text_now = _new_text(item)
    classified_at = item.classified_at
    if classified_at is None and text_now == PLACEHOLDER:
        # Nothing left to classify: without this the worker would tag the placeholder
        # and change the published counts. Any themes staff set are kept.
        classified_at = utcnow()
    return {
        "id": item.id,
        "author_name": None,
        "author_email": None,
        "subject": None,
        "attachment_names": None,
        "contact_me": False,
        "ack_pending": False,
        "submission_key": None,  # a hash of the text and the sender's session
        "text": text_now,
        "message_id": (hashed_message_id(item.message_id) if item.message_id is not None else None),
        "area": item.area if item.area is None or item.area in boroughs else None,
        "classified_at": classified_at,
        "translation": None,  # issue 24: a translation repeats the whole text
        # An item whose text is gone has nothing left to translate.
        "needs_translation": item.needs_translation and text_now != PLACEHOLDER,
    }


def _compact_search_index() -> None:
    """SQLite's FTS5 keeps a deleted text's words until its segments are merged: merge."""
    if db.session.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's GIN index drops dead entries at VACUUM
    exists = db.session.scalar(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feedback_fts'")
    )
    if exists:
        db.session.execute(text("INSERT INTO feedback_fts(feedback_fts) VALUES ('optimize')"))


def _replace_samples(group_ids: set[int], changed_texts: dict[str, str], *, apply: bool) -> int:
    """A campaign group shows one member's text: replace it if that text was purged."""
    if not group_ids or not changed_texts:
        return 0
    replaced = 0
    for group in db.session.scalars(select(DuplicateGroup).where(DuplicateGroup.id.in_(group_ids))):
        if group.sample_text in changed_texts:
            if apply:
                group.sample_text = changed_texts[group.sample_text]
            replaced += 1
    return replaced


class _SecureDelete:
    """On SQLite, zero the space freed by the purge (PRAGMA secure_delete) while it runs."""

    def __init__(self) -> None:
        self.previous: int | None = None

    def on(self) -> None:
        if db.session.get_bind().dialect.name != "sqlite":
            return
        self.previous = db.session.execute(text("PRAGMA secure_delete")).scalar()
        db.session.execute(text("PRAGMA secure_delete = 1"))

    def restore(self) -> None:
        if self.previous is None:
            return
        restore = "PRAGMA secure_delete = 1" if self.previous else "PRAGMA secure_delete = 0"
        db.session.execute(text(restore))
        self.previous = None
