"""Alerts: one subscription per address, following themes and engagements.

Double opt-in for every choice added, and one signed link to manage them all. As in
engage.publish.service, the functions change the session and the caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from flask import has_request_context
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import validation
from engage.feedback.models import Theme
from engage.i18n import _, current_code
from engage.publish import notifications
from engage.publish.models import AlertChoice, AlertSubscription
from engage.publish.service import InvalidResponse
from engage.util import utcnow

CONFIRM_WITHIN = timedelta(days=7)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _targets(
    themes: Iterable[Theme], engagements: Iterable[Engagement]
) -> list[tuple[Theme | None, Engagement | None]]:
    unique_themes = {t.id: t for t in themes if t is not None}
    unique_engagements = {e.id: e for e in engagements if e is not None}
    return [(t, None) for t in unique_themes.values()] + [
        (None, e) for e in unique_engagements.values()
    ]


def _choice_for(subscription: AlertSubscription, theme: Theme | None, engagement):
    for choice in subscription.choices:
        if theme is not None and choice.theme_id == theme.id:
            return choice
        if engagement is not None and choice.engagement_id == engagement.id:
            return choice
    return None


def subscription_for_address(address: str) -> AlertSubscription:
    """The one subscription of an address, made if missing.

    Made with INSERT … ON CONFLICT DO NOTHING, so two sign-ups for a new address at the
    same moment (a form sent twice) share one row instead of one failing.
    """
    address = address.lower()
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(
        insert(AlertSubscription)
        .values(email=address, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["email"])
    )
    return db.session.scalars(
        select(AlertSubscription).where(AlertSubscription.email == address)
    ).one()


def subscribe(
    *,
    email: str,
    themes: Iterable[Theme] = (),
    engagements: Iterable[Engagement] = (),
    theme: Theme | None = None,
    engagement: Engagement | None = None,
) -> AlertSubscription:
    """Ask for alerts about some themes and engagements; emails a confirmation link.

    One subscription per address: choices it already follows stay as they are, new
    ones wait for the link (asking again re-sends it). Nothing is sent when every
    choice is already followed. Raises InvalidResponse. The caller commits.
    """
    targets = _targets([*themes, theme], [*engagements, engagement])
    if not targets:
        raise InvalidResponse({"themes": _("Select at least one theme or engagement")})
    try:
        address = validation.validate_email_address(
            validation.clean_line(email or "", limit=254) or ""
        )
    except ValueError as error:
        raise InvalidResponse(
            {"email": _("Enter an email address in the correct format, like name@example.com")}
        ) from error
    subscription = subscription_for_address(address)
    if has_request_context():  # alerts come in the language they were asked in
        subscription.locale = current_code()
    for chosen_theme, chosen_engagement in targets:
        choice = _choice_for(subscription, chosen_theme, chosen_engagement)
        if choice is None:
            subscription.choices.append(
                AlertChoice(theme=chosen_theme, engagement=chosen_engagement)
            )
    if subscription.active and not subscription.pending:
        return subscription
    token = secrets.token_urlsafe(32)
    subscription.token_hash = _hash(token)
    subscription.token_created_at = utcnow()
    db.session.flush()
    notifications.send_alert_confirmation(subscription, token)
    return subscription


def subscription_for_confirm_token(token: str) -> AlertSubscription | None:
    """The subscription a confirmation link is for, if still valid."""
    if not token or len(token) > 200:
        return None
    subscription = db.session.scalar(
        select(AlertSubscription).where(AlertSubscription.token_hash == _hash(token))
    )
    if subscription is None or subscription.token_created_at is None:
        return None
    if subscription.token_created_at < utcnow() - CONFIRM_WITHIN:
        return None
    return subscription


def confirm(*, token: str) -> AlertSubscription | None:
    """Start the choices waiting for a confirmation link; None when it is not valid.

    The link works once. The caller commits.
    """
    subscription = subscription_for_confirm_token(token)
    if subscription is None:
        return None
    now = utcnow()
    for choice in subscription.pending:
        choice.confirmed_at = now
    subscription.confirmed_at = subscription.confirmed_at or now
    subscription.unsubscribed_at = None
    subscription.token_hash = None
    return subscription


def set_choices(
    subscription: AlertSubscription,
    *,
    themes: Iterable[Theme] = (),
    engagements: Iterable[Engagement] = (),
) -> AlertSubscription:
    """Follow exactly these, from the manage page (its signed link proves the address).

    Raises InvalidResponse when nothing is chosen (stopping is unsubscribe()'s job).
    The caller commits.
    """
    targets = _targets(themes, engagements)
    if not targets:
        raise InvalidResponse(
            {"themes": _("Select at least one theme or engagement, or stop all alerts")}
        )
    now = utcnow()
    keep = []
    for theme, engagement in targets:
        choice = _choice_for(subscription, theme, engagement)
        if choice is None:
            choice = AlertChoice(theme=theme, engagement=engagement)
            subscription.choices.append(choice)
        choice.confirmed_at = choice.confirmed_at or now
        keep.append(choice)
    for choice in list(subscription.choices):
        if choice not in keep:
            subscription.choices.remove(choice)
    subscription.confirmed_at = subscription.confirmed_at or now
    subscription.unsubscribed_at = None
    subscription.token_hash = None
    return subscription


def unsubscribe(*, token: str) -> AlertSubscription | None:
    """Stop all of an address's alerts; None when the token is not genuine.

    Its choices are removed. The caller commits.
    """
    subscription = notifications.subscription_for_token(token)
    if subscription is None:
        return None
    if subscription.unsubscribed_at is None:
        subscription.unsubscribed_at = utcnow()
    subscription.choices.clear()
    subscription.token_hash = None
    return subscription
