"""Staff accounts: passwords, signing in, server-side sessions and administration.

Views call these functions; none of them reads the request (the client's address is
passed in). Passwords are hashed with Argon2id (argon2-cffi). A signed-in browser
holds a random token whose hash is a ``StaffSession`` row: revoking the row (sign
out, account disabled) ends the session wherever the cookie is.

Two-factor codes and recovery codes are in ``engage.staff.two_factor``; the count of
failed passwords and codes per (email typed, client address), and the pauses it
causes, in ``engage.staff.throttle``.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from engage import audit
from engage.extensions import db
from engage.staff import throttle, two_factor
from engage.staff.models import Role, StaffSession, StaffUser
from engage.staff.throttle import normalise_email
from engage.util import utcnow

MIN_PASSWORD_LENGTH = 12
SESSION_IDLE_LIMIT = timedelta(hours=2)
SESSION_MAX_AGE = timedelta(hours=12)
FRESH_FOR = timedelta(minutes=10)

_hasher = PasswordHasher()
# Verified against when the email is unknown or paused, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A request about an account cannot be done; the message says why, for people."""


# ------------------------------------------------------------------ passwords


def check_password_rules(password: str) -> None:
    """Raise AccountError unless the password is long enough to be worth having."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise AccountError("Password must be 1,024 characters or fewer")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(user: StaffUser, password: str) -> bool:
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def find_by_email(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))


def create_staff(
    *, email: str, role: Role, password: str, name: str = "", by: StaffUser | None = None
) -> StaffUser:
    """Create an account (not committed). Raises AccountError for a bad email or password."""
    from email_validator import EmailNotValidError, validate_email

    try:
        email = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(f"Enter a valid email address ({exc})") from exc
    if find_by_email(email) is not None:
        raise AccountError(f"There is already an account for {email}")
    check_password_rules(password)
    user = StaffUser(
        email=email, name=name.strip(), role=role, password_hash=hash_password(password)
    )
    db.session.add(user)
    db.session.flush()
    audit.record("account.created", actor=by, target=user, detail={"role": role.value})
    return user


# ------------------------------------------------------------------ sign-in


@dataclass
class SignInResult:
    user: StaffUser | None
    # Set when the password was right but a code is still needed.
    needs_code: bool = False
    error: str | None = None


# The one answer to every refused first step: unknown email, wrong password, disabled
# account or an address paused for that email.
GENERIC_FAILURE = (
    "Enter a correct email address and password. After several wrong attempts, "
    "signing in from this device pauses for a while"
)


# ------------------------------------------------------------------ sign-in


def check_credentials(email: str, password: str, ip: str | None = None) -> SignInResult:
    """First step of signing in, from client address ``ip``.

    Every refusal gives the same words after the same work (one Argon2 verification):
    an unknown email and a paused address are checked against a dummy hash. Failures
    are counted per (email, address); commits (the count must survive the request).
    """
    typed = normalise_email(email)[:254]
    user = find_by_email(email)
    paused = throttle.paused_until(typed, ip)
    if user is None or paused is not None:
        # Same work as a real check, so the answer's timing says nothing.
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        if user is None:
            if paused is None:
                throttle.record_failure(typed, ip)
            audit.record("sign_in.failed", detail={"email": typed})
        else:
            audit.record(
                "sign_in.locked_out",
                actor=user,
                target=user,
                detail={"until": paused.isoformat()},
            )
        # Kept here (and below): sign-in attempts and their failures are stored whatever the
        # answer, for the throttle and the audit log; the request's own unit of work would
        # drop them with an error answer.
        db.session.commit()
        return SignInResult(None, error=GENERIC_FAILURE)
    if not password_matches(user, password):
        row = throttle.record_failure(typed, ip)
        detail = {"failures": row.failures}
        if row.blocked_until is not None and row.blocked_until > utcnow():
            detail["paused_until"] = row.blocked_until.isoformat()
        audit.record("sign_in.failed", actor=user, target=user, detail=detail)
        db.session.commit()
        return SignInResult(None, error=GENERIC_FAILURE)
    if not user.active:
        audit.record("sign_in.disabled_account", actor=user, target=user)
        db.session.commit()
        return SignInResult(None, error=GENERIC_FAILURE)
    throttle.clear_failures(typed, ip)
    db.session.commit()
    return SignInResult(user, needs_code=user.two_factor_enabled)


def remove_two_factor(user: StaffUser) -> None:
    """Turn off one's own two-factor sign-in (only roles that do not need it; not committed)."""
    if user.needs_two_factor:
        raise AccountError("Your role needs two-factor sign-in: set up a new app instead")
    two_factor.forget(user)
    audit.record("account.two_factor_removed", actor=user, target=user)


