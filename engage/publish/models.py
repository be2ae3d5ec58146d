"""Public responses ("You said, we did"), their history, votes and email alerts."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage import pagecache
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import queries as feedback_queries
from engage.feedback.models import FeedbackItem, Theme
from engage.i18n import _, translate
from engage.util import db_enum, utcnow


class ResponseStatus(enum.StrEnum):
    """What is happening about the concern a response answers."""

    UNDER_CONSIDERATION = "under-consideration"
    PLANNED = "planned"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    NOT_TAKEN_FORWARD = "not-taken-forward"


# The public's wording for each status.
RESPONSE_STATUS_LABELS = {
    ResponseStatus.UNDER_CONSIDERATION: "Under consideration",
    ResponseStatus.PLANNED: "Planned",
    ResponseStatus.IN_PROGRESS: "In progress",
    ResponseStatus.DONE: "Done",
    ResponseStatus.NOT_TAKEN_FORWARD: "Not taken forward",
}


class ResponseState(enum.StrEnum):
    """Whether the public can see a response."""

    DRAFT = "draft"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"


class RevisionKind(enum.StrEnum):
    """What happened to a response at one point in its history."""

    CREATED = "created"
    EDITED = "edited"
    PUBLISHED = "published"
    STATUS = "status"
    UNPUBLISHED = "unpublished"


response_theme = Table(
    "response_theme",
    db.metadata,
    Column("response_id", ForeignKey("response.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_id", ForeignKey("theme.id", ondelete="CASCADE"), primary_key=True, index=True),
)

response_item = Table(
    "response_item",
    db.metadata,
    Column("response_id", ForeignKey("response.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "item_id", ForeignKey("feedback_item.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class Response(db.Model):
    """The engagement team's public answer to a concern raised in feedback."""

    __tablename__ = "response"
    __table_args__ = (Index("ix_response_state_published", "state", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagement.id", ondelete="CASCADE"), index=True
    )
    # Reads after "You told us you are concerned that …", in the public's words.
    you_said: Mapped[str] = mapped_column(Text)
    we_did: Mapped[str] = mapped_column(Text)
    status: Mapped[ResponseStatus] = mapped_column(
        db_enum(ResponseStatus, "response_status"), default=ResponseStatus.UNDER_CONSIDERATION
    )
    state: Mapped[ResponseState] = mapped_column(
        db_enum(ResponseState, "response_state"), default=ResponseState.DRAFT
    )
    # First publication; kept when a response is unpublished and published again.
    published_at: Mapped[datetime | None]
    # Last change the public could see (wording or status) after publication.
    public_updated_at: Mapped[datetime | None]
    # The staff member's email address (staff accounts live elsewhere).
    published_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Issue 24: the wording in other languages, {locale: {"you_said": …, "we_did": …}}
    # (engage.languages.content); None or a missing field: English.
    translations: Mapped[dict | None] = mapped_column(JSON)

    engagement: Mapped[Engagement] = relationship()
    themes: Mapped[list[Theme]] = relationship(secondary=response_theme, order_by="Theme.position")
    items: Mapped[list[FeedbackItem]] = relationship(
        secondary=response_item, order_by="FeedbackItem.id"
    )
    revisions: Mapped[list[ResponseRevision]] = relationship(
        back_populates="response",
        cascade="all, delete-orphan",
        order_by="(ResponseRevision.at, ResponseRevision.id)",
    )
    milestones: Mapped[list[ResponseMilestone]] = relationship(
        back_populates="response",
        cascade="all, delete-orphan",
        order_by="(ResponseMilestone.on, ResponseMilestone.id)",
    )
    votes: Mapped[list[ResponseVote]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )

    @property
    def is_public(self) -> bool:
        """True when the public can see this response."""
        return self.state == ResponseState.PUBLISHED

    @property
    def status_label(self) -> str:
        """The status in the public's words."""
        return RESPONSE_STATUS_LABELS[ResponseStatus(self.status)]

    @property
    def updated_at(self) -> datetime | None:
        """When the public version last changed."""
        return self.public_updated_at or self.published_at

    def __repr__(self) -> str:
        return f"<Response {self.id} {self.state}>"


class ResponseRevision(db.Model):
    """A snapshot of a response as it was after one event (creation, edit, status …)."""

    __tablename__ = "response_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[RevisionKind] = mapped_column(db_enum(RevisionKind, "revision_kind"))
    you_said: Mapped[str] = mapped_column(Text)
    we_did: Mapped[str] = mapped_column(Text)
    status: Mapped[ResponseStatus] = mapped_column(db_enum(ResponseStatus, "revision_status"))
    # Why: the unpublish reason, or a note on an edit or status change.
    note: Mapped[str] = mapped_column(Text, default="")
    # True when the response was visible to the public at this point of its history.
    public: Mapped[bool] = mapped_column(default=False)
    by: Mapped[str | None] = mapped_column(String(254))

    response: Mapped[Response] = relationship(back_populates="revisions")


class ResponseMilestone(db.Model):
    """A dated step in the progress of what we are doing ("Planned: 3 March 2020")."""

    __tablename__ = "response_milestone"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), index=True
    )
    on: Mapped[date]
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    response: Mapped[Response] = relationship(back_populates="milestones")


