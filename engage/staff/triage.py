"""The triage inbox and the changes staff make to feedback items.

Filters, facet counts and sorting for the inbox; theme corrections (kept as staff
tags, which the next ``engage train`` learns from), status changes, notes,
redaction and bulk actions. Every change adds an audit entry; callers commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, and_, case, exists, func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import search
from engage.feedback.models import Channel, FeedbackItem, Status, TagSource, Theme, ThemeTag
from engage.feedback.queries import current_tags
from engage.pagination import Page, paginate
from engage.publish.queries import clean_param
from engage.staff import audit
from engage.staff.models import ItemNote, StaffUser
from engage.util import MAX_DB_ID, utcnow

UNCLASSIFIED = "unclassified"
GENERAL = "general"  # feedback not tied to an engagement
SORTS = {
    "unclassified": "Unclassified first, then newest",
    "newest": "Newest first",
    "oldest": "Oldest first",
    "uncertain": "Least certain first",
}
PER_PAGE = 25
MAX_BULK = 500


class TriageError(ValueError):
    """A change staff asked for cannot be made; the message says why."""


def _parse_date(value: str | None) -> tuple[date | None, bool]:
    """(date, ok): empty is (None, True); a bad date is (None, False)."""
    value = clean_param(value, 20)
    if not value:
        return None, True
    try:
        return date.fromisoformat(value), True
    except ValueError:
        return None, False


@dataclass(frozen=True)
class InboxFilters:
    """The inbox's filters, cleaned; empty strings mean "any"."""

    engagement: str = ""  # a slug, or "general"
    theme: str = ""  # a slug, or "unclassified"
    area: str = ""
    channel: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    group: int | None = None  # a duplicate group's id
    sort: str = "unclassified"
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> InboxFilters:
        """Read the query string. Unknown values are dropped with a message, never an error."""
        errors: list[str] = []
        channel = clean_param(args.get("channel"), 20)
        if channel and channel not in {c.value for c in Channel}:
            errors.append("That channel does not exist; showing every channel")
            channel = ""
        status = clean_param(args.get("status"), 20)
        if status and status not in {s.value for s in Status}:
            errors.append("That status does not exist; showing every status")
            status = ""
        sort = clean_param(args.get("sort"), 20) or "unclassified"
        if sort not in SORTS:
            sort = "unclassified"
        date_from, ok_from = _parse_date(args.get("from"))
        date_to, ok_to = _parse_date(args.get("to"))
        if not (ok_from and ok_to):
            errors.append("Enter dates as YYYY-MM-DD, for example 2019-06-30")
        if date_from and date_to and date_from > date_to:
            errors.append("The start date is after the end date; they have been swapped")
            date_from, date_to = date_to, date_from
        group_raw = clean_param(args.get("group"), 12)
        group = int(group_raw) if group_raw.isascii() and group_raw.isdigit() else None
        if group is not None and group > MAX_DB_ID:
            group = -1  # names no group: an empty list, not an error
        return cls(
            engagement=clean_param(args.get("engagement"), 120),
            theme=clean_param(args.get("theme"), 60),
            area=clean_param(args.get("area"), 120),
            channel=channel,
            status=status,
            date_from=date_from,
            date_to=date_to,
            q=clean_param(args.get("q")),
            group=group,
            sort=sort,
            errors=tuple(errors),
        )

    def as_args(self, **changes) -> dict[str, str]:
        """The filters that are set, as query-string values (for links and forms)."""
        f = replace(self, **changes) if changes else self
        out = {
            "engagement": f.engagement,
            "theme": f.theme,
            "area": f.area,
            "channel": f.channel,
            "status": f.status,
            "from": f.date_from.isoformat() if f.date_from else "",
            "to": f.date_to.isoformat() if f.date_to else "",
            "q": f.q,
            "group": str(f.group) if f.group else "",
            "sort": "" if f.sort == "unclassified" else f.sort,
        }
        return {k: v for k, v in out.items() if v}

    @property
    def active(self) -> bool:
        """True when anything narrows the list (sorting does not)."""
        return any(v for k, v in self.as_args().items() if k != "sort")


def _has_current_tag(theme_id: int | None = None) -> ColumnElement[bool]:
    tags = current_tags()
    query = select(tags.c.item_id).where(tags.c.item_id == FeedbackItem.id)
    if theme_id is not None:
        query = query.where(tags.c.theme_id == theme_id)
    return exists(query)


def _unclassified() -> ColumnElement[bool]:
    """No current themes and not reviewed by staff as having none."""
    return and_(~_has_current_tag(), FeedbackItem.themes_reviewed_at.is_(None))


