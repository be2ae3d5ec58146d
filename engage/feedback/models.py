"""Feedback items, themes and the theme tags that link them."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage import pagecache
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.themes import percent
from engage.util import db_enum, utcnow

_Tag = TypeVar("_Tag")

# What engage.retention.purge leaves in place of a removed text (the classifier skips it).
PLACEHOLDER = "[removed under the retention policy]"
_HASH_PREFIX = "msgid-sha256:"
_CONTENT_HASH_PREFIX = "sha256:"  # engage.mail.parsing's id for messages without one


class Channel(enum.StrEnum):
    """How a feedback item reached us."""

    WEB = "web"
    EMAIL = "email"
    API = "api"
    IMPORT = "import"
    PHONE = "phone"
    LETTER = "letter"
    MEETING = "meeting"

    @property
    def label(self) -> str:
        """How staff pages and exports name the channel ("Partner API", not "Api")."""
        return _CHANNEL_LABELS[self]


_CHANNEL_LABELS = {
    Channel.WEB: "Web form",
    Channel.EMAIL: "Email",
    Channel.API: "Partner API",
    Channel.IMPORT: "Imported mail",
    Channel.PHONE: "Phone",
    Channel.LETTER: "Letter",
    Channel.MEETING: "Meeting",
}


class Status(enum.StrEnum):
    """Where a feedback item is in the engagement team's workflow."""

    NEW = "new"
    TRIAGED = "triaged"
    RESPONDED = "responded"
    ARCHIVED = "archived"
    SPAM = "spam"
    DUPLICATE = "duplicate"


# What residents see for each status when they track their feedback.
STATUS_LABELS = {
    Status.NEW: "Received",
    Status.TRIAGED: "Read and tagged by the engagement team",
    Status.RESPONDED: "Responded to in public",
    Status.ARCHIVED: "Read and closed",
    Status.SPAM: "Read and closed",
    Status.DUPLICATE: "Grouped with similar feedback",
}


class TagSource(enum.StrEnum):
    """Who put a theme on an item."""

    MODEL = "model"
    STAFF = "staff"


class Theme(db.Model):
    """A theme of the labelling guide (docs/themes.md)."""

    __tablename__ = "theme"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<Theme {self.slug}>"


