"""Concerns found in a theme's feedback, as staff have steered them, and their items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage import pagecache
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Theme
from engage.util import utcnow


class Concern(db.Model):
    """One worry inside a theme of an engagement: a label, a draft line and its items."""

    __tablename__ = "concern"
    __table_args__ = (Index("ix_concern_engagement_theme", "engagement_id", "theme_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id", ondelete="CASCADE"))
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(200))
    # Reads after "You told us you are concerned that …" (as Response.you_said does).
    draft: Mapped[str] = mapped_column(Text, default="")
    # Set once staff rename it: a re-run never changes a label or draft staff chose.
    edited_at: Mapped[datetime | None]
    hidden: Mapped[bool] = mapped_column(default=False)
    # The group new items go to when they are near no kept concern.
    is_new_group: Mapped[bool] = mapped_column(default=False)
    # The unit vector of its centre in the fixed space (discovery.Space), for new items.
    centroid: Mapped[list[float] | None] = mapped_column(JSON)
    # Item ids, most central first (any consent; the page picks the quotable ones).
    central_ids: Mapped[list[int] | None] = mapped_column(JSON)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("response.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    theme: Mapped[Theme] = relationship(lazy="joined")
    members: Mapped[list[ConcernItem]] = relationship(
        back_populates="concern", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Concern {self.id} {self.label!r}>"


class ConcernItem(db.Model):
    """An item's place in one concern of one of its themes (one concern per theme)."""

    __tablename__ = "concern_item"
    __table_args__ = (UniqueConstraint("item_id", "theme_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    concern_id: Mapped[int] = mapped_column(
        ForeignKey("concern.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("feedback_item.id", ondelete="CASCADE"))
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id", ondelete="CASCADE"))
    # "model" (found or joined by nearness) or "staff" (moved by a person: never re-placed).
    placed_by: Mapped[str] = mapped_column(String(10), default="model")

    concern: Mapped[Concern] = relationship(back_populates="members")
    item: Mapped[FeedbackItem] = relationship()


class ConcernJob(db.Model):
    """A theme's grouping owed to the worker: the first one, or staff's "group again".

    One row per engagement and theme, reused: staff's request sets it to ``queued`` (only
    from ``done`` or ``failed``, so two requests at once queue it once); a worker claims
    it by moving it to ``running`` with a claim token and a lease (engage.concerns.jobs),
    writes the concerns and sets ``done`` in one commit. A failure queues it again, up
    to MAX_ATTEMPTS; then it is ``failed`` and the page shows the error.
    """

    __tablename__ = "concern_job"
    __table_args__ = (UniqueConstraint("engagement_id", "theme_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id", ondelete="CASCADE"))
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    rediscover: Mapped[bool] = mapped_column(default=False)
    items: Mapped[int] = mapped_column(default=0)  # how many items it groups
    progress: Mapped[int] = mapped_column(default=0)  # per cent, as the worker goes
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)  # the last failure, for staff
    requested_by: Mapped[str | None] = mapped_column(String(254))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    not_before: Mapped[datetime | None]  # a retry waits until then
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None]  # a claim older than this was a dead worker's

    def __repr__(self) -> str:
        return f"<ConcernJob {self.id} {self.state}>"


# The engagement page shows a concern whose response is published unless it is hidden
# (concerns.public): hiding it, showing it or linking it to a response moves the public
# version, so stored pages are made again. Its items are counted as figures are (kept
# at most ENGAGE_FIGURES_MAX_AGE), and the worker's rewriting of centres, examples and
# labels moves nothing (no stored page shows them). A deleted concern is not an
# attribute change: steering.merge moves the version itself when it deletes one the
# public may see.
pagecache.shown_attributes(Concern, "hidden", "response_id")
