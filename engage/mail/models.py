"""Mail intake's own state: how far the IMAP poller has read each folder."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engage.extensions import db
from engage.util import utcnow


class ImapState(db.Model):
    """How far the poller has read one IMAP folder, valid for one UIDVALIDITY."""

    __tablename__ = "imap_state"
    __table_args__ = (UniqueConstraint("account", "folder", "uidvalidity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(300))
    folder: Mapped[str] = mapped_column(String(200))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
