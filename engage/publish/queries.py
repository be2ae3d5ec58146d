"""Read-only queries over published responses: everything public surfaces show.

Every function here returns published responses only; drafts and unpublished
responses never leave this module.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import selectinload

from engage.engagements.models import Engagement
from engage.engagements.service import counted_comments
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status, Theme
from engage.feedback.queries import current_tags
from engage.i18n import _, _l
from engage.pagination import Page, PageNotFound, paginate  # noqa: F401  (re-exported)
from engage.publish.models import (
    Response,
    ResponseRevision,
    ResponseState,
    ResponseStatus,
    RevisionKind,
    response_item,
    response_theme,
)
from engage.util import CONTROL_IN_LINE

MAX_QUERY = 200
_CONTROL = CONTROL_IN_LINE


def clean_param(value: str | None, limit: int = MAX_QUERY) -> str:
    """A query-string value made safe for any database: one line, no NULs, bounded."""
    return _CONTROL.sub(" ", value or "").strip()[:limit]


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE with ``\\`` as the escape character, so % and _ match literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _published() -> Select:
    return select(Response).where(Response.state == ResponseState.PUBLISHED)


@dataclass(frozen=True)
class LogFilters:
    """The public log's filters, already cleaned; empty strings mean "any"."""

    engagement: str = ""
    theme: str = ""
    status: str = ""
    area: str = ""
    q: str = ""

    @classmethod
    def from_args(cls, args) -> LogFilters:
        """Read filters from a query-string mapping; unknown statuses are ignored."""
        status = clean_param(args.get("status"), 40)
        if status not in {s.value for s in ResponseStatus}:
            status = ""
        return cls(
            engagement=clean_param(args.get("engagement"), 120),
            theme=clean_param(args.get("theme"), 60),
            status=status,
            area=clean_param(args.get("area"), 120),
            q=clean_param(args.get("q")),
        )

    def as_args(self) -> dict[str, str]:
        """The filters that are set, for building links."""
        return {k: v for k, v in self.__dict__.items() if v}


def published_query(filters: LogFilters | None = None) -> Select:
    """Published responses matching ``filters``, newest first."""
    query = _published()
    f = filters or LogFilters()
    if f.engagement:
        query = query.join(Engagement, Engagement.id == Response.engagement_id).where(
            Engagement.slug == f.engagement
        )
    if f.theme:
        query = query.where(
            exists()
            .where(response_theme.c.response_id == Response.id)
            .where(response_theme.c.theme_id == Theme.id)
            .where(Theme.slug == f.theme)
        )
    if f.status:
        query = query.where(Response.status == ResponseStatus(f.status))
    if f.area:
        query = query.where(
            exists()
            .where(response_item.c.response_id == Response.id)
            .where(response_item.c.item_id == FeedbackItem.id)
            .where(FeedbackItem.area == f.area)
        )
    if f.q:
        pattern = like_pattern(f.q)
        query = query.where(
            or_(
                Response.you_said.ilike(pattern, escape="\\"),
                Response.we_did.ilike(pattern, escape="\\"),
            )
        )
    return query.options(
        selectinload(Response.themes),
        selectinload(Response.engagement),
        selectinload(Response.milestones),
    ).order_by(Response.published_at.desc(), Response.id.desc())


def get_published(response_id: int) -> Response | None:
    """The response with this id if the public may see it, else None."""
    if not 0 < response_id < 2**31:
        return None
    response = db.session.get(Response, response_id)
    return response if response is not None and response.is_public else None


def published_for(engagement: Engagement, limit: int | None = None) -> list[Response]:
    """An engagement's published responses for its "You said, we did" table, by topic.

    With ``limit``, only the newest ``limit`` of them (the engagement page; the printed
    report has them all).
    """
    query = (
        _published()
        .where(Response.engagement_id == engagement.id)
        .options(selectinload(Response.themes))
    )
    if limit is None:
        query = query.order_by(Response.published_at, Response.id)
    else:
        query = query.order_by(Response.published_at.desc(), Response.id.desc()).limit(limit)
    rows = db.session.scalars(query).all()
    if limit is not None:
        rows = rows[::-1]  # oldest first within a topic, as in the full table
    # Group by the first theme, in the labelling guide's order, like the seed table.
    return sorted(rows, key=lambda r: (r.themes[0].position if r.themes else 99,))


def all_published() -> list[Response]:
    """Every published response, newest first (for exports and feeds)."""
    return list(
        db.session.scalars(
            _published()
            .options(selectinload(Response.themes), selectinload(Response.engagement))
            .order_by(Response.published_at.desc(), Response.id.desc())
        )
    )


def people_count(response: Response) -> int:
    """How many people raised the concern: linked items, not counting spam."""
    return sum(1 for item in response.items if item.status != Status.SPAM)


