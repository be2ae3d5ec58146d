"""API partners (for example Healthwatch) and their bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select

from engage.extensions import db
from engage.feedback.models import ApiPartner
from engage.util import utcnow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_partner(name: str) -> tuple[ApiPartner, str]:
    """Create a partner and return it with its token; the token is not stored.

    Raises ValueError when the name is empty or already used.
    """
    name = name.strip()
    if not name:
        raise ValueError("A partner needs a name")
    if db.session.scalar(select(ApiPartner).where(ApiPartner.name == name)):
        raise ValueError(f"There is already a partner called {name!r}")
    token = "eng_" + secrets.token_urlsafe(32)
    partner = ApiPartner(name=name, token_hash=_hash(token))
    db.session.add(partner)
    db.session.flush()  # the caller's unit of work commits
    return partner, token


def partner_for_token(token: str | None) -> ApiPartner | None:
    """The active partner holding ``token``, or None."""
    if not token:
        return None
    digest = _hash(token)
    partner = db.session.scalar(select(ApiPartner).where(ApiPartner.token_hash == digest))
    if partner is None or partner.revoked_at is not None:
        return None
    # The lookup is by hash already; compare again in constant time for good measure.
    if not hmac.compare_digest(partner.token_hash, digest):
        return None
    partner.last_used_at = utcnow()
    # Kept here: a partner's last use is recorded even when its request is then
    # refused with an error, which commits nothing at the end of the request.
    db.session.commit()
    return partner


def revoke_partner(name: str) -> bool:
    """Revoke a partner's token; True if a partner was revoked."""
    partner = db.session.scalar(select(ApiPartner).where(ApiPartner.name == name))
    if partner is None or partner.revoked_at is not None:
        return False
    partner.revoked_at = utcnow()
    db.session.flush()  # the caller's unit of work commits
    return True