def _conditions(f: InboxFilters, *, skip: str | None = None) -> list[ColumnElement[bool]]:
    """WHERE conditions for ``f``; ``skip`` leaves one dimension out (for its facet)."""
    where: list = []
    if f.engagement and skip != "engagement":
        if f.engagement == GENERAL:
            where.append(FeedbackItem.engagement_id.is_(None))
        else:
            where.append(
                FeedbackItem.engagement_id.in_(
                    select(Engagement.id).where(Engagement.slug == f.engagement)
                )
            )
    if f.theme and skip != "theme":
        if f.theme == UNCLASSIFIED:
            where.append(_unclassified())
        else:
            theme_id = db.session.scalar(select(Theme.id).where(Theme.slug == f.theme))
            where.append(_has_current_tag(theme_id if theme_id is not None else -1))
    if f.area and skip != "area":
        where.append(FeedbackItem.area == f.area)
    if f.channel and skip != "channel":
        where.append(FeedbackItem.channel == Channel(f.channel))
    if f.status and skip != "status":
        where.append(FeedbackItem.status == Status(f.status))
    if f.date_from:
        where.append(FeedbackItem.submitted_at >= datetime.combine(f.date_from, time.min))
    if f.date_to:
        where.append(
            FeedbackItem.submitted_at < datetime.combine(f.date_to + timedelta(days=1), time.min)
        )
    if f.group:
        where.append(FeedbackItem.duplicate_group_id == f.group)
    if f.q:
        clause = search.matching(f.q, db.engine.dialect.name)
        if clause is not None:
            where.append(clause)
    return where


def inbox_query(f: InboxFilters) -> Select:
    """Items matching ``f`` in the order asked for."""
    query = select(FeedbackItem).where(*_conditions(f))
    if f.sort == "newest":
        order = [FeedbackItem.submitted_at.desc()]
    elif f.sort == "oldest":
        order = [FeedbackItem.submitted_at.asc()]
    elif f.sort == "uncertain":
        # Never classified first, then the smallest margin to a threshold.
        order = [
            case((FeedbackItem.certainty.is_(None), 0), else_=1),
            FeedbackItem.certainty.asc(),
            FeedbackItem.submitted_at.desc(),
        ]
    else:
        order = [case((_unclassified(), 0), else_=1), FeedbackItem.submitted_at.desc()]
    return query.order_by(*order, FeedbackItem.id.desc())


def inbox_page(f: InboxFilters, page: int, per_page: int = PER_PAGE) -> Page:
    """One page of the inbox, with engagements and tags loaded for display."""
    query = inbox_query(f).options(
        selectinload(FeedbackItem.engagement),
        selectinload(FeedbackItem.tags),
        selectinload(FeedbackItem.duplicate_group),
    )
    return paginate(query, page=page, per_page=per_page)


def count(f: InboxFilters) -> int:
    """How many items match ``f``."""
    return db.session.scalar(select(func.count(FeedbackItem.id)).where(*_conditions(f))) or 0


@dataclass
class Facets:
    """How many items each filter value would give, the other filters kept."""

    engagement: dict[str, int]
    theme: dict[str, int]
    area: dict[str, int]
    channel: dict[str, int]
    status: dict[str, int]


def _grouped(column, f: InboxFilters, dimension: str) -> dict:
    rows = db.session.execute(
        select(column, func.count(FeedbackItem.id))
        .where(*_conditions(f, skip=dimension))
        .group_by(column)
    )
    return {key: n for key, n in rows}


def facets(f: InboxFilters) -> Facets:
    """Counts per value of each filter, each computed with the other filters applied."""
    by_engagement_id = _grouped(FeedbackItem.engagement_id, f, "engagement")
    slugs = {i: slug for i, slug in db.session.execute(select(Engagement.id, Engagement.slug))}
    engagement = {slugs[k]: n for k, n in by_engagement_id.items() if k is not None}
    if by_engagement_id.get(None):
        engagement[GENERAL] = by_engagement_id[None]

    where = _conditions(f, skip="theme")
    tags = current_tags()
    theme_rows = db.session.execute(
        select(Theme.slug, func.count(func.distinct(tags.c.item_id)))
        .join(tags, tags.c.theme_id == Theme.id)
        .join(FeedbackItem, FeedbackItem.id == tags.c.item_id)
        .where(*where)
        .group_by(Theme.slug)
    )
    theme = {slug: n for slug, n in theme_rows}
    theme[UNCLASSIFIED] = (
        db.session.scalar(select(func.count(FeedbackItem.id)).where(*where, _unclassified())) or 0
    )
    return Facets(
        engagement=engagement,
        theme=theme,
        area={k: n for k, n in _grouped(FeedbackItem.area, f, "area").items() if k},
        channel={k.value: n for k, n in _grouped(FeedbackItem.channel, f, "channel").items()},
        status={k.value: n for k, n in _grouped(FeedbackItem.status, f, "status").items()},
    )


# ------------------------------------------------------------------ changes


def _theme_map() -> dict[str, Theme]:
    return {t.slug: t for t in db.session.scalars(select(Theme))}


def _current_slugs(item: FeedbackItem) -> list[str]:
    return sorted(t.slug for t in item.themes())