def quotes(response: Response, limit: int = 5) -> list[str]:
    """Redacted words of linked items whose authors agreed to be quoted (never the raw text)."""
    chosen = []
    for item in response.items:
        if not item.consent_to_quote or item.status == Status.SPAM:
            continue
        redacted = (getattr(item, "redacted_text", None) or "").strip()
        if redacted:
            chosen.append(redacted)
        if len(chosen) >= limit:
            break
    return chosen


@dataclass(frozen=True)
class HistoryEntry:
    """One public change to a response, with the wording it replaced."""

    at: datetime
    kind: str
    description: str
    previous_you_said: str | None = None
    previous_we_did: str | None = None


_KIND_TEXT = {
    RevisionKind.PUBLISHED: _l("Published"),
    RevisionKind.EDITED: _l("Wording updated"),
    RevisionKind.STATUS: _l("Status changed"),
}


def public_history(response: Response) -> list[HistoryEntry]:
    """What changed while the response was public, newest first.

    Revisions are snapshots after each event, so an edit's earlier wording is the
    snapshot just before it.
    """
    entries = []
    previous: ResponseRevision | None = None
    published_before = False
    for revision in response.revisions:
        if revision.public and revision.kind in _KIND_TEXT:
            description = str(_KIND_TEXT[revision.kind])
            if revision.kind == RevisionKind.STATUS:
                description = _(
                    "Status changed to %(status)s",
                    status=_(response_status_label(revision.status)),
                )
            elif revision.kind == RevisionKind.PUBLISHED and published_before:
                description = _("Published again")
            if revision.note and revision.kind != RevisionKind.PUBLISHED:
                description += f": {revision.note}"
            said = did = None
            if revision.kind == RevisionKind.EDITED and previous is not None:
                said = previous.you_said if previous.you_said != revision.you_said else None
                did = previous.we_did if previous.we_did != revision.we_did else None
            entries.append(HistoryEntry(revision.at, revision.kind.value, description, said, did))
        published_before = published_before or revision.kind == RevisionKind.PUBLISHED
        previous = revision
    return list(reversed(entries))


def response_status_label(status: ResponseStatus | str) -> str:
    """The public's wording for a status."""
    from engage.publish.models import RESPONSE_STATUS_LABELS

    return RESPONSE_STATUS_LABELS[ResponseStatus(status)]


@dataclass(frozen=True)
class Responsiveness:
    """How well an engagement's comments have been answered in public."""

    counted: int
    answered: int
    median_days: float | None

    @property
    def percent(self) -> int:
        """Share of counted comments linked to a published response, rounded."""
        return round(100 * self.answered / self.counted) if self.counted else 0


def responsiveness(engagement: Engagement) -> Responsiveness:
    """Share of counted items answered by a published response, and the median wait.

    The wait is from an item's submission to the first publication of a response
    linked to it.
    """
    counted = (FeedbackItem.engagement_id == engagement.id) & counted_comments()
    total = db.session.scalar(select(func.count()).select_from(FeedbackItem).where(counted)) or 0
    # First publication per linked item, then the engagement's counted items among them:
    # grouping the links first keeps the planner from pairing every item with every
    # published response (seconds on 100,000 items).
    first_published = (
        select(
            response_item.c.item_id.label("item_id"),
            func.min(Response.published_at).label("published_at"),
        )
        .join(Response, Response.id == response_item.c.response_id)
        .where(Response.state == ResponseState.PUBLISHED)
        .group_by(response_item.c.item_id)
        .subquery("first_published")
    )
    rows = db.session.execute(
        select(FeedbackItem.submitted_at, first_published.c.published_at)
        .join(first_published, first_published.c.item_id == FeedbackItem.id)
        .where(counted)
    ).all()
    waits = [
        max((published - submitted).total_seconds(), 0) / 86400
        for submitted, published in rows
        if published is not None and submitted is not None
    ]
    median = round(statistics.median(waits), 1) if waits else None
    return Responsiveness(counted=total, answered=len(rows), median_days=median)


def status_counts(engagement: Engagement | None = None) -> dict[str, int]:
    """Published responses by status (every status present, zero when none)."""
    query = (
        select(Response.status, func.count())
        .where(Response.state == ResponseState.PUBLISHED)
        .group_by(Response.status)
    )
    if engagement is not None:
        query = query.where(Response.engagement_id == engagement.id)
    found = {ResponseStatus(s).value: n for s, n in db.session.execute(query).all()}
    return {s.value: found.get(s.value, 0) for s in ResponseStatus}


def week_start(when: datetime | date) -> date:
    """The Monday of the ISO week ``when`` falls in."""
    day = when.date() if isinstance(when, datetime) else when
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class CountRow:
    """Anonymised count of comments for one engagement, theme, area and week."""

    engagement: str
    theme: str
    area: str
    week: date
    count: int