# ------------------------------------------------------------------ sessions


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    user: StaffUser,
    *,
    two_factor_passed: bool,
    ip: str | None = None,
    user_agent: str | None = None,
) -> str:
    """Open a server-side session for the user; return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        StaffSession(
            token_hash=_token_hash(token),
            user=user,
            created_at=now,
            last_seen_at=now,
            authenticated_at=now,
            two_factor_passed=two_factor_passed,
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    user.last_sign_in_at = now
    audit.record("sign_in", actor=user, target=user, detail={"two_factor": two_factor_passed})
    db.session.commit()
    return token


def session_for_token(token: str | None) -> StaffSession | None:
    """The live session for a cookie's token, or None if revoked, expired or disabled."""
    if not token:
        return None
    # The user in the same statement: every staff page asks for it.
    row = db.session.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(StaffSession.token_hash == _token_hash(token))
    ).first()
    found = None if row is None else row[0]
    if found is None or found.revoked_at is not None or not found.user.active:
        return None
    now = utcnow()
    if now - found.created_at > SESSION_MAX_AGE or now - found.last_seen_at > SESSION_IDLE_LIMIT:
        return None
    if now - found.last_seen_at > timedelta(minutes=1):
        found.last_seen_at = now
        # Kept here: a session's last use is stored even on a page that answers with an error.
        db.session.commit()
    return found


def end_session(staff_session: StaffSession) -> None:
    staff_session.revoked_at = utcnow()
    audit.record("sign_out", actor=staff_session.user, target=staff_session.user)
    db.session.commit()


def revoke_all_sessions(user: StaffUser) -> int:
    """End every session of a user (disabled account, changed password or role)."""
    result = db.session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0


def is_fresh(staff_session: StaffSession) -> bool:
    """True when the password was entered in the last few minutes."""
    return utcnow() - staff_session.authenticated_at <= FRESH_FOR


def reauthenticate(
    staff_session: StaffSession, password: str, code: str = "", *, ip: str | None = None
) -> str | None:
    """Confirm it is still the same person before a sensitive change.

    Honours the same pause as signing in and counts failures the same way. Returns
    None when confirmed, else the reason for people. Commits.
    """
    user = staff_session.user
    paused = throttle.paused_until(user.email, ip)
    if paused is not None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        audit.record(
            "reauthenticate.locked_out",
            actor=user,
            target=user,
            detail={"until": paused.isoformat()},
        )
        # Kept here, as in sign_in(): a failure counts towards the pause whatever the answer.
        db.session.commit()
        return (
            "There have been too many wrong attempts from this device. "
            f"Try again in {throttle.minutes_until(paused)} minutes"
        )
    if not password_matches(user, password) or (
        user.two_factor_enabled and not two_factor.check_second_factor(user, code)
    ):
        row = throttle.record_failure(user.email, ip)
        audit.record(
            "reauthenticate.failed", actor=user, target=user, detail={"failures": row.failures}
        )
        db.session.commit()
        return "The password or code is not right"
    throttle.clear_failures(user.email, ip)
    staff_session.authenticated_at = utcnow()
    audit.record("reauthenticated", actor=user, target=user)
    db.session.commit()
    return None


# ------------------------------------------------------------------ administration


def change_password(user: StaffUser, new_password: str, *, keep: StaffSession | None) -> None:
    """Set a new password and end every other session of the user (not committed)."""
    check_password_rules(new_password)
    user.password_hash = hash_password(new_password)
    revoke_all_sessions(user)
    if keep is not None:
        keep.revoked_at = None
    audit.record("account.password_changed", target=user)


def set_role(user: StaffUser, role: Role, *, by: StaffUser) -> None:
    """Change a user's role; their sessions end so the new rights apply at once."""
    if user.role == role:
        return
    if user.id == by.id and role != Role.ADMIN and _admin_count() <= 1:
        raise AccountError("You are the only admin: make someone else an admin first")
    old = user.role
    user.role = role
    revoke_all_sessions(user)
    audit.record(
        "account.role_changed", actor=by, target=user, detail={"from": old.value, "to": role.value}
    )


def set_active(user: StaffUser, active: bool, *, by: StaffUser) -> None:
    """Disable or re-enable an account; disabling ends its sessions at once."""
    if user.id == by.id and not active:
        raise AccountError("You cannot disable your own account")
    user.active = active
    if not active:
        revoke_all_sessions(user)
    audit.record("account.enabled" if active else "account.disabled", actor=by, target=user)


def reset_two_factor(user: StaffUser, *, by: StaffUser) -> None:
    """Forget a user's authenticator and recovery codes (lost phone); their sessions end
    and they must set up a new app at their next sign-in, whatever their role."""
    two_factor.forget(user)
    user.two_factor_must_enrol = True
    revoke_all_sessions(user)
    audit.record("account.two_factor_reset", actor=by, target=user)


def _admin_count() -> int:
    return (
        db.session.scalar(
            select(func.count(StaffUser.id)).where(
                StaffUser.role == Role.ADMIN, StaffUser.active.is_(True)
            )
        )
        or 0
    )


def all_staff() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).order_by(StaffUser.email)))


def last_seen(user: StaffUser) -> datetime | None:
    return db.session.scalar(
        select(func.max(StaffSession.last_seen_at)).where(StaffSession.user_id == user.id)
    )