def set_themes(item: FeedbackItem, slugs: Iterable[str], *, by: StaffUser) -> bool:
    """Replace the item's themes with staff tags; True if they changed.

    The model's tags are kept (for comparison and explanation) but no longer count.
    An empty set is a decision too: "reviewed, none of the themes".
    """
    themes = _theme_map()
    wanted = sorted(set(slugs))
    unknown = [s for s in wanted if s not in themes]
    if unknown:
        raise TriageError(f"Unknown theme: {', '.join(unknown)}")
    before = _current_slugs(item)
    reviewed_before = item.themes_reviewed_at is not None
    # Change only the difference: a kept tag stays the same row (unique item/theme/source).
    staff_tags = {t.theme.slug: t for t in item.tags if t.source == TagSource.STAFF}
    for slug, tag in staff_tags.items():
        if slug not in wanted:
            item.tags.remove(tag)
    for slug in wanted:
        if slug not in staff_tags:
            item.tags.append(
                ThemeTag(theme=themes[slug], source=TagSource.STAFF, confidence=1.0)
            )
    item.themes_reviewed_at = utcnow()
    item.themes_reviewed_by_id = by.id
    changed = before != wanted or not reviewed_before
    if changed:
        audit.record(
            "item.themes", actor=by, target=item, detail={"before": before, "after": wanted}
        )
    return changed


def add_theme(item: FeedbackItem, slug: str, *, by: StaffUser) -> bool:
    return set_themes(item, set(_current_slugs(item)) | {slug}, by=by)


def remove_theme(item: FeedbackItem, slug: str, *, by: StaffUser) -> bool:
    return set_themes(item, set(_current_slugs(item)) - {slug}, by=by)


def set_status(item: FeedbackItem, status: Status, *, by: StaffUser) -> bool:
    """Change the workflow status; ``responded`` is set only by linking a response."""
    if item.status == status:
        return False
    if status == Status.RESPONDED:
        raise TriageError("Link the item to a response to mark it responded")
    before = item.status
    item.status = status
    audit.record(
        "item.status", actor=by, target=item, detail={"before": before.value, "after": status}
    )
    return True


def add_note(item: FeedbackItem, text: str, *, by: StaffUser) -> ItemNote:
    text = (text or "").strip()
    if not text:
        raise TriageError("Write the note")
    note = ItemNote(item_id=item.id, author_id=by.id, text=text[:5000])
    db.session.add(note)
    audit.record("item.note", actor=by, target=item, detail={"length": len(note.text)})
    return note


def notes_for(item: FeedbackItem) -> list[ItemNote]:
    return list(
        db.session.scalars(
            select(ItemNote)
            .where(ItemNote.item_id == item.id)
            .options(selectinload(ItemNote.author))
            .order_by(ItemNote.created_at, ItemNote.id)
        )
    )


def save_redaction(item: FeedbackItem, redacted_text: str, *, by: StaffUser) -> None:
    """Keep the copy that may be quoted; the original text is never changed."""
    redacted_text = (redacted_text or "").strip()
    if not redacted_text:
        raise TriageError("Enter the redacted text")
    item.redacted_text = redacted_text[:10_000]
    item.redacted_at = utcnow()
    item.redacted_by_id = by.id
    audit.record(
        "item.redaction",
        actor=by,
        target=item,
        detail={"original_length": len(item.text), "redacted_length": len(item.redacted_text)},
    )


BULK_ACTIONS = {
    "add_theme": "Add a theme",
    "remove_theme": "Remove a theme",
    "triaged": "Mark triaged",
    "archived": "Archive",
    "spam": "Mark as spam",
}


def bulk(action: str, item_ids: Iterable[int], *, by: StaffUser, theme: str = "") -> int:
    """Apply one action to many items; returns how many changed."""
    if action not in BULK_ACTIONS:
        raise TriageError("Choose an action")
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        raise TriageError("Select at least one item")
    if len(ids) > MAX_BULK:
        raise TriageError(f"Select at most {MAX_BULK} items at a time")
    if ids[-1] > MAX_DB_ID:
        raise TriageError("Some of the selected items no longer exist; nothing was changed")
    if action in ("add_theme", "remove_theme") and theme not in _theme_map():
        raise TriageError("Choose a theme")
    items = list(
        db.session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.id.in_(ids))
            .options(selectinload(FeedbackItem.tags))
        )
    )
    if len(items) != len(ids):
        raise TriageError("Some of the selected items no longer exist; nothing was changed")
    changed = 0
    for item in items:
        if action == "add_theme":
            changed += add_theme(item, theme, by=by)
        elif action == "remove_theme":
            changed += remove_theme(item, theme, by=by)
        elif item.status != Status.RESPONDED or action != "triaged":
            changed += set_status(item, Status(action), by=by)
    audit.record(
        "item.bulk", actor=by, detail={"action": action, "theme": theme, "count": len(ids)}
    )
    return changed


def explanation(item: FeedbackItem, limit: int = 6) -> dict[str, list[tuple[str, float]]]:
    """For each model theme on the item, the words that pushed the model towards it."""
    from engage.classify import service as classify

    model_tags = [t for t in item.tags if t.source == TagSource.MODEL]
    if not model_tags:
        return {}
    try:
        model, row = classify.load_active()
    except classify.NoModelError:
        return {}
    if row.version != item.model_version:
        return {}
    out = {}
    for tag in model_tags:
        try:
            out[tag.theme.slug] = model.explain(item.text, tag.theme.slug, top=limit)
        except ValueError:
            continue
    return out
