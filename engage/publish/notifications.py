"""Emails about published responses: to residents who asked, and to alert subscribers.

Messages are queued in the outbox; the caller commits, so an email exists only if the
change that caused it was stored.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from flask_babel import force_locale
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import or_, select

from engage import outbox
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status
from engage.feedback.notifications import more_feedback, unsubscribe_token
from engage.i18n import email_locale
from engage.publish.models import (
    AlertChoice,
    AlertSubscription,
    AlertSubscriptionAlias,
    Response,
)
from engage.web import public_url

# Alert emails carry one signed token, for the manage page and for one-click stopping.
_MANAGE_SALT = "engage-alert-manage"
# The salt of the single-choice "stop" links sent before migration 0013.
_LEGACY_SALT = "engage-alert-unsubscribe"


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _address_key(email: str) -> str:
    """A keyed digest of the address: binds a token to it without showing it."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, email.lower().encode(), hashlib.sha256).hexdigest()[:16]


def manage_token(subscription: AlertSubscription) -> str:
    """A token that lets the holder change or stop one address's alerts, and nothing else."""
    return _serializer(_MANAGE_SALT).dumps(
        {"alert": subscription.id, "key": _address_key(subscription.email)}
    )


def subscription_for_token(token: str) -> AlertSubscription | None:
    """The subscription a manage token (or a pre-0013 stop link) is for, or None."""
    if not token or len(token) > 300:
        return None
    try:
        data = _serializer(_MANAGE_SALT).loads(token)
    except BadSignature:
        return _legacy_subscription(token)
    if not isinstance(data, dict) or not isinstance(data.get("alert"), int):
        return None
    subscription = db.session.get(AlertSubscription, data["alert"])
    if subscription is None or not hmac.compare_digest(
        str(data.get("key", "")), _address_key(subscription.email)
    ):
        return None
    return subscription


def _legacy_subscription(token: str) -> AlertSubscription | None:
    try:
        data = _serializer(_LEGACY_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("alert"), int):
        return None
    # Only through the ids migration 0013 recorded: on SQLite a newer row may reuse
    # the id of one removed since, and an old link must not open it.
    alias = db.session.get(AlertSubscriptionAlias, data["alert"])
    return alias.subscription if alias is not None else None


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


def _subscribers(response: Response) -> dict[str, tuple[AlertSubscription, list[AlertChoice]]]:
    """Each confirmed address following the response's engagement or one of its themes,
    once, with the choices that matched (an address following both gets one email)."""
    theme_ids = [t.id for t in response.themes]
    target = AlertChoice.engagement_id == response.engagement_id
    if theme_ids:
        target = or_(target, AlertChoice.theme_id.in_(theme_ids))
    rows = db.session.execute(
        select(AlertSubscription, AlertChoice)
        .join(AlertChoice, AlertChoice.subscription_id == AlertSubscription.id)
        .where(
            target,
            AlertChoice.confirmed_at.is_not(None),
            AlertSubscription.confirmed_at.is_not(None),
            AlertSubscription.unsubscribed_at.is_(None),
        )
        .order_by(AlertSubscription.id, AlertChoice.id)
    )
    chosen: dict[str, tuple[AlertSubscription, list[AlertChoice]]] = {}
    for subscription, choice in rows:
        chosen.setdefault(subscription.email.lower(), (subscription, []))[1].append(choice)
    return chosen


def followers(response: Response) -> tuple[dict[str, FeedbackItem], dict[str, AlertSubscription]]:
    """Who notify_followers(response, change="published") would email, by address:
    residents (with the item they sent) and, apart from those, alert subscribers."""
    residents = _residents(response.items)
    subscribers = {a: s for a, s in _subscribers(response).items() if a not in residents}
    return residents, subscribers


def _common(response: Response, change: str) -> dict:
    return {
        "response": response,
        "change": change,
        "permalink": public_url("public.response", response_id=response.id),
        "organisation": current_app.config["ENGAGE_ORGANISATION"],
    }


def _resident_context(common: dict, item: FeedbackItem, unsubscribe_url: str) -> dict:
    return {
        **common,
        **more_feedback(item),
        "item": item,
        "subscription": None,
        "unsubscribe_url": unsubscribe_url,
    }


def _subscriber_context(
    common: dict,
    subscription: AlertSubscription,
    matched: list[AlertChoice],
    *,
    manage_url: str,
    unsubscribe_url: str,
) -> dict:
    return {
        **common,
        **more_feedback(),
        "item": None,
        "subscription": subscription,
        "matched": sorted(matched, key=AlertChoice.sort_key),
        "manage_url": manage_url,
        "unsubscribe_url": unsubscribe_url,
    }


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
    common = _common(response, change)
    sent = 0
    residents = _residents(response.items if items is None else items)
    for address, item in residents.items():
        url = public_url("feedback.unsubscribe", token=unsubscribe_token(item))
        # In the resident's language (engage.i18n.email_locale), whoever publishes.
        with force_locale(email_locale(item.ui_locale, item.language)):
            outbox.queue(
                kind="response_published",
                recipient=item.author_email or address,
                template="response_published",
                context=_resident_context(common, item, url),
                headers=_unsubscribe_headers(url),
            )
        sent += 1
    if not include_subscribers:
        return sent
    for address, (subscription, matched) in _subscribers(response).items():
        if address in residents:
            continue
        token = manage_token(subscription)
        url = public_url("public.alert_unsubscribe", token=token)
        # In the language the address asked for alerts in, whoever publishes.
        with force_locale(email_locale(subscription.locale, None)):
            outbox.queue(
                kind="response_alert",
                recipient=subscription.email,
                template="response_published",
                context=_subscriber_context(
                    common,
                    subscription,
                    matched,
                    manage_url=public_url("public.alert_manage", token=token),
                    unsubscribe_url=url,
                ),
                headers=_unsubscribe_headers(url),
            )
        sent += 1
    return sent


# What the publish page shows in place of each person's own links.
PREVIEW_LINK = "(a link of each person's own)"


def preview(response: Response) -> tuple[dict | None, FeedbackItem | None]:
    """The email notify_followers(response, change="published") queues for its first
    follower (a resident who asked, else an alert subscriber), rendered in the
    publisher's language with PREVIEW_LINK for that person's own links; and the
    resident's item, if it is a resident's. (None, None) when nobody follows."""
    common = _common(response, "published")
    residents = _residents(response.items)
    item = next(iter(residents.values()), None)
    if item is not None:
        context = _resident_context(common, item, PREVIEW_LINK)
    else:
        first = next(iter(_subscribers(response).values()), None)
        if first is None:
            return None, None
        subscription, matched = first
        context = _subscriber_context(
            common, subscription, matched, manage_url=PREVIEW_LINK, unsubscribe_url=PREVIEW_LINK
        )
    rendered = outbox.render(
        kind="response_published",
        recipient="preview@example.invalid",
        template="response_published",
        context=context,
    )
    return rendered, item


def send_alert_confirmation(subscription: AlertSubscription, token: str) -> None:
    """Queue the double opt-in email that asks an address to confirm its new choices.

    The caller commits.
    """
    outbox.queue(
        kind="alert_confirm",
        recipient=subscription.email,
        template="alert_confirm",
        context={
            "subscription": subscription,
            "pending": subscription.pending,
            "confirm_url": public_url("public.alert_confirm", token=token),
            "organisation": current_app.config["ENGAGE_ORGANISATION"],
            **more_feedback(),
        },
        headers={"Auto-Submitted": "auto-generated"},
    )
