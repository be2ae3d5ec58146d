"""Engagements (consultations) and their deadline extensions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage import pagecache
from engage.extensions import db
from engage.util import utcnow


class Engagement(db.Model):
    """A public engagement that residents send feedback on."""

    __tablename__ = "engagement"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    opens_on: Mapped[date]
    closes_on: Mapped[date]
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    email_address: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Issue 24: the title and summary in other languages, {locale: {"title": …,
    # "summary": …}} (engage.languages.content); None or a missing field: English.
    translations: Mapped[dict | None] = mapped_column(JSON)

    extensions: Mapped[list[EngagementExtension]] = relationship(
        back_populates="engagement",
        order_by="EngagementExtension.new_closes_on",
        cascade="all, delete-orphan",
    )

    def is_open(self, today: date) -> bool:
        """True when feedback on this engagement is being accepted on ``today``."""
        return self.opens_on <= today <= self.closes_on

    @property
    def original_closes_on(self) -> date:
        """The deadline first announced, before any extension."""
        if self.extensions:
            return self.extensions[0].previous_closes_on
        return self.closes_on

    def __repr__(self) -> str:
        return f"<Engagement {self.slug}>"


class EngagementExtension(db.Model):
    """One change of an engagement's closing date, kept as history."""

    __tablename__ = "engagement_extension"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id", ondelete="CASCADE"))
    previous_closes_on: Mapped[date]
    new_closes_on: Mapped[date]
    reason: Mapped[str] = mapped_column(Text, default="")
    announced_on: Mapped[date]

    engagement: Mapped[Engagement] = relationship(back_populates="extensions")


# Public pages show engagements and their extensions: any change moves the public version.
pagecache.shown(Engagement, EngagementExtension)
