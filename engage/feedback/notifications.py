"""Emails to residents about their feedback, queued through the outbox."""

from __future__ import annotations

from collections.abc import Collection

from flask import current_app
from flask_babel import force_locale
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from engage import claiming, outbox
from engage.extensions import db
from engage.feedback.models import FeedbackItem
from engage.i18n import email_locale
from engage.web import public_url

_SALT = "engage-unsubscribe"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def unsubscribe_token(item: FeedbackItem, serializer: URLSafeSerializer | None = None) -> str:
    """A token that lets the holder stop emails about one item, and nothing else.

    Pass ``serializer`` (from _serializer()) when making many.
    """
    return (serializer or _serializer()).dumps({"item": item.id})


def item_for_unsubscribe_token(token: str) -> FeedbackItem | None:
    """The item a token was made for, or None when the token is not genuine."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("item"), int):
        return None
    return db.session.get(FeedbackItem, data["item"])


# How much of what the resident wrote the acknowledgement repeats.
ACK_EXCERPT = 1_000


def excerpt(text: str, limit: int = ACK_EXCERPT) -> tuple[str, bool]:
    """At most the first ``limit`` characters of ``text``, and whether it was cut.

    A cut text ends at the last space of its final tenth, when it has one, so no word
    is split, and then with an ellipsis.
    """
    text = (text or "").strip()
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= limit * 9 // 10:
        cut = cut[:space]
    return cut.rstrip() + " …", True


def more_feedback(item: FeedbackItem | None = None) -> dict[str, str]:
    """Where to send more feedback: the address (the engagement's own, if it has one)
    and the page with the form. Emails come from a no-reply address, so they say this."""
    engagement = item.engagement if item is not None else None
    if engagement is not None:
        return {
            "feedback_address": engagement.email_address
            or current_app.config["ENGAGE_FEEDBACK_ADDRESS"],
            "feedback_form_url": public_url("engagements.show", slug=engagement.slug),
        }
    return {
        "feedback_address": current_app.config["ENGAGE_FEEDBACK_ADDRESS"],
        "feedback_form_url": public_url("engagements.index"),
    }


def acknowledgement_rows(items: list[FeedbackItem]) -> list[dict]:
    """The outbox rows of the items' acknowledgement emails, to be rendered when sent.

    Each row keeps the item and the language the email is to be in (engage.i18n
    email_locale: the interface language the resident used, else the language they
    wrote in, when it has a catalogue; else English); render_acknowledgement() writes
    it when the outbox sends it (issue 25: rendering three templates a message was the
    largest cost of a mailbox import). Rows keep the order of ``items``.
    """
    return [
        outbox.deferred_row(
            kind="acknowledgement",
            recipient=item.author_email,
            render="acknowledgement",
            item=item.id,
            locale=email_locale(item.ui_locale, item.language),
        )
        for item in items
    ]


@outbox.renders("acknowledgement")
def render_acknowledgement(made_from: dict) -> dict | None:
    """The acknowledgement of one item, in the language its row keeps: subject, bodies
    and headers, or None when the item is gone or has no address left (purged).

    It repeats the reference and the first ACK_EXCERPT characters of what was sent,
    links to /track with the reference filled in, says how to send more (it comes from
    the no-reply address) and, when the resident asked to hear back, how to stop.
    """
    item = db.session.scalar(
        select(FeedbackItem)
        .where(FeedbackItem.id == made_from["item"])
        .options(selectinload(FeedbackItem.engagement))  # the email names it
    )
    if item is None or not item.author_email:
        return None
    headers = {"Auto-Submitted": "auto-replied"}
    unsubscribe_url = None
    if item.contact_me:
        unsubscribe_url = public_url("feedback.unsubscribe", token=unsubscribe_token(item))
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text, cut = excerpt(item.text)
    context = {
        "organisation": current_app.config["ENGAGE_ORGANISATION"],
        "item": item,
        "excerpt": text,
        "excerpt_cut": cut,
        "excerpt_limit": ACK_EXCERPT,
        "track_url": public_url("feedback.track", reference=item.reference),
        "unsubscribe_url": unsubscribe_url,
        **more_feedback(item),
    }
    locale = made_from.get("locale") or email_locale(item.ui_locale, item.language)
    with force_locale(locale):
        row = outbox.render(
            kind="acknowledgement",
            recipient=item.author_email,
            template="acknowledgement",
            context=context,
            headers=headers,
        )
    return {key: row[key] for key in ("subject", "body_text", "body_html", "headers")}


def owed_acknowledgement(items: list[FeedbackItem]) -> list[FeedbackItem]:
    """The items that are owed an acknowledgement email and have an address for it."""
    return [item for item in items if item.ack_pending and item.author_email]


def queue_acknowledgements(items: list[FeedbackItem]) -> int:
    """Queue the emails of items owed one and mark them sent, in one transaction.

    The outbox rows are made first; then one UPDATE clears ``ack_pending`` only where it
    is still set and says which rows it changed, and only those items' emails are
    queued, in the same transaction. That UPDATE is the claim (see engage.claiming):
    a worker, another worker or the web node that stored the item may try the same
    items at the same moment, and each email is queued once. Returns how many.
    """
    owed = owed_acknowledgement(items)
    if not owed:
        return 0
    emails = acknowledgement_rows(owed)
    with claiming.writing():
        claimed = set(
            db.session.scalars(
                update(FeedbackItem)
                .where(FeedbackItem.id.in_([item.id for item in owed]), FeedbackItem.ack_pending)
                .values(ack_pending=False)
                .returning(FeedbackItem.id)
                .execution_options(synchronize_session=False)
            )
        )
        # Core statements, not ORM objects: this runs for every form sent.
        outbox.queue_many(
            [email for item, email in zip(owed, emails, strict=True) if item.id in claimed]
        )
        # Kept here (unit of work, docs/architecture.md): a claim, its work and its commit
        # are one short transaction inside claiming.writing(), holding the write lock or the
        # row locks only that long.
        db.session.commit()
    return len(claimed)


def mark_acknowledged(ids: Collection[int]) -> None:
    """Clear ``ack_pending`` of items whose email the caller queued (the caller commits)."""
    if ids:
        db.session.execute(
            update(FeedbackItem)
            .where(FeedbackItem.id.in_(list(ids)))
            .values(ack_pending=False)
            .execution_options(synchronize_session=False)
        )


def acknowledge(item: FeedbackItem) -> None:
    """Queue the acknowledgement email for an item that is owed one, then commit."""
    queue_acknowledgements([item])


def acknowledge_pending(limit: int = 2000, batch_size: int = 500) -> int:
    """Queue acknowledgements still owed (new items, or a step that failed); return how many.

    A batch at a time, claimed with FOR UPDATE SKIP LOCKED on PostgreSQL (workers
    sweeping at once take different items), each queued and committed in its own
    transaction by queue_acknowledgements(), which claims again on any database.
    """
    done = 0
    while done < limit:
        items = db.session.scalars(
            claiming.for_claim(
                select(FeedbackItem)
                .where(FeedbackItem.ack_pending)
                # An item without an address is never owed one (owed_acknowledgement).
                .where(FeedbackItem.author_email.is_not(None), FeedbackItem.author_email != "")
                .order_by(FeedbackItem.id)
                .limit(min(batch_size, limit - done)),
                of=FeedbackItem,
            )
        ).all()
        if not items:
            break
        queued = queue_acknowledgements(list(items))
        done += queued
        if not queued or len(items) < batch_size:
            break  # (none queued: another process took them; it works through the rest)
    return done
