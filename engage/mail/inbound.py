"""Turn inbound email into feedback items: one message at a time, whatever its source.

Every way in (mailbox import, IMAP polling, the webhook) calls ingest(), which ends in
feedback.service.submit(). One bad message never stops a batch: it is counted as
rejected with its reason logged.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import retention
from engage.feedback import service as feedback
from engage.feedback.models import Channel, FeedbackItem
from engage.mail import parsing

log = logging.getLogger(__name__)

IMPORTED, DUPLICATE, AUTO_REPLY, REJECTED = "imported", "duplicates", "auto_replies", "rejected"
_TRUNCATED = "\n\n[The rest of this message was longer than we can store.]"


@dataclass
class Outcome:
    """What happened to one message."""

    result: str
    reference: str | None = None
    reason: str | None = None


@dataclass
class Summary:
    """Counts for a batch, in the shape `engage import-mail --json` prints."""

    counts: Counter = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.result] += 1

    def as_dict(self) -> dict[str, int]:
        return {key: self.counts[key] for key in (IMPORTED, DUPLICATE, AUTO_REPLY, REJECTED)}


def _limits() -> parsing.ParseLimits:
    config = current_app.config
    return parsing.ParseLimits(
        max_bytes=config.get("INBOUND_MAX_BYTES", 10 * 1024 * 1024),
        max_parts=config.get("INBOUND_MAX_PARTS", 100),
        max_depth=config.get("INBOUND_MAX_DEPTH", 10),
    )


def _own_addresses() -> frozenset[str]:
    config = current_app.config
    addresses = {config["MAIL_DEFAULT_SENDER"], config["ENGAGE_FEEDBACK_ADDRESS"]}
    return frozenset(a.rpartition("<")[2].rstrip(">").strip().lower() for a in addresses if a)


def _choose_engagement(message: parsing.ParsedMessage) -> str | None:
    """Plus-address, then an engagement's own address, then its title in the subject."""
    engagements = list(db.session.scalars(select(Engagement)))
    mapping = {e.email_address.lower(): e.slug for e in engagements if e.email_address}
    slug = parsing.engagement_hint(message, mapping=mapping)
    known = {e.slug for e in engagements}
    if slug in known:
        return slug
    subject = (message.subject or "").lower()
    for engagement in sorted(engagements, key=lambda e: -len(e.title)):
        if engagement.title.lower() in subject or engagement.slug in subject:
            return engagement.slug
    return None


def ingest(raw: bytes, *, channel: Channel = Channel.EMAIL, source: str = "") -> Outcome:
    """Store one raw RFC 822 message as feedback, or say why not. Never raises."""
    try:
        return _ingest(raw, channel)
    except parsing.RejectedMessage as rejected:
        log.warning("rejected %s: %s", source or "message", rejected.reason)
        return Outcome(REJECTED, reason=rejected.reason)
    except Exception as error:  # one bad message must never stop a batch
        db.session.rollback()
        log.exception("could not import %s", source or "message")
        return Outcome(REJECTED, reason=f"{type(error).__name__}: {error}"[:300])


def _ingest(raw: bytes, channel: Channel) -> Outcome:
    message = parsing.parse_message(raw, limits=_limits(), own_addresses=_own_addresses())
    if message.kind in ("auto_reply", "bounce", "own"):
        return Outcome(AUTO_REPLY, reason=message.kind)
    # A purged item keeps only a hash of its Message-ID: match either form.
    known_ids = {message.message_id, retention.hashed_message_id(message.message_id)}
    existing = db.session.scalar(
        select(FeedbackItem.reference).where(FeedbackItem.message_id.in_(known_ids)).limit(1)
    )
    if existing:
        return Outcome(DUPLICATE, reference=existing)
    text = message.text or ""
    if len(text) > feedback.MAX_TEXT:
        text = text[: feedback.MAX_TEXT - len(_TRUNCATED)] + _TRUNCATED
    if len(feedback.clean_text(text)) < feedback.MIN_TEXT and message.subject:
        text = f"{message.subject}\n\n{text}".strip()
    email = message.sender_email or None
    try:
        feedback.clean_line(email, limit=254)
        if email:
            feedback.validate_email_address(email)
    except ValueError:
        email = None
    submitted_at = None
    if message.date is not None:
        date = message.date
        submitted_at = (date.astimezone(UTC) if date.tzinfo else date).replace(tzinfo=None)
    submission = feedback.Submission(
        text=text,
        channel=channel,
        engagement_slug=_choose_engagement(message),
        author_name=(message.sender_name or None),
        author_email=email,
        subject=message.subject,
        submitted_at=submitted_at,
        # Never acknowledge bulk mail: it would answer a mailing list.
        acknowledge=message.kind == "genuine",
        extra={
            "message_id": message.message_id,
            "attachment_names": list(message.attachment_names) or None,
        },
    )
    try:
        try:
            item = feedback.submit(submission)
        except feedback.InvalidSubmission as invalid:
            if set(invalid.errors) != {"author_name"}:
                raise
            # A display name we cannot keep is no reason to lose the message.
            item = feedback.submit(replace(submission, author_name=None))
    except feedback.InvalidSubmission as invalid:
        return Outcome(REJECTED, reason="; ".join(invalid.errors.values()))
    except IntegrityError:  # the same Message-ID committed by a concurrent import
        db.session.rollback()
        return Outcome(DUPLICATE)
    return Outcome(IMPORTED, reference=item.reference)


def ingest_many(messages: Iterable[tuple[str, bytes]], *, channel: Channel) -> Summary:
    """Ingest (source, raw) pairs and count the outcomes."""
    summary = Summary()
    for source, raw in messages:
        summary.add(ingest(raw, channel=channel, source=source))
    return summary
