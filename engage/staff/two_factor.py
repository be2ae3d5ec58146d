"""Two-factor sign-in: RFC 6238 TOTP codes (pyotp), each accepted once, and ten
one-time recovery codes kept as Argon2 hashes. Nothing here commits."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update

from engage.extensions import db
from engage.staff import audit
from engage.staff.models import RecoveryCode, StaffUser
from engage.util import utcnow

RECOVERY_CODE_COUNT = 10
# Letters only (no i, l, o): never mistaken for a 6-digit app code or each other.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz"
RECOVERY_CODE_LENGTH = 10
ISSUER = "engage"
# Recovery codes are random (about 45 bits), so a lighter Argon2id is enough: checking a
# code against ten hashes stays quick.
_code_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


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


def _normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def use_recovery_code(user: StaffUser, code: str) -> bool:
    """Accept one of the user's unused recovery codes, once (not committed)."""
    code = _normalise_recovery_code(code)
    if len(code) != RECOVERY_CODE_LENGTH:
        return False
    unused = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    for stored in unused:
        try:
            _code_hasher.verify(stored.code_hash, code)
        except (VerificationError, InvalidHashError):
            continue
        # Marked used only if nobody used it in the meantime (another process).
        taken = db.session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.id == stored.id, RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            return False
        audit.record(
            "sign_in.recovery_code_used",
            actor=user,
            target=user,
            detail={"left": len(unused) - 1},
        )
        return True
    return False


def check_second_factor(user: StaffUser, code: str) -> bool:
    """A code from the app, or else one of the recovery codes (each works once)."""
    if not user.two_factor_enabled:
        return False
    return verify_code(user, code) or use_recovery_code(user, code)


def recovery_codes_left(user: StaffUser) -> int:
    return (
        db.session.scalar(
            select(func.count(RecoveryCode.id)).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


def new_recovery_codes(user: StaffUser) -> list[str]:
    """Replace the user's recovery codes with ten new ones; return them to show once.

    Only their hashes are kept (not committed).
    """
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    now = utcnow()
    for code in codes:
        db.session.add(
            RecoveryCode(user_id=user.id, code_hash=_code_hasher.hash(code), created_at=now)
        )
    audit.record("account.recovery_codes_made", actor=user, target=user)
    half = RECOVERY_CODE_LENGTH // 2
    return [f"{code[:half]}-{code[half:]}" for code in codes]


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def enable_two_factor(user: StaffUser, secret: str, code: str) -> list[str] | None:
    """Turn on two-factor sign-in once the user proves their app has the secret.

    Returns the new recovery codes (to show once), or None if the code was wrong.
    Not committed.
    """
    replacing = user.two_factor_enabled
    # The new app's codes start their own replay guard.
    previous_step, user.totp_last_step = user.totp_last_step, None
    if not verify_code(user, code, secret=secret):
        user.totp_last_step = previous_step
        return None
    user.totp_secret = secret
    user.totp_confirmed_at = utcnow()
    user.two_factor_must_enrol = False
    audit.record(
        "account.two_factor_replaced" if replacing else "account.two_factor_enabled",
        actor=user,
        target=user,
    )
    return new_recovery_codes(user)


def forget(user: StaffUser) -> None:
    """Drop the user's authenticator secret and recovery codes (not committed)."""
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
