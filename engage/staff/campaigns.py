"""Campaign groups for staff: filtered pages of groups, and changes to a whole group.

A group is a DuplicateGroup and its items (engage.staff.duplicates finds them). Staff
can set every member's theme or status at once, link all of them to a response, mark
the group as one campaign in public figures (the first copy counted, the others
"duplicate", so the public count has the campaign once while the group keeps its
size), merge groups of an engagement, and take items out of a group.

Each change adds an audit entry; callers commit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import (
    CompoundSelect,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased, selectinload

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import (
    DuplicateGroup,
    FeedbackItem,
    Status,
    TagSource,
    Theme,
    ThemeTag,
)
from engage.pagination import Page, paginate
from engage.publish import service as publishing
from engage.publish.models import Response
from engage.publish.queries import clean_param, like_pattern
from engage.staff import audit, inbox, item_actions
from engage.staff.models import StaffUser
from engage.util import MAX_DB_ID, utcnow

PER_PAGE = 10
SIZES = (3, 10, 50, 100, 300, 1000)  # "at least N people" choices
GENERAL = "general"
# Statuses a whole group can be given by hand ("responded" comes from a response,
# "duplicate" from marking it as a campaign).
GROUP_STATUSES = (Status.NEW, Status.TRIAGED, Status.ARCHIVED, Status.SPAM)
ACTIONS = {
    "theme": "Set the theme of every item",
    "status": "Set the status of every item",
    "campaign": "Count as one campaign in public figures",
    "uncampaign": "Count every item separately again",
    "link": "Link every item to a response",
}
MAX_GROUP = 20_000  # items changed in one request at most


class CampaignError(ValueError):
    """A change staff asked for cannot be made; the message says why."""


@dataclass(frozen=True)
class GroupFilters:
    """The campaigns page's filters, cleaned; empty strings mean "any"."""

    engagement: str = ""  # a slug, or "general"
    theme: str = ""  # a theme's slug
    min_size: int = 0
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> GroupFilters:
        errors = []
        size = clean_param(args.get("size"), 8)
        min_size = int(size) if size.isascii() and size.isdigit() else 0
        if size and min_size not in SIZES:
            errors.append("Choose a size from the list; showing groups of every size")
            min_size = 0
        return cls(
            engagement=clean_param(args.get("engagement"), 120),
            theme=clean_param(args.get("theme"), 60),
            min_size=min_size,
            errors=tuple(errors),
        )

    def as_args(self, **changes) -> dict[str, str | int]:
        values = {"engagement": self.engagement, "theme": self.theme, "size": self.min_size}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.engagement or self.theme or self.min_size)


@dataclass(frozen=True)
class GroupRow:
    """A group on the page with what staff need to decide about it."""

    group: DuplicateGroup
    statuses: dict[str, int]
    themes: list[tuple[str, int]]  # current themes of its items, most frequent first
    counted_once: bool  # marked as a campaign: one item counted, the rest "duplicate"


def groups_query(f: GroupFilters, engagements: list[Engagement], themes: list[Theme]) -> Select:
    """Groups matching the filters, largest first. Unknown slugs match nothing."""
    query = select(DuplicateGroup).order_by(DuplicateGroup.size.desc(), DuplicateGroup.id)
    if f.engagement == GENERAL:
        query = query.where(DuplicateGroup.engagement_id.is_(None))
    elif f.engagement:
        found = next((e.id for e in engagements if e.slug == f.engagement), None)
        query = query.where(DuplicateGroup.engagement_id == (found or -1))
    if f.min_size:
        query = query.where(DuplicateGroup.size >= f.min_size)
    if f.theme:
        theme_id = next((t.id for t in themes if t.slug == f.theme), -1)
        member = select(FeedbackItem.id).where(
            FeedbackItem.duplicate_group_id == DuplicateGroup.id,
            inbox.has_current_theme(theme_id),
        )
        query = query.where(exists(member))
    return query


