"""Emails about published responses: to residents who asked, and to alert subscribers.

Messages are queued in the outbox; the caller commits, so an email exists only if the
change that caused it was stored.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import or_, select

from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status
from engage.feedback.notifications import unsubscribe_token
from engage.mail import outbox
from engage.publish.models import AlertSubscription, Response
from engage.web import public_url

_ALERT_SALT = "engage-alert-unsubscribe"


def _alert_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_ALERT_SALT)


def alert_unsubscribe_token(subscription: AlertSubscription) -> str:
    """A token that stops one alert subscription, and nothing else."""
    return _alert_serializer().dumps({"alert": subscription.id})


def subscription_for_unsubscribe_token(token: str) -> AlertSubscription | None:
    """The subscription a token was made for, or None when the token is not genuine."""
    try:
        data = _alert_serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("alert"), int):
        return None
    return db.session.get(AlertSubscription, data["alert"])


def _unsubscribe_headers(url: str) -> dict[str, str]:
    return {
        "Auto-Submitted": "auto-generated",
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _residents(items: list[FeedbackItem]) -> dict[str, FeedbackItem]:
    """One item per address, for residents who asked to hear about their feedback."""
    chosen: dict[str, FeedbackItem] = {}
    for item in items:
        if item.contact_me and item.author_email and item.status != Status.SPAM:
            chosen.setdefault(item.author_email.lower(), item)
    return chosen


def _subscribers(response: Response) -> dict[str, AlertSubscription]:
    theme_ids = [t.id for t in response.themes]
    target = AlertSubscription.engagement_id == response.engagement_id
    if theme_ids:
        target = or_(target, AlertSubscription.theme_id.in_(theme_ids))
    rows = db.session.scalars(
        select(AlertSubscription)
        .where(
            target,
            AlertSubscription.confirmed_at.is_not(None),
            AlertSubscription.unsubscribed_at.is_(None),
        )
        .order_by(AlertSubscription.id)
    )
    chosen: dict[str, AlertSubscription] = {}
    for subscription in rows:
        chosen.setdefault(subscription.email.lower(), subscription)
    return chosen


def followers(response: Response) -> tuple[dict[str, FeedbackItem], dict[str, AlertSubscription]]:
    """Who notify_followers(response, change="published") would email, by address:
    residents (with the item they sent) and, apart from those, alert subscribers."""
    residents = _residents(response.items)
    subscribers = {a: s for a, s in _subscribers(response).items() if a not in residents}
    return residents, subscribers


def notify_followers(
    response: Response,
    *,
    change: str,
    items: list[FeedbackItem] | None = None,
    include_subscribers: bool = True,
) -> int:
    """Queue a "response published/updated" email to each follower once; return how many.

    ``change`` is "published", "status" or "linked". ``items`` narrows the residents
    told (default: every linked item). The caller commits.
    """
    organisation = current_app.config["ENGAGE_ORGANISATION"]
    permalink = public_url("public.response", response_id=response.id)
    common = {"response": response, "change": change, "permalink": permalink}
    common["organisation"] = organisation
    sent = 0
    residents = _residents(response.items if items is None else items)
    for address, item in residents.items():
        url = public_url("feedback.unsubscribe", token=unsubscribe_token(item))
        outbox.queue(
            kind="response_published",
            recipient=item.author_email or address,
            template="response_published",
            context={**common, "item": item, "subscription": None, "unsubscribe_url": url},
            headers=_unsubscribe_headers(url),
        )
        sent += 1
    if not include_subscribers:
        return sent
    for address, subscription in _subscribers(response).items():
        if address in residents:
            continue
        url = public_url("public.alert_unsubscribe", token=alert_unsubscribe_token(subscription))
        outbox.queue(
            kind="response_alert",
            recipient=subscription.email,
            template="response_published",
            context={**common, "item": None, "subscription": subscription, "unsubscribe_url": url},
            headers=_unsubscribe_headers(url),
        )
        sent += 1
    return sent


def send_alert_confirmation(subscription: AlertSubscription, token: str) -> None:
    """Queue the double opt-in email that asks a subscriber to confirm. The caller commits."""
    outbox.queue(
        kind="alert_confirm",
        recipient=subscription.email,
        template="alert_confirm",
        context={
            "subscription": subscription,
            "confirm_url": public_url("public.alert_confirm", token=token),
            "organisation": current_app.config["ENGAGE_ORGANISATION"],
        },
        headers={"Auto-Submitted": "auto-generated"},
    )
