"""What the public pages' caches check: one counter that moves when public data changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Mapped, mapped_column

from engage.extensions import db
from engage.util import utcnow


class PublicState(db.Model):
    """A single row (id 1): the version of everything the public pages show.

    engage.pagecache adds one to ``version`` in the same transaction as any change to
    what public pages show (a response, an engagement, a theme: what each domain
    registers), so a cached page made for an older version is never served again once
    that change is committed.
    """

    __tablename__ = "public_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