def groups_page(
    f: GroupFilters, page: int, engagements: list[Engagement], themes: list[Theme]
) -> tuple[Page, list[GroupRow]]:
    """One page of groups and, for each, its statuses, themes and linked responses.

    Raises engage.pagination.PageNotFound past the last page.
    """
    found = paginate(
        groups_query(f, engagements, themes).options(selectinload(DuplicateGroup.engagement)),
        page=page,
        per_page=PER_PAGE,
    )
    ids = [g.id for g in found.items]
    statuses: dict[int, dict[str, int]] = defaultdict(dict)
    theme_counts: dict[int, Counter[str]] = defaultdict(Counter)
    if ids:
        # Counted in the database, not read member by member (a page of large groups
        # is thousands of items and tags): the statuses per group, and how many items
        # of each group have each current theme, by FeedbackItem.themes()' rule (staff
        # tags once reviewed or staff-tagged, else the model's) written as a probe of
        # each member's own tags through the (item_id, theme_id, source) index.
        by_theme: dict[int, dict[int, int]] = defaultdict(dict)
        for gid, status, theme_id, count in db.session.execute(
            _page_counts(db.engine.dialect.name), {"group_ids": ids}
        ):
            if theme_id is None:
                statuses[gid][_status_value(status)] = count
            else:
                by_theme[gid][theme_id] = count
        for gid, counts in by_theme.items():
            for theme in themes:  # in the themes' order, so equal counts keep it
                if theme.id in counts:
                    theme_counts[gid][theme.name] = counts[theme.id]
    rows = []
    for group in found.items:
        counts = statuses.get(group.id, {})
        duplicates = counts.get(Status.DUPLICATE.value, 0)
        rows.append(
            GroupRow(
                group=group,
                statuses=counts,
                themes=theme_counts[group.id].most_common(),
                counted_once=duplicates > 0 and duplicates == sum(counts.values()) - 1,
            )
        )
    return found, rows


def _status_value(status) -> str:
    return status.value if isinstance(status, Status) else str(status)


_PAGE_COUNTS: dict[str, CompoundSelect] = {}


def _page_counts(dialect: str) -> CompoundSelect:
    """(group id, status, None, items) and (group id, None, theme id, items) rows for
    the groups in the expanding parameter ``group_ids``: one statement, two aggregates.
    Built once per dialect (building it cost more Python than running it)."""
    found = _PAGE_COUNTS.get(dialect)
    if found is None:
        found = _PAGE_COUNTS[dialect] = _build_page_counts(dialect)
    return found


def _build_page_counts(dialect: str) -> CompoundSelect:
    ids = bindparam("group_ids", expanding=True)
    staff_tag = aliased(ThemeTag)
    by_status = (
        select(
            FeedbackItem.duplicate_group_id,
            FeedbackItem.status,
            literal(None, Integer).label("theme_id"),
            func.count(),
        )
        .where(FeedbackItem.duplicate_group_id.in_(ids))
        .group_by(FeedbackItem.duplicate_group_id, FeedbackItem.status)
    )
    is_current = or_(
        ThemeTag.source == TagSource.STAFF,
        and_(
            FeedbackItem.themes_reviewed_at.is_(None),
            ~exists()
            .where(staff_tag.item_id == FeedbackItem.id, staff_tag.source == TagSource.STAFF)
            .correlate(FeedbackItem),
        ),
    )
    if dialect == "postgresql":
        # Each member's current tags probed through the (item_id, theme_id, source)
        # index: LATERAL, and OFFSET 0 so it is not flattened (as a join, PostgreSQL
        # hashed every tag in the table, and every staff tag for the NOT EXISTS).
        current = (
            select(ThemeTag.theme_id)
            .where(ThemeTag.item_id == FeedbackItem.id, is_current)
            .offset(0)
            .lateral("current_tag")
        )
        theme_id, tags = current.c.theme_id, (current, true())
    else:  # SQLite probes the index in a plain join
        theme_id, tags = (
            ThemeTag.theme_id,
            (ThemeTag, and_(ThemeTag.item_id == FeedbackItem.id, is_current)),
        )
    # Each (item, theme, source) is unique and only one source is current for an item,
    # so count() counts items.
    by_theme = (
        select(
            FeedbackItem.duplicate_group_id,
            literal(None, String).label("status"),
            theme_id,
            func.count(),
        )
        .select_from(FeedbackItem)
        .join(*tags)
        .where(FeedbackItem.duplicate_group_id.in_(ids))
        .group_by(FeedbackItem.duplicate_group_id, theme_id)
    )
    return union_all(by_status, by_theme)


