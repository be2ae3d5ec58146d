"""The sign-in throttle: failed passwords and codes counted per (email typed, client
address) in ``sign_in_throttle``.

After MAX_FAILED_SIGN_INS failures that address is paused for that email for
LOCK_OUT_FOR, and each further failure doubles the pause (up to LOCK_OUT_AT_MOST).
Other addresses are not affected, so nobody can lock a staff member out from elsewhere.
Used by signing in and by re-authentication (``engage.staff.accounts``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engage.extensions import db
from engage.staff.models import SignInThrottle, StaffUser
from engage.util import utcnow

# Failures (passwords or codes) from one address for one email before it is paused.
MAX_FAILED_SIGN_INS = 5
# The first pause; each failure after it doubles the pause, up to LOCK_OUT_AT_MOST.
LOCK_OUT_FOR = timedelta(minutes=15)
LOCK_OUT_AT_MOST = timedelta(hours=24)
# A count whose last failure is older than this starts again from nothing.
FAILURES_FORGOTTEN_AFTER = timedelta(hours=24)


def normalise_email(email: str) -> str:
    """An email as accounts and the throttle key it: trimmed, in small letters."""
    return (email or "").strip().lower()


def _pause_after(failures: int) -> timedelta | None:
    """How long an address waits after its ``failures``-th failure (None: not at all)."""
    if failures < MAX_FAILED_SIGN_INS:
        return None
    doublings = min(failures - MAX_FAILED_SIGN_INS, 16)
    return min(LOCK_OUT_FOR * (2**doublings), LOCK_OUT_AT_MOST)


def _throttle_row(email: str, ip: str) -> SignInThrottle | None:
    return db.session.scalar(
        select(SignInThrottle).where(SignInThrottle.email == email, SignInThrottle.ip == ip)
    )


def paused_until(email: str, ip: str | None) -> datetime | None:
    """When this address may try this email again, or None if it may now."""
    row = _throttle_row(normalise_email(email)[:254], _address(ip))
    if row is None or row.blocked_until is None or row.blocked_until <= utcnow():
        return None
    return row.blocked_until


def record_failure(email: str, ip: str | None) -> SignInThrottle:
    """Count one failed password or code of ``ip`` for ``email`` (not committed).

    The count is raised in the database (``failures + 1``), so two processes counting
    at once both count; the row is made on the first failure.
    """
    email, ip = normalise_email(email)[:254], _address(ip)
    now = utcnow()
    forgotten = now - FAILURES_FORGOTTEN_AFTER
    # Old counts go (and with them the pauses they earned long ago).
    db.session.execute(
        delete(SignInThrottle).where(
            SignInThrottle.last_failure_at < forgotten,
            (SignInThrottle.blocked_until.is_(None)) | (SignInThrottle.blocked_until < now),
        )
    )
    # Made if missing; if another process makes it at the same moment, theirs is kept.
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(
        insert(SignInThrottle)
        .values(email=email, ip=ip, failures=0, last_failure_at=now)
        .on_conflict_do_nothing(index_elements=["email", "ip"])
    )
    db.session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.email == email, SignInThrottle.ip == ip)
        .values(failures=SignInThrottle.failures + 1, last_failure_at=now)
        .execution_options(synchronize_session=False)
    )
    row = _throttle_row(email, ip)
    db.session.refresh(row)
    pause = _pause_after(row.failures)
    if pause is not None:
        row.blocked_until = now + pause
    return row


def clear_failures(email: str, ip: str | None) -> None:
    """A success from this address: its count for this email starts again (not committed)."""
    db.session.execute(
        delete(SignInThrottle).where(
            SignInThrottle.email == normalise_email(email)[:254],
            SignInThrottle.ip == _address(ip),
        )
    )


def paused_addresses(user: StaffUser) -> int:
    """How many addresses are paused from signing in to this account now (for admins)."""
    return (
        db.session.scalar(
            select(func.count(SignInThrottle.id)).where(
                SignInThrottle.email == user.email, SignInThrottle.blocked_until > utcnow()
            )
        )
        or 0
    )


def _address(ip: str | None) -> str:
    return (ip or "unknown")[:64]


def minutes_until(when: datetime) -> int:
    return max(1, int((when - utcnow()).total_seconds() // 60) + 1)