class FeedbackItem(db.Model):
    """One piece of feedback from one person, whichever way it arrived."""

    __tablename__ = "feedback_item"
    __table_args__ = (
        # Also serves a lookup by engagement alone (its leading column): migration 0019
        # dropped the single-column indexes on engagement_id and on status, which led
        # this one and ix_feedback_item_inbox_status (issue 25: every index is written
        # again for each row the purge rewrites and each row an import inserts).
        Index("ix_feedback_item_engagement_submitted", "engagement_id", "submitted_at"),
        # The staff inbox: newest first within an engagement and status, or a status;
        # themes_reviewed_at lets "unclassified" be checked in the index.
        Index(
            "ix_feedback_item_inbox_engagement",
            "engagement_id",
            "status",
            "submitted_at",
            "themes_reviewed_at",
        ),
        Index("ix_feedback_item_inbox_status", "status", "submitted_at", "themes_reviewed_at"),
        # The inbox's list of areas: one index seek per area. Partial (0019), like the
        # indexes below: rows without a value (most rows, for the columns that are
        # mostly empty) get no entry, and every query that uses them names a value.
        Index(
            "ix_feedback_item_area",
            "area",
            postgresql_where=sql_text("area IS NOT NULL"),
            sqlite_where=sql_text("area IS NOT NULL"),
        ),
        # The web form's double-submit check: one index seek (see service.submit()).
        Index(
            "ix_feedback_item_submission_key",
            "submission_key",
            unique=True,
            postgresql_where=sql_text("submission_key IS NOT NULL"),
            sqlite_where=sql_text("submission_key IS NOT NULL"),
        ),
        # Campaign groups' members (migration 0022): the staff campaigns page counts each
        # listed group's members by status and reads their id and themes_reviewed_at to
        # probe their current tags; with status in the key and, on PostgreSQL, the other
        # two included, that is read from the index alone instead of one heap page per
        # member (members of a large campaign are scattered through the table).
        Index(
            "ix_feedback_item_duplicate_group",
            "duplicate_group_id",
            "status",
            postgresql_include=["id", "themes_reviewed_at"],
            postgresql_where=sql_text("duplicate_group_id IS NOT NULL"),
            sqlite_where=sql_text("duplicate_group_id IS NOT NULL"),
        ),
        # The worker's sweeps, oldest first: items owed an acknowledgement, items no
        # model has classified. A few rows at any time, out of all of them.
        Index(
            "ix_feedback_item_ack_owed",
            "id",
            postgresql_where=sql_text("ack_pending"),
            sqlite_where=sql_text("ack_pending = 1"),
        ),
        Index(
            "ix_feedback_item_unclassified",
            "id",
            postgresql_where=sql_text("classified_at IS NULL"),
            sqlite_where=sql_text("classified_at IS NULL"),
        ),
        # Issue 24: the inbox reads the items waiting for a translation first.
        Index(
            "ix_feedback_item_needs_translation",
            "submitted_at",
            "id",
            postgresql_where=sql_text("needs_translation"),
            sqlite_where=sql_text("needs_translation = 1"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    engagement_id: Mapped[int | None] = mapped_column(
        ForeignKey("engagement.id", ondelete="SET NULL")
    )
    channel: Mapped[Channel] = mapped_column(db_enum(Channel, "channel"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    text: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(500))
    author_name: Mapped[str | None] = mapped_column(String(200))
    author_email: Mapped[str | None] = mapped_column(String(254))
    area: Mapped[str | None] = mapped_column(String(120))
    consent_to_quote: Mapped[bool] = mapped_column(default=False)
    contact_me: Mapped[bool] = mapped_column(default=False)
    status: Mapped[Status] = mapped_column(db_enum(Status, "status"), default=Status.NEW)
    # An acknowledgement email is owed and not yet queued in the outbox.
    ack_pending: Mapped[bool] = mapped_column(default=False)
    classified_at: Mapped[datetime | None]
    model_version: Mapped[str | None] = mapped_column(String(40))
    # Lowest margin between a theme's probability and its threshold: small = uncertain.
    # It orders the inbox's "least certain first" and is never shown (staff see percents).
    certainty: Mapped[float | None] = mapped_column(Float)
    # Emailed feedback: the Message-ID (or a stable hash) makes imports idempotent.
    message_id: Mapped[str | None] = mapped_column(String(300), unique=True)
    # Languages (issue 24): ``language`` is the language the text was detected in (an
    # ISO 639-1 code such as "pl"; None until detected) and ``ui_locale`` the language of
    # the interface the resident used when sending it (None for email and imports).
    # Either may choose the language of the acknowledgement.
    language: Mapped[str | None] = mapped_column(String(12), index=True)
    ui_locale: Mapped[str | None] = mapped_column(String(12))
    # Issue 24 (engage.staff.translation): staff's English translation of an item not
    # in English, kept beside the original ``text``; ``needs_translation`` is set by the
    # classification job when the language is not English and there is no translation.
    translation: Mapped[str | None] = mapped_column(Text)
    translated_at: Mapped[datetime | None]
    translated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    needs_translation: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Names of attachments we did not keep.
    attachment_names: Mapped[list[str] | None] = mapped_column(JSON)
    # Web form: a hash of the browser session and what was sent, so a post sent twice
    # within DOUBLE_SUBMIT_WINDOW is stored once (service.form_submission_key()).
    submission_key: Mapped[str | None] = mapped_column(String(64))
    # Set when staff have confirmed the item's themes (perhaps as "none of these"):
    # from then on its staff tags are its themes and a training label.
    themes_reviewed_at: Mapped[datetime | None]
    themes_reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    # True when staff's last theme decision covered the whole item (the item page, a
    # campaign group), False after a bulk "add/remove a theme" that decided one theme
    # (engage.classify.agreement counts only whole decisions).
    themes_reviewed_whole: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Staff who typed in feedback received by phone, letter or at a meeting.
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    # The copy that may be quoted in public: personal details removed by staff.
    redacted_text: Mapped[str | None] = mapped_column(Text)
    redacted_at: Mapped[datetime | None]
    redacted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    # Campaign and copy-paste duplicates share a group.
    duplicate_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("duplicate_group.id", ondelete="SET NULL")
    )

    engagement: Mapped[Engagement | None] = relationship()
    duplicate_group: Mapped[DuplicateGroup | None] = relationship(back_populates="items")
    tags: Mapped[list[ThemeTag]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="ThemeTag.id"
    )

    @property
    def purged(self) -> bool:
        """Whether the retention purge replaced the text (engage.retention)."""
        return self.text == PLACEHOLDER

    def themes(self) -> list[Theme]:
        """The item's current themes: staff tags once staff have tagged or reviewed it,
        else the model's."""
        return [t.theme for t in current_of(self.tags, reviewed=self.themes_reviewed_at)]

    def theme_labels(self) -> tuple[tuple[str, int | None], ...]:
        """(name, percent) of each current theme: the model's probability as a whole
        percent for a theme the model set, None for one staff set."""
        return tuple(
            (t.theme.name, percent(t.confidence) if t.source == TagSource.MODEL else None)
            for t in current_of(self.tags, reviewed=self.themes_reviewed_at)
        )

    def __repr__(self) -> str:
        return f"<FeedbackItem {self.reference}>"


def current_of(tags: Iterable[_Tag], *, reviewed: datetime | None) -> list[_Tag]:
    """The current ones of an item's tags (anything with a ``source``), in their order:
    its staff tags once staff have tagged or reviewed the item, else the model's.

    The rule in Python; ``feedback.queries.is_current`` states it in SQL."""
    tags = list(tags)
    staff = [t for t in tags if t.source == TagSource.STAFF]
    if staff or reviewed is not None:
        return staff
    return [t for t in tags if t.source == TagSource.MODEL]


class DuplicateGroup(db.Model):
    """Near-identical texts (template letters, copy-paste campaigns) sent by many people."""

    __tablename__ = "duplicate_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int | None] = mapped_column(
        ForeignKey("engagement.id", ondelete="CASCADE"), index=True
    )
    size: Mapped[int] = mapped_column(default=0)
    sample_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    engagement: Mapped[Engagement | None] = relationship()
    items: Mapped[list[FeedbackItem]] = relationship(
        back_populates="duplicate_group", order_by="FeedbackItem.submitted_at"
    )


class ThemeTag(db.Model):
    """A theme put on an item by the model (with confidence) or by staff."""

    __tablename__ = "theme_tag"
    __table_args__ = (UniqueConstraint("item_id", "theme_id", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_item.id", ondelete="CASCADE"), index=True
    )
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id", ondelete="CASCADE"), index=True)
    source: Mapped[TagSource] = mapped_column(db_enum(TagSource, "tag_source"))
    confidence: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[FeedbackItem] = relationship(back_populates="tags")
    theme: Mapped[Theme] = relationship(lazy="joined")


class FeedbackTally(db.Model):
    """Feedback counted per engagement, day, kind and key (issue 25): the figures of the
    dashboard and the engagement page are sums of these rows, not counts of items.

    ``kind`` says what ``key`` is: "all" (key ""), "channel" (its value), "area" (as
    typed, "" for none), "theme" (the id of one of the items' current themes),
    "unthemed" (key "": items with no current theme) or "group" (a duplicate group's
    id). ``n`` counts the items of any status, ``spam``, ``duplicate`` and
    ``responded`` those of that status. ``engagement_key`` is the engagement's id, 0
    for items without one. Kept exact by ``engage.feedback.tally`` in the transaction
    of every write that changes what an item contributes.
    """

    __tablename__ = "feedback_tally"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    engagement_key: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
    spam: Mapped[int] = mapped_column(default=0)
    duplicate: Mapped[int] = mapped_column(default=0)
    responded: Mapped[int] = mapped_column(default=0)


class ApiPartner(db.Model):
    """A partner organisation allowed to submit feedback through the JSON API."""

    __tablename__ = "api_partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # SHA-256 of the token: the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class IdempotencyKey(db.Model):
    """A partner's ``Idempotency-Key`` and the references its request stored.

    Written in the same transaction as the feedback, so the key exists exactly when the
    feedback does; a retry with the same key and body is answered from here.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("partner_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("api_partner.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the request body (canonical JSON): the same key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    item_references: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


def hashed_message_id(message_id: str) -> str:
    """The form a purged item keeps its Message-ID in (unchanged if already a hash)."""
    if message_id.startswith((_HASH_PREFIX, _CONTENT_HASH_PREFIX)):
        return message_id
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()
    return _HASH_PREFIX + digest


# Public pages show themes, and feedback items as counts, which change with an item's
# status (spam is left out) or engagement, and as quotes: the redacted copy of an item
# whose author agreed to be quoted, so a corrected redaction (a name that was missed)
# shows at once. New feedback does not move the public version: pages that count it
# are kept at most ENGAGE_FIGURES_MAX_AGE seconds.
pagecache.shown(Theme)
pagecache.shown_attributes(
    FeedbackItem, "status", "engagement_id", "redacted_text", "consent_to_quote"
)
