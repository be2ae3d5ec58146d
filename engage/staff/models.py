"""Staff accounts, their server-side sessions, the audit log and internal notes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.extensions import db
from engage.util import db_enum, utcnow


class Role(enum.StrEnum):
    """What a staff member may do. Each role can do everything the ones below it can."""

    VIEWER = "viewer"
    TRIAGER = "triager"
    PUBLISHER = "publisher"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def can(self, needed: Role) -> bool:
        """True when this role is ``needed`` or above it."""
        return self.rank >= needed.rank

    @property
    def needs_two_factor(self) -> bool:
        return self in (Role.PUBLISHER, Role.ADMIN)


ROLE_LABELS = {
    Role.VIEWER: "Viewer: reads feedback and the dashboard",
    Role.TRIAGER: "Triager: also tags, redacts, groups and records feedback",
    Role.PUBLISHER: "Publisher: also writes and publishes responses",
    Role.ADMIN: "Admin: also manages accounts, models and the audit log",
}


class StaffUser(db.Model):
    """A member of the engagement team."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(db_enum(Role, "staff_role"))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Base32 TOTP secret; confirmed once the user has entered a code from their app.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None]
    # The last time-step accepted, so a code cannot be replayed.
    totp_last_step: Mapped[int | None]
    # Set when an admin resets the account's two-factor sign-in: it must enrol again at
    # its next sign-in, whatever its role; cleared once a new app is confirmed.
    two_factor_must_enrol: Mapped[bool] = mapped_column(default=False, server_default=false())
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]

    sessions: Mapped[list[StaffSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login: the id kept in the cookie is the session's token, not the user id.
    session_token = None  # set per request by the user loader; not a column
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_secret is not None and self.totp_confirmed_at is not None

    @property
    def needs_two_factor(self) -> bool:
        """True when the account may not use the staff area until an app is set up."""
        return self.role.needs_two_factor or self.two_factor_must_enrol

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def __repr__(self) -> str:
        return f"<StaffUser {self.email} {self.role}>"


class StaffSession(db.Model):
    """A signed-in browser. The cookie carries only the token's id; revoking ends it."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the random token held in the (signed) session cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the password (and code) were last entered: recent means "fresh".
    authenticated_at: Mapped[datetime] = mapped_column(default=utcnow)
    two_factor_passed: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[StaffUser] = relationship(back_populates="sessions")


class RecoveryCode(db.Model):
    """A one-time code that stands in for the authenticator app (lost phone).

    Only an Argon2 hash is kept; the codes are shown once, when they are made.
    """

    __tablename__ = "staff_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    user: Mapped[StaffUser] = relationship(back_populates="recovery_codes")


class SignInThrottle(db.Model):
    """Failed sign-ins (passwords, codes, re-authentication) of one address for one account.

    Keyed by the email typed (known or not) and the client's address together, so a
    stranger elsewhere cannot lock a staff member out, and kept in the database so
    every worker process sees the same count.
    """

    __tablename__ = "sign_in_throttle"
    __table_args__ = (UniqueConstraint("email", "ip"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    blocked_until: Mapped[datetime | None]


class ItemNote(db.Model):
    """An internal note on a feedback item; never shown to the public."""

    __tablename__ = "item_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_item.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[StaffUser | None] = relationship()
