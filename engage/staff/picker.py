"""The response editor's picker: the feedback a response could answer.

Everything is narrowed to the response's engagement and, when it has themes, to items
whose current themes include one of them. Campaign groups are offered whole (largest
first, with their size); single items are those in no group, searchable by words and
read a page at a time, with how many match. Suggestions rank groups and recent items
by tf-idf cosine similarity to the response's wording.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from time import monotonic

from flask import current_app
from sqlalchemy import exists, func, or_, select

from engage.extensions import db
from engage.feedback import search
from engage.feedback.models import DuplicateGroup, FeedbackItem, Status, Theme
from engage.publish.models import response_item
from engage.staff import triage

ITEMS_PER_PAGE = 20
GROUPS_SHOWN = 10
COUNT_CAP = 1000  # "more than 1,000 items": the exact number is not worth a full count
SUGGESTIONS = 8
SUGGESTION_POOL = 300  # the newest unlinked items compared with the wording
MIN_SIMILARITY = 0.05


@dataclass
class PickerPage:
    """What the picker shows for one response (or draft) and one search."""

    q: str
    page: int
    items: list[FeedbackItem] = field(default_factory=list)
    items_total: int = 0  # capped at COUNT_CAP + 1
    has_next: bool = False
    groups: list[DuplicateGroup] = field(default_factory=list)
    groups_total: int = 0
    people_in_groups: int = 0
    suggestions: list[tuple[str, object, int]] = field(default_factory=list)  # kind, row, %

    @property
    def items_capped(self) -> bool:
        return self.items_total > COUNT_CAP


def _about(themes: Sequence[Theme]):
    """Items whose current themes include one of ``themes`` (no condition without any)."""
    if not themes:
        return None
    # The inbox's probe of the item's own tags (index lookups per row read), not a
    # subquery over every staff tag, which PostgreSQL hashes in full each time.
    return or_(*[triage._has_current_theme(t.id) for t in themes])


def _not_linked(response_id: int | None):
    if response_id is None:
        return None
    return ~exists().where(
        response_item.c.item_id == FeedbackItem.id, response_item.c.response_id == response_id
    )


def _where(engagement_id: int, themes: Sequence[Theme], response_id: int | None) -> list:
    conditions = [FeedbackItem.engagement_id == engagement_id, FeedbackItem.status != Status.SPAM]
    for extra in (_about(themes), _not_linked(response_id)):
        if extra is not None:
            conditions.append(extra)
    return conditions


def picker_page(
    engagement_id: int,
    themes: Sequence[Theme],
    *,
    response_id: int | None = None,
    q: str = "",
    page: int = 1,
    wording: str = "",
) -> PickerPage:
    """The groups, a page of single items and the suggestions for a response."""
    out = PickerPage(q=q, page=max(page, 1))
    where = _where(engagement_id, themes, response_id)

    # Groups of the engagement with at least one member about the themes (and not linked).
    member = select(FeedbackItem.id).where(
        FeedbackItem.duplicate_group_id == DuplicateGroup.id, *where
    )
    # Every matching group's id and size in one read (an engagement has tens of groups,
    # not thousands); the largest are then loaded whole.
    matching = db.session.execute(
        select(DuplicateGroup.id, DuplicateGroup.size)
        .where(DuplicateGroup.engagement_id == engagement_id, exists(member))
        .order_by(DuplicateGroup.size.desc(), DuplicateGroup.id)
    ).all()
    out.groups_total = len(matching)
    out.people_in_groups = sum(size for _, size in matching)
    top = [gid for gid, _ in matching[:GROUPS_SHOWN]]
    loaded = {
        g.id: g
        for g in db.session.scalars(select(DuplicateGroup).where(DuplicateGroup.id.in_(top)))
    }
    out.groups = [loaded[gid] for gid in top if gid in loaded]

    single = [*where, FeedbackItem.duplicate_group_id.is_(None)]
    if q:
        clause = search.matching(q, db.engine.dialect.name)
        if clause is not None:
            single.append(clause)
    offset = (out.page - 1) * ITEMS_PER_PAGE
    rows = list(
        db.session.scalars(
            select(FeedbackItem)
            .where(*single)
            .order_by(FeedbackItem.submitted_at.desc(), FeedbackItem.id.desc())
            .limit(ITEMS_PER_PAGE + 1)
            .offset(offset)
        )
    )
    out.has_next = len(rows) > ITEMS_PER_PAGE
    out.items = rows[:ITEMS_PER_PAGE]
    if out.has_next or out.page > 1:
        capped = select(FeedbackItem.id).where(*single).limit(COUNT_CAP + 1).subquery()
        out.items_total = db.session.scalar(select(func.count()).select_from(capped)) or 0
    else:
        out.items_total = len(out.items)
    if wording.strip():
        out.suggestions = suggestions(engagement_id, themes, response_id, wording)
    return out


def _rank(wording: str, texts: list[str]) -> list[float]:
    """Cosine similarity of each text to the wording in tf-idf space fitted on them all."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import linear_kernel

    vectoriser = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=1)
    try:
        matrix = vectoriser.fit_transform([wording, *texts])
    except ValueError:  # nothing but stop words
        return [0.0] * len(texts)
    return linear_kernel(matrix[0:1], matrix[1:]).ravel().tolist()


