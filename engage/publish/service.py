"""Writing, publishing and following responses: the rules the staff editor calls.

Functions take plain keyword arguments and never read the request. Unless a docstring
says otherwise they change the session and the caller commits, so that a response and
the emails about it are stored in one transaction (then run outbox.send_due()).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import service as feedback
from engage.feedback.models import Channel, FeedbackItem, Status, Theme
from engage.i18n import _
from engage.publish import notifications
from engage.publish.models import (
    RESPONSE_STATUS_LABELS,
    AlertChoice,
    AlertSubscription,
    Response,
    ResponseMilestone,
    ResponseRevision,
    ResponseState,
    ResponseStatus,
    ResponseTemplate,
    ResponseVote,
    RevisionKind,
)
from engage.publish.queries import (  # noqa: F401 (the service is the one entry point)
    Responsiveness,
    get_published,
    published_for,
    responsiveness,
)
from engage.util import date_in_window, date_window_message, utcnow

MAX_TEXT = 5_000
MAX_COMMENT = 2_000
CONFIRM_WITHIN = timedelta(days=7)
# Items that are not answered by a response even when linked to one.
_NOT_ANSWERED = (Status.SPAM,)


class InvalidResponse(ValueError):
    """The response cannot be saved as asked; ``errors`` maps field name to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class WrongState(ValueError):
    """The response is not in a state that allows this change."""


class DateOutOfRange(InvalidResponse, WrongState):
    """A date outside EARLIEST_DATE … LATEST_DATE (engage.util).

    Both an InvalidResponse (``errors`` names the field) and a WrongState, so every
    caller that shows either to staff shows this too, as a message, instead of storing
    the date or failing.
    """

    def __init__(self, field: str, message: str):
        super().__init__({field: message})
        self.args = (message,)

    def __str__(self) -> str:
        return self.args[0]


def _check_date(value: date | None, field: str, what: str) -> None:
    if value is not None and not date_in_window(value):
        raise DateOutOfRange(field, date_window_message(what))


def _clean(you_said: str | None, we_did: str | None) -> tuple[str, str]:
    errors: dict[str, str] = {}
    values = {}
    for name, value, label in (
        ("you_said", you_said, "what people told us"),
        ("we_did", we_did, "what we are doing"),
    ):
        text = feedback.clean_text(value)
        if not text:
            errors[name] = f"Enter {label}"
        elif len(text) > MAX_TEXT:
            errors[name] = f"Keep {label} to {MAX_TEXT:,} characters or fewer"
        values[name] = text
    if errors:
        raise InvalidResponse(errors)
    return values["you_said"], values["we_did"]


def _snapshot(
    response: Response, kind: RevisionKind, *, note: str = "", by: str | None = None
) -> ResponseRevision:
    revision = ResponseRevision(
        response=response,
        at=utcnow(),
        kind=kind,
        you_said=response.you_said,
        we_did=response.we_did,
        status=response.status,
        note=note or "",
        public=response.state == ResponseState.PUBLISHED,
        by=by,
    )
    db.session.add(revision)
    return revision


def _check_items(engagement: Engagement, items: Iterable[FeedbackItem]) -> list[FeedbackItem]:
    items = list(dict.fromkeys(items))
    strays = [i.reference for i in items if i.engagement_id != engagement.id]
    if strays:
        raise InvalidResponse(
            {"items": f"Items {', '.join(strays)} are not about {engagement.title}"}
        )
    return items


def create_draft(
    *,
    engagement: Engagement,
    you_said: str,
    we_did: str,
    status: ResponseStatus = ResponseStatus.UNDER_CONSIDERATION,
    themes: Iterable[Theme] = (),
    items: Iterable[FeedbackItem] = (),
    by: str | None = None,
) -> Response:
    """Start a response nobody outside the team can see. Raises InvalidResponse."""
    you_said, we_did = _clean(you_said, we_did)
    response = Response(
        engagement=engagement,
        you_said=you_said,
        we_did=we_did,
        status=ResponseStatus(status),
        state=ResponseState.DRAFT,
        themes=list(dict.fromkeys(themes)),
        items=_check_items(engagement, items),
        created_at=utcnow(),
    )
    db.session.add(response)
    _snapshot(response, RevisionKind.CREATED, by=by)
    db.session.flush()
    return response


