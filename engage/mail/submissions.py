"""A parsed email as a feedback submission: its engagement, its text, its sender.

What engage.mail.inbound needs to turn a ParsedMessage into a checked submission, or
into a RejectedMessage worded for an email: the parsing limits and this platform's own
addresses from the configuration, the engagement a message is for (plus-address, an
engagement's own address, then its title in the subject), the text kept (with the
subject when the body is very short, marked where a limit cut it), and which messages
are stored already (by Message-ID, in either the stored or the purged form).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import queries as feedback_queries
from engage.feedback import service as feedback
from engage.feedback import validation
from engage.feedback.models import Channel, FeedbackItem, hashed_message_id
from engage.mail import parsing
from engage.util import utcnow

# Added to the text of a message cut to the longest text an item may hold.
_TRUNCATED = "\n\n[The rest of this message was longer than we can store.]"
# Added to the text of a message over a MIME limit (too many parts, nested too deeply).
_UNREAD = "\n\n[Part of this email was not read: {reason}.]"


def parse_limits() -> parsing.ParseLimits:
    config = current_app.config
    return parsing.ParseLimits(
        max_bytes=config.get("INBOUND_MAX_BYTES", 10 * 1024 * 1024),
        max_parts=config.get("INBOUND_MAX_PARTS", 100),
        max_depth=config.get("INBOUND_MAX_DEPTH", 10),
    )


def own_addresses() -> frozenset[str]:
    config = current_app.config
    addresses = {
        config["MAIL_DEFAULT_SENDER"],
        config["ENGAGE_FEEDBACK_ADDRESS"],
        config.get("MAIL_NOREPLY_SENDER", ""),
    }
    return frozenset(a.rpartition("<")[2].rstrip(">").strip().lower() for a in addresses if a)


class Engagements:
    """Every engagement, read in one query, to route many messages without one each
    (a message whose subject quotes a reference costs one more: earlier_items)."""

    def __init__(self) -> None:
        rows = db.session.execute(
            select(Engagement.id, Engagement.slug, Engagement.title, Engagement.email_address)
        ).all()
        self.ids = {row.slug: row.id for row in rows}
        self.addresses = {row.email_address.lower(): row.slug for row in rows if row.email_address}
        self.titles = [
            (row.title.lower(), row.slug) for row in sorted(rows, key=lambda r: -len(r.title))
        ]

    def choose(self, message: parsing.ParsedMessage) -> str | None:
        """Plus-address, then an engagement's own address, then the engagement of the
        sender's earlier feedback whose reference the subject quotes (a reply to its
        acknowledgement), then an engagement's title in the subject."""
        slug = parsing.engagement_hint(message, mapping=self.addresses)
        if slug in self.ids:
            return slug
        for earlier in feedback_queries.earlier_items(message.subject, message.sender_email):
            if earlier.engagement is not None:
                return earlier.engagement.slug
        subject = (message.subject or "").lower()
        for title, slug in self.titles:
            if title in subject or slug in subject:
                return slug
        return None


def _text(message: parsing.ParsedMessage) -> str:
    """The item's text: the sender's words (with the subject when they are very short),
    marked where a limit cut them; RejectedMessage, worded for an email, when there is
    too little to record."""
    text = message.text or ""
    if len(validation.clean_text(text)) < validation.MIN_TEXT and message.subject:
        text = f"{message.subject}\n\n{text}".strip()
    length = len(validation.clean_text(text))
    if length < validation.MIN_TEXT:
        if message.attachment_names and not (message.text or "").strip():
            names = ", ".join(message.attachment_names[:5])
            raise parsing.RejectedMessage(
                f"the email has no text to record, only attachments ({names}), which are not kept"
            )
        if not length:
            raise parsing.RejectedMessage("the email has no text to record (no body or subject)")
        raise parsing.RejectedMessage(
            f"the email's text is too short to record ({length} characters with the subject; "
            f"at least {validation.MIN_TEXT} are needed)"
        )
    note = _UNREAD.format(reason=message.truncated) if message.truncated else ""
    if len(text) + len(note) > validation.MAX_TEXT:
        text = text[: validation.MAX_TEXT - len(_TRUNCATED) - len(note)] + _TRUNCATED
    return text + note


def email_reason(errors: dict[str, str]) -> str:
    """A validation failure worded for an email rather than for the web form."""
    if "text" in errors:
        return f"the email's text cannot be stored: {errors['text'][:200]}"
    fields = ", ".join(name.replace("_", " ") for name in errors)
    return f"the email cannot be stored ({fields}: {'; '.join(errors.values())[:200]})"


def submission_of(
    message: parsing.ParsedMessage,
    channel: Channel,
    engagements: Engagements,
) -> feedback.Submission:
    """The submission a parsed message becomes (RejectedMessage if it has no text).

    A sender address that is not valid is left out (the message is kept): by the
    caller, when validate() objects to it.
    """
    text = _text(message)
    email = message.sender_email or None
    try:
        validation.clean_line(email, limit=254)
    except ValueError:
        email = None
    return feedback.Submission(
        text=text,
        channel=channel,
        engagement_slug=engagements.choose(message),
        author_name=(message.sender_name or None),
        author_email=email,
        subject=message.subject,
        submitted_at=sent_at(message),
        # Never acknowledge bulk mail (it would answer a mailing list), nor a mail
        # system's own address, which no one reads.
        acknowledge=message.kind == "genuine" and not _mail_system(email),
        extra={
            "message_id": message.message_id,
            "attachment_names": list(message.attachment_names) or None,
        },
    )


# A Date header is whatever the sender's machine wrote: a clock years out, or the epoch.
# Dated in 2099 an item would top the inbox for ever and never be purged; dated 1970 the
# next purge (ENGAGE_RETENTION_DAYS) would strip it before anyone read it. Outside this
# window the time it reached us stands in (storing's default).
EARLIEST_SENT = datetime(2000, 1, 1)
CLOCK_SKEW = timedelta(days=1)


def sent_at(message: parsing.ParsedMessage) -> datetime | None:
    """The message's Date header as naive UTC, or None when it has none or it is not
    plausible (before EARLIEST_SENT, or later than now by more than CLOCK_SKEW)."""
    if message.date is None:
        return None
    date = message.date
    date = (date.astimezone(UTC) if date.tzinfo else date).replace(tzinfo=None)
    if date < EARLIEST_SENT or date > utcnow() + CLOCK_SKEW:
        return None
    return date


def _mail_system(address: str | None) -> bool:
    return bool(address) and address.partition("@")[0].lower() == "mailer-daemon"


def identities_of(message: parsing.ParsedMessage) -> tuple[str, ...]:
    """Every identity the message may be stored under: its own and any legacy ones."""
    return (message.message_id, *message.legacy_ids)


def stored_references(message_ids: Iterable[str]) -> dict[str, str]:
    """Stored Message-ID -> reference for these IDs, in either form (one query).

    A purged item keeps only a hash of its Message-ID, so both forms are looked up.
    """
    wanted = set()
    for message_id in message_ids:
        wanted.add(message_id)
        wanted.add(hashed_message_id(message_id))
    if not wanted:
        return {}
    rows = db.session.execute(
        select(FeedbackItem.message_id, FeedbackItem.reference).where(
            FeedbackItem.message_id.in_(wanted)
        )
    )
    return {message_id: reference for message_id, reference in rows}


def reference_of(message_ids: Iterable[str], known: dict[str, str]) -> str | None:
    for message_id in message_ids:
        found = known.get(message_id) or known.get(hashed_message_id(message_id))
        if found:
            return found
    return None