def feedback_counts() -> list[CountRow]:
    """Counted comments by engagement, theme, area and week: numbers only, no text.

    An item with several themes counts once under each; one with none (or an area
    not on the engagement's list) under "".
    """
    counted = counted_comments() & FeedbackItem.engagement_id.is_not(None)
    tags = current_tags(counted)
    themes_of: dict[int, list[str]] = {}
    for item_id, slug in db.session.execute(
        select(tags.c.item_id, Theme.slug).join(Theme, Theme.id == tags.c.theme_id)
    ):
        themes_of.setdefault(item_id, []).append(slug)
    counter: Counter[tuple[str, str, str, date]] = Counter()
    for item_id, slug, areas, area, submitted_at in db.session.execute(
        select(
            FeedbackItem.id,
            Engagement.slug,
            Engagement.areas,
            FeedbackItem.area,
            FeedbackItem.submitted_at,
        )
        .join(Engagement, Engagement.id == FeedbackItem.engagement_id)
        .where(counted)
    ):
        # Only the engagement's own list of areas is published: a typed-in area could
        # be an address.
        area = area if area and area in (areas or []) else ""
        for theme in themes_of.get(item_id) or [""]:
            counter[(slug, theme, area, week_start(submitted_at))] += 1
    return [
        CountRow(engagement, theme, area, week, count)
        for (engagement, theme, area, week), count in sorted(counter.items())
    ]


def people_counts(response_ids: list[int]) -> dict[int, int]:
    """people_count() for many responses in one query."""
    if not response_ids:
        return {}
    rows = db.session.execute(
        select(response_item.c.response_id, func.count())
        .join(FeedbackItem, FeedbackItem.id == response_item.c.item_id)
        .where(response_item.c.response_id.in_(response_ids), FeedbackItem.status != Status.SPAM)
        .group_by(response_item.c.response_id)
    ).all()
    found = dict(rows)
    return {rid: found.get(rid, 0) for rid in response_ids}


def vote_totals(response_ids: list[int]) -> dict[int, dict[str, int]]:
    """Yes and no answers for many responses in one query."""
    from engage.publish.models import ResponseVote

    totals = {rid: {"yes": 0, "no": 0} for rid in response_ids}
    if not response_ids:
        return totals
    for rid, helpful, count in db.session.execute(
        select(ResponseVote.response_id, ResponseVote.helpful, func.count())
        .where(ResponseVote.response_id.in_(response_ids))
        .group_by(ResponseVote.response_id, ResponseVote.helpful)
    ):
        totals[rid]["yes" if helpful else "no"] = count
    return totals


@dataclass(frozen=True)
class TrackEvent:
    """One dated step in what happened to a resident's feedback (the /track page)."""

    on: date
    title: str
    detail: str = ""
    response: Response | None = None


@dataclass(frozen=True)
class Tracking:
    """What a resident who tracks an item may see: their words, its steps, its answers."""

    text: str
    redacted: bool
    events: list[TrackEvent]
    responses: list[Response]


def tracking(item: FeedbackItem) -> Tracking:
    """The item's timeline: received, tagged by the team, answered, and the answers'
    progress (milestones from the day it was sent), oldest first.

    The text is the staff's redacted copy once there is one, so personal details they
    removed are never shown again. Only published responses are listed.
    """
    from engage.feedback.models import TagSource

    received = item.submitted_at.date()
    about = item.engagement.title if item.engagement else _("General feedback")
    events = [TrackEvent(received, _("We received your feedback"), about)]
    tagged = [t.created_at for t in item.tags if t.source == TagSource.STAFF and t.created_at]
    if item.themes_reviewed_at is not None:
        tagged.append(item.themes_reviewed_at)
    if tagged:
        names = [theme.name for theme in item.themes()]
        events.append(
            TrackEvent(
                max(min(tagged).date(), received),
                _("The engagement team read it and tagged its themes"),
                ", ".join(names) if names else _("No theme"),
            )
        )
    responses = sorted(
        (r for r in _linked_responses(item) if r.is_public),
        key=lambda r: (r.published_at or item.submitted_at, r.id),
    )
    for response in responses:
        published = (response.published_at or item.submitted_at).date()
        events.append(
            TrackEvent(
                max(published, received),
                _("We answered it in public"),
                _("You told us you are concerned that %(concern)s", concern=response.you_said),
                response,
            )
        )
        for milestone in response.milestones:
            if milestone.on >= received:
                events.append(TrackEvent(milestone.on, _("Progress"), milestone.text, response))
    events.sort(key=lambda e: e.on)  # stable: same-day steps keep their order
    redacted = (item.redacted_text or "").strip()
    return Tracking(
        text=redacted or item.text,
        redacted=bool(redacted),
        events=events,
        responses=responses,
    )


def _linked_responses(item: FeedbackItem) -> list[Response]:
    return list(
        db.session.scalars(
            select(Response)
            .join(response_item, response_item.c.response_id == Response.id)
            .where(response_item.c.item_id == item.id, Response.state == ResponseState.PUBLISHED)
            .options(selectinload(Response.milestones))
        )
    )