def update(
    response: Response,
    *,
    you_said: str | None = None,
    we_did: str | None = None,
    themes: Iterable[Theme] | None = None,
    note: str = "",
    by: str | None = None,
) -> bool:
    """Change a response's wording or themes; return whether anything changed.

    Each change is kept as a revision, so the earlier wording stays in the history;
    a change to a published response is shown as "updated on …". Raises InvalidResponse.
    """
    new_said, new_did = _clean(
        response.you_said if you_said is None else you_said,
        response.we_did if we_did is None else we_did,
    )
    wording = (new_said, new_did) != (response.you_said, response.we_did)
    theme_change = themes is not None and list(themes) != list(response.themes)
    if theme_change:
        response.themes = list(dict.fromkeys(themes or ()))
    if not wording:
        return theme_change
    response.you_said, response.we_did = new_said, new_did
    if response.is_public:
        response.public_updated_at = utcnow()
    _snapshot(response, RevisionKind.EDITED, note=note, by=by)
    return True


def publish(
    response: Response,
    *,
    by: str | None = None,
    at: datetime | None = None,
    notify: bool = True,
) -> int:
    """Show a draft (or unpublished) response in public; return how many emails were queued.

    Its linked items become "responded to", and residents who asked to hear, and
    confirmed alert subscribers, are emailed. Raises WrongState if already published.
    """
    if response.is_public:
        raise WrongState("This response is already published")
    now = at or utcnow()
    republished = response.published_at is not None
    response.state = ResponseState.PUBLISHED
    if republished:
        response.public_updated_at = now
    else:
        response.published_at = now
    response.published_by = by or response.published_by
    revision = _snapshot(response, RevisionKind.PUBLISHED, by=by)
    revision.at = now
    for item in response.items:
        if item.status not in _NOT_ANSWERED:
            item.status = Status.RESPONDED
    db.session.flush()
    if not notify:
        return 0
    return notifications.notify_followers(response, change="published")


def change_status(
    response: Response,
    *,
    status: ResponseStatus,
    note: str = "",
    on: date | None = None,
    by: str | None = None,
    notify: bool = True,
) -> int:
    """Move a response to a new status with a dated milestone; return emails queued.

    Followers are told only when the response is published. Raises WrongState when the
    status does not change, DateOutOfRange (a WrongState) when ``on`` is outside the
    window of engage.util.date_in_window.
    """
    status = ResponseStatus(status)
    _check_date(on, "on", "The date of the change")
    if status == response.status:
        raise WrongState("The response already has this status")
    note = feedback.clean_text(note)[:MAX_TEXT]
    response.status = status
    label = RESPONSE_STATUS_LABELS[status]
    milestone = ResponseMilestone(
        response=response,
        on=on or utcnow().date(),
        text=f"{label}: {note}" if note else label,
        created_at=utcnow(),
    )
    db.session.add(milestone)
    if response.is_public:
        response.public_updated_at = utcnow()
    _snapshot(response, RevisionKind.STATUS, note=note, by=by)
    db.session.flush()
    if not (notify and response.is_public):
        return 0
    return notifications.notify_followers(response, change="status")


def add_milestone(response: Response, *, on: date, text: str) -> ResponseMilestone:
    """Record a dated step without changing the status. Raises InvalidResponse."""
    _check_date(on, "on", "The date")
    text = feedback.clean_text(text)
    if not text:
        raise InvalidResponse({"text": "Enter what happened"})
    milestone = ResponseMilestone(response=response, on=on, text=text[:MAX_TEXT])
    db.session.add(milestone)
    if response.is_public:
        response.public_updated_at = utcnow()
    return milestone


def unpublish(response: Response, *, reason: str, by: str | None = None) -> ResponseRevision:
    """Take a response off every public surface, keeping it and the reason in its history.

    Raises WrongState when it is not published, InvalidResponse without a reason.
    """
    if not response.is_public:
        raise WrongState("Only a published response can be unpublished")
    reason = feedback.clean_text(reason)
    if not reason:
        raise InvalidResponse({"reason": "Say why the response is being unpublished"})
    response.state = ResponseState.UNPUBLISHED
    return _snapshot(response, RevisionKind.UNPUBLISHED, note=reason[:MAX_TEXT], by=by)