def suggestions(
    engagement_id: int, themes: Sequence[Theme], response_id: int | None, wording: str
) -> list[tuple[str, object, int]]:
    """("group" | "item", row, similarity %) of the groups and newest unlinked items most
    like the wording, best first; kept a minute per worker for the same question."""
    key = (engagement_id, tuple(t.id for t in themes), response_id, wording)
    store: dict = current_app.extensions.setdefault("engage_picker_suggestions", {})
    found = store.get(key)
    if found is not None and monotonic() - found[0] < 60:
        ids = found[1]
    else:
        ids = _suggested_ids(engagement_id, themes, response_id, wording)
        if len(store) > 128:
            store.clear()
        store[key] = (monotonic(), ids)
    groups = {
        g.id: g
        for g in db.session.scalars(
            select(DuplicateGroup).where(
                DuplicateGroup.id.in_([i for k, i, _ in ids if k == "group"])
            )
        )
    }
    items = {
        i.id: i
        for i in db.session.scalars(
            select(FeedbackItem).where(FeedbackItem.id.in_([i for k, i, _ in ids if k == "item"]))
        )
    }
    found_rows = []
    for kind, row_id, score in ids:
        row = groups.get(row_id) if kind == "group" else items.get(row_id)
        if row is not None:
            found_rows.append((kind, row, score))
    return found_rows


def _suggested_ids(engagement_id, themes, response_id, wording) -> list[tuple[str, int, int]]:
    where = _where(engagement_id, themes, response_id)
    member = select(FeedbackItem.id).where(
        FeedbackItem.duplicate_group_id == DuplicateGroup.id, *where
    )
    groups = db.session.execute(
        select(DuplicateGroup.id, DuplicateGroup.sample_text).where(
            DuplicateGroup.engagement_id == engagement_id, exists(member)
        )
    ).all()
    items = db.session.execute(
        select(FeedbackItem.id, FeedbackItem.text)
        .where(*where, FeedbackItem.duplicate_group_id.is_(None))
        .order_by(FeedbackItem.submitted_at.desc(), FeedbackItem.id.desc())
        .limit(SUGGESTION_POOL)
    ).all()
    pool = [("group", gid, text) for gid, text in groups] + [("item", i, t) for i, t in items]
    if not pool:
        return []
    scores = _rank(wording, [text or "" for _, _, text in pool])
    ranked = sorted(
        zip(scores, range(len(pool)), strict=True), key=lambda pair: (-pair[0], pair[1])
    )
    return [
        (pool[i][0], pool[i][1], round(100 * score))
        for score, i in ranked[:SUGGESTIONS]
        if score >= MIN_SIMILARITY
    ]
