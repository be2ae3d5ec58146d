"""Staff accounts: passwords, lock-out, two-factor codes and server-side sessions.

Views call these functions; none of them reads the request. Passwords are hashed
with Argon2id (argon2-cffi); codes are RFC 6238 TOTP (pyotp). A signed-in browser
holds a random token whose hash is a ``StaffSession`` row: revoking the row (sign
out, account disabled) ends the session wherever the cookie is.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from engage.extensions import db
from engage.staff import audit
from engage.staff.models import Role, StaffSession, StaffUser
from engage.util import utcnow

MIN_PASSWORD_LENGTH = 12
MAX_FAILED_SIGN_INS = 5
LOCK_OUT_FOR = timedelta(minutes=15)
SESSION_IDLE_LIMIT = timedelta(hours=2)
SESSION_MAX_AGE = timedelta(hours=12)
FRESH_FOR = timedelta(minutes=10)
ISSUER = "engage"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so timing does not reveal accounts.
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


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_by_email(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))


def create_staff(
    *, email: str, role: Role, password: str, name: str = "", by: StaffUser | None = None
) -> StaffUser:
    """Create an account (not committed). Raises AccountError for a bad email or password."""
    from email_validator import EmailNotValidError, validate_email

    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
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


GENERIC_FAILURE = "Enter a correct email address and password"


def check_credentials(email: str, password: str) -> SignInResult:
    """First step of signing in. Counts failures and locks the account after too many.

    Commits (the failure count must survive the request).
    """
    user = find_by_email(email)
    now = utcnow()
    if user is None:
        # Same work as a real check, so the answer's timing says nothing.
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        audit.record("sign_in.failed", detail={"email": normalise_email(email)[:254]})
        db.session.commit()
        return SignInResult(None, error=GENERIC_FAILURE)
    if user.locked_until is not None and user.locked_until > now:
        audit.record("sign_in.locked_out", actor=user, target=user)
        db.session.commit()
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        return SignInResult(
            None,
            error=f"This account is locked after too many attempts. Try again in {minutes} minutes",
        )
    if not password_matches(user, password):
        user.failed_sign_ins += 1
        detail = {"failures": user.failed_sign_ins}
        if user.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            user.locked_until = now + LOCK_OUT_FOR
            user.failed_sign_ins = 0
            detail["locked_until"] = user.locked_until.isoformat()
        audit.record("sign_in.failed", actor=user, target=user, detail=detail)
        db.session.commit()
        return SignInResult(None, error=GENERIC_FAILURE)
    if not user.active:
        audit.record("sign_in.disabled_account", actor=user, target=user)
        db.session.commit()
        return SignInResult(None, error=GENERIC_FAILURE)
    user.failed_sign_ins = 0
    user.locked_until = None
    db.session.commit()
    return SignInResult(user, needs_code=user.two_factor_enabled)


def verify_code(user: StaffUser, code: str, *, secret: str | None = None) -> bool:
    """Check a 6-digit code (one step of clock drift allowed); a code works once."""
    secret = secret or user.totp_secret
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if not secret or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    now = utcnow()
    for drift in (0, -1, 1):
        at = now + timedelta(seconds=30 * drift)
        step = totp.timecode(at)
        if secrets.compare_digest(totp.at(at), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            return True
    return False


def record_failed_code(user: StaffUser) -> None:
    """A wrong code counts towards the lock-out like a wrong password."""
    user.failed_sign_ins += 1
    if user.failed_sign_ins >= MAX_FAILED_SIGN_INS:
        user.locked_until = utcnow() + LOCK_OUT_FOR
        user.failed_sign_ins = 0
    audit.record("sign_in.bad_code", actor=user, target=user)
    db.session.commit()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def enable_two_factor(user: StaffUser, secret: str, code: str) -> bool:
    """Turn on two-factor sign-in once the user proves their app has the secret."""
    if not verify_code(user, code, secret=secret):
        return False
    user.totp_secret = secret
    user.totp_confirmed_at = utcnow()
    audit.record("account.two_factor_enabled", actor=user, target=user)
    return True


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


def reauthenticate(staff_session: StaffSession, password: str, code: str = "") -> bool:
    """Confirm it is still the same person before a sensitive change."""
    user = staff_session.user
    if not password_matches(user, password) or (
        user.two_factor_enabled and not verify_code(user, code)
    ):
        record_failed_code(user)
        return False
    staff_session.authenticated_at = utcnow()
    audit.record("reauthenticated", actor=user, target=user)
    db.session.commit()
    return True


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
    """Forget a user's authenticator (lost phone); they set it up again at next sign-in."""
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
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