def get_group(group_id: int) -> DuplicateGroup | None:
    if not 0 < group_id <= MAX_DB_ID:
        return None
    return db.session.get(DuplicateGroup, group_id)


def _members(group: DuplicateGroup) -> list[FeedbackItem]:
    items = list(
        db.session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.duplicate_group_id == group.id)
            .options(selectinload(FeedbackItem.tags))
            .order_by(FeedbackItem.submitted_at, FeedbackItem.id)
        )
    )
    if len(items) > MAX_GROUP:
        raise CampaignError(f"This group has over {MAX_GROUP:,} items: change them in the inbox")
    return items


def set_theme(group: DuplicateGroup, slug: str, *, by: StaffUser) -> int:
    """Make ``slug`` the one theme (staff-set) of every item; returns items changed.

    New items become triaged, as on the item page.
    """
    changed = 0
    for item in _members(group):
        changed += item_actions.set_themes(item, [slug], by=by)
        if item.status == Status.NEW:
            item_actions.set_status(item, Status.TRIAGED, by=by)
    audit.record("group.theme", actor=by, target=group, detail={"theme": slug, "changed": changed})
    return changed


def set_status(group: DuplicateGroup, status: Status, *, by: StaffUser) -> int:
    """Give every item the status; items a response answered keep "responded"."""
    if status not in GROUP_STATUSES:
        raise CampaignError("Choose a status")
    changed = 0
    for item in _members(group):
        if item.status != Status.RESPONDED:
            changed += item_actions.set_status(item, status, by=by)
    audit.record(
        "group.status", actor=by, target=group, detail={"status": status.value, "changed": changed}
    )
    return changed


def count_once(group: DuplicateGroup, *, by: StaffUser) -> int:
    """Count the group as one campaign in public figures: its first copy keeps its
    status, every other copy becomes "duplicate" (not counted; see
    engage.engagements.service.COUNTED_STATUSES). Spam is left alone."""
    items = [i for i in _members(group) if i.status != Status.SPAM]
    changed = 0
    for item in items[1:]:
        if item.status != Status.DUPLICATE:
            item.status = Status.DUPLICATE
            changed += 1
    if items and items[0].status == Status.DUPLICATE:
        items[0].status = Status.TRIAGED
        changed += 1
    audit.record("group.campaign", actor=by, target=group, detail={"changed": changed})
    return changed


def count_each(group: DuplicateGroup, *, by: StaffUser) -> int:
    """Undo count_once: each "duplicate" copy is counted again (as triaged)."""
    changed = 0
    for item in _members(group):
        if item.status == Status.DUPLICATE:
            item.status = Status.TRIAGED
            changed += 1
    audit.record("group.uncampaign", actor=by, target=group, detail={"changed": changed})
    return changed


def link(group: DuplicateGroup, response: Response, *, by: StaffUser) -> int:
    """Link every item of the group to the response (same engagement); returns new links.

    On a published response the residents who asked are emailed, as for any link.
    """
    if response.engagement_id != group.engagement_id:
        raise CampaignError("The response is about another engagement than this group")
    new = publishing.link_items(response, items=_members(group))
    audit.record(
        "response.linked", actor=by, target=response, detail={"items": len(new), "group": group.id}
    )
    return len(new)