def link_items(
    response: Response, *, items: Iterable[FeedbackItem], notify: bool = True
) -> list[FeedbackItem]:
    """Link more feedback items to a response; return the newly linked ones.

    On a published response the new items become "responded to" and their residents
    who asked are emailed. Raises InvalidResponse for items of another engagement.
    """
    new = [i for i in _check_items(response.engagement, items) if i not in response.items]
    response.items.extend(new)
    if response.is_public:
        for item in new:
            if item.status not in _NOT_ANSWERED:
                item.status = Status.RESPONDED
        if notify and new:
            notifications.notify_followers(
                response, change="linked", items=new, include_subscribers=False
            )
    return new


def unlink_items(response: Response, *, items: Iterable[FeedbackItem]) -> None:
    """Remove items from a response (their status is left for staff to decide)."""
    drop = set(items)
    response.items = [i for i in response.items if i not in drop]


def vote(
    response: Response, *, helpful: bool, comment: str | None = None, area: str | None = None
) -> ResponseVote:
    """Record whether a response answers someone's concern.

    A "no" with a comment long enough to be feedback is also submitted as a new
    feedback item (committed by feedback.service.submit) and linked to the vote.
    Raises WrongState for a response the public cannot see. The caller commits.
    """
    if not response.is_public:
        raise WrongState("Only published responses can be voted on")
    comment = feedback.clean_text(comment)[:MAX_COMMENT] or None
    item = None
    if not helpful and comment and len(comment) >= feedback.MIN_TEXT:
        try:
            item = feedback.submit(
                feedback.Submission(
                    channel=Channel.WEB,
                    text=comment,
                    engagement_slug=response.engagement.slug,
                    area=area,
                    subject=f"Reply to response {response.id}: {response.you_said[:120]}",
                )
            )
        except feedback.InvalidSubmission:
            item = None
    vote = ResponseVote(
        response=response,
        helpful=bool(helpful),
        comment=comment,
        created_at=utcnow(),
        feedback_item_id=item.id if item else None,
    )
    db.session.add(vote)
    return vote


@dataclass(frozen=True)
class VoteCounts:
    """How many people said a response does, or does not, answer their concern."""

    yes: int
    no: int


def vote_counts(response: Response) -> VoteCounts:
    """Count the yes and no answers to a response."""
    rows = dict(
        db.session.execute(
            select(ResponseVote.helpful, func.count())
            .where(ResponseVote.response_id == response.id)
            .group_by(ResponseVote.helpful)
        ).all()
    )
    return VoteCounts(yes=rows.get(True, 0), no=rows.get(False, 0))


# Alerts: one subscription per address, following several themes and engagements, with
# double opt-in for every choice added and one signed link to manage them all.


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
        address = feedback.validate_email_address(feedback.clean_line(email or "", limit=254) or "")
    except ValueError as error:
        raise InvalidResponse(
            {"email": _("Enter an email address in the correct format, like name@example.com")}
        ) from error
    subscription = subscription_for_address(address)
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


def save_template(*, name: str, you_said: str, we_did: str, by: str | None = None):
    """Keep reusable wording under a name (not committed). Raises InvalidResponse."""
    name = feedback.clean_text(name).replace("\n", " ")[:200]
    errors = {}
    if not name:
        errors["name"] = "Give the template a name"
    elif db.session.scalar(select(ResponseTemplate.id).where(ResponseTemplate.name == name)):
        errors["name"] = "There is already a template with this name"
    you_said = feedback.clean_text(you_said)[:MAX_TEXT]
    we_did = feedback.clean_text(we_did)[:MAX_TEXT]
    if not (you_said or we_did):
        errors["we_did"] = "Write the wording to reuse"
    if errors:
        raise InvalidResponse(errors)
    template = ResponseTemplate(name=name, you_said=you_said, we_did=we_did, created_by=by)
    db.session.add(template)
    return template