class ResponseVote(db.Model):
    """One answer to "Does this answer your concern?"."""

    __tablename__ = "response_vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), index=True
    )
    helpful: Mapped[bool]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A "no" with a comment is stored as new feedback too.
    feedback_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("feedback_item.id", ondelete="SET NULL"), index=True
    )

    response: Mapped[Response] = relationship(back_populates="votes")
    feedback_item: Mapped[FeedbackItem | None] = relationship()


class AlertSubscription(db.Model):
    """One email address's alerts: the themes and engagements it follows (its choices).

    One row per address (``email`` is stored lower-case). Double opt-in: nothing but
    the confirmation email is sent until ``confirmed_at``, and a choice added later is
    followed only once the link in a new confirmation email is followed. Stopping all
    alerts sets ``unsubscribed_at`` and removes the choices.
    """

    __tablename__ = "alert_subscription"
    __table_args__ = (Index("ix_alert_subscription_email", "email", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    # SHA-256 of the confirmation token: the token itself is only in the email.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_created_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # The interface language the address last asked for alerts in (issue 24): its
    # alerts are written in it when it has a catalogue (engage.i18n.email_locale).
    locale: Mapped[str | None] = mapped_column(String(12))

    choices: Mapped[list[AlertChoice]] = relationship(
        back_populates="subscription",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="AlertChoice.id",
    )

    @property
    def active(self) -> bool:
        """True when alerts are sent to this address (for its confirmed choices)."""
        return self.confirmed_at is not None and self.unsubscribed_at is None

    @property
    def following(self) -> list[AlertChoice]:
        """The confirmed choices, themes first, then engagements."""
        return sorted(
            (c for c in self.choices if c.confirmed_at is not None), key=AlertChoice.sort_key
        )

    @property
    def pending(self) -> list[AlertChoice]:
        """Choices waiting for the confirmation link, themes first."""
        return sorted((c for c in self.choices if c.confirmed_at is None), key=AlertChoice.sort_key)


class AlertChoice(db.Model):
    """A theme or an engagement one address follows."""

    __tablename__ = "alert_choice"
    __table_args__ = (
        CheckConstraint(
            "(theme_id IS NULL AND engagement_id IS NOT NULL)"
            " OR (theme_id IS NOT NULL AND engagement_id IS NULL)",
            name="one_target",
        ),
        UniqueConstraint("subscription_id", "theme_id", name="uq_alert_choice_theme"),
        UniqueConstraint("subscription_id", "engagement_id", name="uq_alert_choice_engagement"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("alert_subscription.id", ondelete="CASCADE")
    )
    theme_id: Mapped[int | None] = mapped_column(
        ForeignKey("theme.id", ondelete="CASCADE"), index=True
    )
    engagement_id: Mapped[int | None] = mapped_column(
        ForeignKey("engagement.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None until the address confirms this choice.
    confirmed_at: Mapped[datetime | None]

    subscription: Mapped[AlertSubscription] = relationship(back_populates="choices")
    theme: Mapped[Theme | None] = relationship()
    engagement: Mapped[Engagement | None] = relationship()

    @property
    def name(self) -> str:
        """What is followed, for emails and pages: "the theme Money" or a title."""
        if self.theme is not None:
            return _("the theme %(name)s", name=translate(self.theme.name))
        return self.engagement.title if self.engagement else ""

    def sort_key(self) -> tuple:
        """Themes in their order, then engagements by title."""
        if self.theme is not None:
            return (0, self.theme.position, "")
        return (1, 0, self.engagement.title if self.engagement else "")


class AlertSubscriptionAlias(db.Model):
    """The id a subscription had before migration 0013 merged them per address.

    Links in alert emails sent before it name that id (its own, or that of a row merged
    into it); they are honoured only through this table, which goes with the row.
    """

    __tablename__ = "alert_subscription_alias"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("alert_subscription.id", ondelete="CASCADE"), index=True
    )

    subscription: Mapped[AlertSubscription] = relationship()


class ResponseTemplate(db.Model):
    """Wording the team reuses when it answers similar concerns (staff only)."""

    __tablename__ = "response_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    you_said: Mapped[str] = mapped_column(Text, default="")
    we_did: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(254))


def _vote_replies() -> Select:
    """Feedback sent as a reply to a response (a "No" with a comment): public figures
    do not count it as another comment on the engagement."""
    return select(ResponseVote.feedback_item_id).where(ResponseVote.feedback_item_id.is_not(None))


feedback_queries.not_counted(_vote_replies)


# Public pages show published responses, their revisions, milestones and votes.
pagecache.shown(Response, ResponseRevision, ResponseMilestone, ResponseVote)