def _resize(group: DuplicateGroup) -> None:
    db.session.flush()
    group.size = db.session.scalar(
        select(func.count()).where(FeedbackItem.duplicate_group_id == group.id)
    )
    group.updated_at = utcnow()


def merge(group_ids: Iterable[int], *, by: StaffUser) -> DuplicateGroup:
    """Join groups of one engagement into the largest; the others are deleted."""
    ids = sorted({int(i) for i in group_ids if 0 < int(i) <= MAX_DB_ID})
    groups = list(db.session.scalars(select(DuplicateGroup).where(DuplicateGroup.id.in_(ids))))
    if len(groups) < 2 or len(groups) != len(ids):
        raise CampaignError("Tick at least two groups to merge")
    if len({g.engagement_id for g in groups}) > 1:
        raise CampaignError("Only groups of the same engagement can be merged")
    keep = max(groups, key=lambda g: (g.size, -g.id))
    others = [g for g in groups if g is not keep]
    for item in db.session.scalars(
        select(FeedbackItem).where(FeedbackItem.duplicate_group_id.in_([g.id for g in others]))
    ):
        item.duplicate_group_id = keep.id
    db.session.flush()
    for group in others:
        db.session.delete(group)
    _resize(keep)
    db.session.expire(keep, ["items"])
    audit.record("group.merge", actor=by, target=keep, detail={"merged": [g.id for g in others]})
    return keep


def split(item_ids: Iterable[int], *, by: StaffUser, new_group: bool) -> DuplicateGroup | None:
    """Take items out of their group: alone (``new_group`` False) or together as a new
    group of their engagement. Groups left with fewer than two items are removed."""
    ids = sorted({int(i) for i in item_ids if 0 < int(i) <= MAX_DB_ID})
    items = list(db.session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(ids))))
    grouped = [i for i in items if i.duplicate_group_id is not None]
    if not grouped:
        raise CampaignError("Tick items that are in a campaign group")
    if new_group and len({i.engagement_id for i in grouped}) > 1:
        raise CampaignError("A new group holds items of one engagement only")
    old = {i.duplicate_group_id for i in grouped}
    made = None
    if new_group:
        first = min(grouped, key=lambda i: (i.submitted_at, i.id))
        made = DuplicateGroup(
            engagement_id=first.engagement_id,
            size=len(grouped),
            sample_text=first.text,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        db.session.add(made)
        db.session.flush()
    for item in grouped:
        item.duplicate_group_id = made.id if made else None
        if item.status == Status.DUPLICATE:
            item.status = Status.TRIAGED  # counted again, now it is not a copy
    db.session.flush()
    for group in db.session.scalars(select(DuplicateGroup).where(DuplicateGroup.id.in_(old))):
        _resize(group)
        if group.size < 2:
            for item in db.session.scalars(
                select(FeedbackItem).where(FeedbackItem.duplicate_group_id == group.id)
            ):
                item.duplicate_group_id = None
            db.session.flush()
            db.session.delete(group)
    audit.record(
        "group.split",
        actor=by,
        target=made,
        detail={"items": len(grouped), "from": sorted(old), "new_group": made.id if made else None},
    )
    return made


RESPONSES_PER_PAGE = 20


def response_choices(group: DuplicateGroup, q: str, page: int) -> Page:
    """Responses of the group's engagement whose wording contains ``q``, newest first.

    Raises engage.pagination.PageNotFound past the last page.
    """
    query = (
        select(Response)
        .where(Response.engagement_id == (group.engagement_id or -1))
        .order_by(Response.created_at.desc(), Response.id.desc())
    )
    if q:
        pattern = like_pattern(q)
        query = query.where(
            Response.you_said.ilike(pattern, escape="\\")
            | Response.we_did.ilike(pattern, escape="\\")
        )
    return paginate(query, page=page, per_page=RESPONSES_PER_PAGE)
