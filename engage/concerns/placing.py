"""The worker's part: new feedback joins the kept concerns of its themes.

``place_owed`` runs in every sweep and after each hand-over of new feedback. It claims
one theme at a time (engage.claiming), so several workers never place the same items,
and holds the database's write lock only while writing (see its docstring).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from engage import audit, claiming
from engage.concerns import discovery
from engage.concerns.models import Concern, ConcernItem
from engage.concerns.service import (
    JOIN_SIMILARITY,
    NEW_GROUP_LABEL,
    centre_of,
    units_of,
    wording,
)
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status, TagSource, Theme, ThemeTag
from engage.feedback.queries import current_tags, has_words, is_current
from engage.util import utcnow

# At most this many engagement-theme pairs per sweep: the next sweep does the rest.
PLACE_PAIRS_PER_RUN = 20
# Vectors of this many items are kept in the worker's memory for describing (about
# 1 KB each: 60 MB), so a placing vectorises only what it has not seen.
VECTORS_KEPT = 60_000


def _owes(engagement_id: int, theme_id: int) -> bool:
    """Whether the pair's kept concerns miss an item (a current theme tag, not spam, in
    no concern of the theme) or hold one that no longer belongs (spam now, or the theme
    taken off). The same rule as theme_items() and refresh(), stated in SQL."""
    return (
        db.session.scalar(_missing(engagement_id, theme_id).limit(1)) is not None
        or db.session.scalar(_gone(engagement_id, theme_id).limit(1)) is not None
    )


def owed_pairs() -> list[tuple[int, int]]:
    """(engagement id, theme id) of each theme whose kept concerns have new items to
    place or items to let go, in id order. Themes never grouped are not here: their
    first grouping is a job the staff page queues (``jobs``) or ``engage concerns``."""
    pairs = db.session.execute(
        select(Concern.engagement_id, Concern.theme_id)
        .distinct()
        .order_by(Concern.engagement_id, Concern.theme_id)
    ).all()
    return [(e, t) for e, t in pairs if _owes(e, t)]


def place_owed(limit: int = PLACE_PAIRS_PER_RUN) -> int:
    """Place new feedback in the kept concerns of every theme that owes it (the
    worker's job); return how many items were placed.

    Per theme, three steps, so that the database's write lock (all of it, on SQLite) is
    held for the writing only, never for the arithmetic:

    1. read what is owed and decide (no lock): the items to place, their vectors, the
       nearest kept concern or campaign of each, the items to let go;
    2. claim and write (engage.claiming: the theme's first concern row ``FOR UPDATE
       SKIP LOCKED`` on PostgreSQL, the write lock on SQLite): what is still owed is read
       again, placed as decided, the receiving concerns' centres moved towards their new
       items, audited as ``concern.refresh`` by the worker and committed. Two workers
       never place one theme at once, and a theme one of them finished is found owing
       nothing by the other; the unique (item, theme) of ``concern_item`` keeps an item
       in one concern whatever happens;
    3. describe again (``describe``) the concerns that received or lost items: their
       centres, examples, labels and drafts from all their items (as a full describe
       gives them), computed without a lock from vectors kept in memory where it has
       them, and written only if no concern changed meanwhile.
    """
    pairs = owed_pairs()[:limit]
    db.session.rollback()  # end the read before taking locks one theme at a time
    placed = 0
    for engagement_id, theme_id in pairs:
        plan = _plan(engagement_id, theme_id)
        db.session.rollback()
        _keep_vectors(plan.vectors, plan.texts)
        done = _write_plan(plan)
        if done is None:
            continue  # another worker has the theme, or did it
        count, touched = done
        placed += count
        describe(engagement_id, theme_id, only=touched)
    return placed


@dataclass
class _Plan:
    """What step 1 of place_owed decided for one theme."""

    engagement_id: int
    theme_id: int
    targets: dict[int, int | None] = field(default_factory=dict)  # item → concern (None: new)
    vectors: dict[int, np.ndarray] = field(default_factory=dict)  # item → its vector
    texts: dict[int, str] = field(default_factory=dict)  # item → its text
    release: list[int] = field(default_factory=list)  # concern_item ids to let go


def _missing(engagement_id: int, theme_id: int):
    """(id, text, campaign group) of the theme's current items in no concern of it."""
    current = current_tags(and_(FeedbackItem.engagement_id == engagement_id, has_words()))
    placed = select(ConcernItem.id).where(
        ConcernItem.item_id == current.c.item_id, ConcernItem.theme_id == theme_id
    )
    return (
        select(FeedbackItem.id, FeedbackItem.text, FeedbackItem.duplicate_group_id)
        .join(current, current.c.item_id == FeedbackItem.id)
        .where(current.c.theme_id == theme_id, ~placed.exists())
        .order_by(FeedbackItem.id)
    )


def _gone(engagement_id: int, theme_id: int):
    """concern_item ids of the theme whose item is spam now or no longer has the theme."""
    staff, tag = aliased(ThemeTag), aliased(ThemeTag)
    # correlate_except: this EXISTS sits two levels down, and SQLAlchemy correlates
    # only with the select just above it, whose FROM has no feedback_item; without it
    # the item was a FROM of its own here ("any item has a staff tag"), so once any item
    # had one, every model-tagged item counted as gone and was let go and placed again
    # at every sweep (8,444 of 14,735 on the bench's data).
    staff_tagged = (
        select(staff.id)
        .where(staff.item_id == FeedbackItem.id, staff.source == TagSource.STAFF)
        .correlate_except(staff)
        .exists()
    )
    still_current = (
        select(tag.id)
        .where(
            tag.item_id == ConcernItem.item_id,
            tag.theme_id == theme_id,
            is_current(tag, staff_tagged=staff_tagged),
        )
        .exists()
    )
    return (
        select(ConcernItem.id)
        .join(Concern, Concern.id == ConcernItem.concern_id)
        .join(FeedbackItem, FeedbackItem.id == ConcernItem.item_id)
        .where(
            Concern.engagement_id == engagement_id,
            Concern.theme_id == theme_id,
            or_(FeedbackItem.status == Status.SPAM, ~still_current),
        )
    )


def _plan(engagement_id: int, theme_id: int) -> _Plan:
    """Step 1 of place_owed: read and decide, writing nothing."""
    plan = _Plan(engagement_id, theme_id)
    plan.release = list(db.session.scalars(_gone(engagement_id, theme_id)))
    rows = db.session.execute(_missing(engagement_id, theme_id)).all()
    if not rows:
        return plan
    dimensions = discovery.space().dimensions
    kept = db.session.execute(
        select(Concern.id, Concern.centroid).where(
            Concern.engagement_id == engagement_id,
            Concern.theme_id == theme_id,
            Concern.is_new_group.is_(False),
        )
    ).all()
    kept = [(cid, c) for cid, c in kept if c is not None and len(c) == dimensions]
    groups = {group for _, _, group in rows if group is not None}
    of_group: dict[int, int] = {}
    if groups:
        for concern_id, group in db.session.execute(
            select(ConcernItem.concern_id, FeedbackItem.duplicate_group_id)
            .join(FeedbackItem, FeedbackItem.id == ConcernItem.item_id)
            .where(
                ConcernItem.theme_id == theme_id,
                FeedbackItem.duplicate_group_id.in_(groups),
                FeedbackItem.engagement_id == engagement_id,
            )
            .order_by(ConcernItem.id)
        ):
            of_group.setdefault(group, concern_id)
    vectors = discovery.space().vectors([text for _, text, _ in rows])
    centres = np.array([c for _, c in kept], dtype=np.float32) if kept else None
    for (item_id, text, group), vector in zip(rows, vectors, strict=True):
        target = of_group.get(group) if group is not None else None
        if target is None and centres is not None:
            similarity = centres @ vector
            best = int(np.argmax(similarity))
            if similarity[best] >= JOIN_SIMILARITY:
                target = kept[best][0]
        plan.targets[item_id] = target
        plan.vectors[item_id] = vector
        plan.texts[item_id] = text
        if group is not None and target is not None:
            of_group.setdefault(group, target)
    return plan


def _write_plan(plan: _Plan) -> tuple[int, set[int]] | None:
    """Step 2 of place_owed: claim the theme, write what is still owed, commit. Returns
    how many items were placed and the ids of the concerns that received or lost items,
    or None when the theme was not claimed or owed nothing."""
    e_id, t_id = plan.engagement_id, plan.theme_id
    if not plan.targets and not plan.release:
        return None
    with claiming.writing():
        first = db.session.scalar(
            select(func.min(Concern.id)).where(
                Concern.engagement_id == e_id, Concern.theme_id == t_id
            )
        )
        held = claiming.claim(
            [first] if first is not None else [], Concern.id.isnot(None), of=Concern,
            skip_locked=True,
        )  # fmt: skip
        still = set(db.session.scalars(_missing(e_id, t_id).with_only_columns(FeedbackItem.id)))
        still &= set(plan.targets)
        going = set(db.session.scalars(_gone(e_id, t_id))) & set(plan.release)
        if not held or not (still or going):
            db.session.rollback()
            return None
        touched: set[int] = set()
        for member_id in sorted(going):
            member = db.session.get(ConcernItem, member_id)
            touched.add(member.concern_id)
            db.session.delete(member)
        concerns = {c.id: c for c in db.session.scalars(
            select(Concern).where(Concern.engagement_id == e_id, Concern.theme_id == t_id)
        )}  # fmt: skip
        new_group = next((c for c in concerns.values() if c.is_new_group), None)
        sizes = _membership(e_id, t_id)
        received: dict[int, list[np.ndarray]] = defaultdict(list)
        joined = to_new = 0
        now = utcnow()
        for item_id in sorted(still):
            target = concerns.get(plan.targets[item_id]) if plan.targets[item_id] else None
            if target is None:
                if new_group is None:
                    new_group = Concern(
                        engagement_id=e_id, theme_id=t_id, label=NEW_GROUP_LABEL, draft="",
                        is_new_group=True, created_at=now, updated_at=now,
                    )  # fmt: skip
                    db.session.add(new_group)
                    db.session.flush()
                target = new_group
                to_new += 1
                touched.add(new_group.id)
            else:
                received[target.id].append(plan.vectors[item_id])
                touched.add(target.id)
                joined += 1
            db.session.add(
                ConcernItem(concern_id=target.id, item_id=item_id, theme_id=t_id, placed_by="model")
            )
        for concern_id, vectors in received.items():
            _move_centre(concerns[concern_id], vectors, had=len(sizes.get(concern_id, ())))
        engagement = db.session.get(Engagement, e_id)
        theme = db.session.get(Theme, t_id)
        audit.record(
            "concern.refresh",
            detail={
                "engagement": engagement.slug,
                "theme": theme.slug,
                "by": "worker",
                "joined": joined,
                "new_group": to_new,
                "released": len(going),
            },
        )
        db.session.commit()
    return joined + to_new, touched


def _membership(engagement_id: int, theme_id: int) -> dict[int, list[int]]:
    """Item ids of each concern of the theme, sorted (one light query, no objects)."""
    out: dict[int, list[int]] = defaultdict(list)
    for concern_id, item_id in db.session.execute(
        select(ConcernItem.concern_id, ConcernItem.item_id)
        .join(Concern, Concern.id == ConcernItem.concern_id)
        .where(Concern.engagement_id == engagement_id, Concern.theme_id == theme_id)
        .order_by(ConcernItem.concern_id, ConcernItem.item_id)
    ):
        out[concern_id].append(item_id)
    return dict(out)


def _move_centre(concern: Concern, vectors: list[np.ndarray], *, had: int) -> None:
    """The concern's centre moved towards new items as their share of its items: the
    stored centre stands for the ``had`` items it already held (each counted once)."""
    if concern.centroid is None:
        return
    total = np.asarray(concern.centroid, dtype=np.float32) * max(1, had) + np.sum(vectors, axis=0)
    norm = float(np.linalg.norm(total))
    if norm:
        concern.centroid = [round(float(x), 5) for x in total / norm]


@dataclass(frozen=True)
class _Unit:
    """An item as describing reads it: no ORM object (service.draftable reads the last
    four)."""

    id: int
    text: str
    duplicate_group_id: int | None
    redacted_text: str | None
    consent_to_quote: bool
    status: Status
    author_name: str | None


_kept_vectors: OrderedDict[int, tuple[int, np.ndarray]] = OrderedDict()
_kept_lock = threading.Lock()
_kept_space: list[discovery.Space] = []  # the space the kept vectors are of


def _keep_vectors(vectors: dict[int, np.ndarray], texts: dict[int, str]) -> None:
    """Keep items' vectors (by item id, with a hash of the text they are of), the
    oldest let go past VECTORS_KEPT; all let go if the space is another one."""
    space = discovery.space()
    with _kept_lock:
        if not _kept_space or _kept_space[0] is not space:
            _kept_vectors.clear()
            _kept_space[:] = [space]
        for item_id, vector in vectors.items():
            # A copy: a row of a batch's matrix would keep the whole matrix alive.
            _kept_vectors[item_id] = (hash(texts[item_id]), np.array(vector, copy=True))
            _kept_vectors.move_to_end(item_id)
        while len(_kept_vectors) > VECTORS_KEPT:
            _kept_vectors.popitem(last=False)


def _vectors_of(units: Sequence[_Unit]) -> dict[int, np.ndarray]:
    """Each unit's vector in the space: kept ones as kept (a vector depends only on its
    text), the others computed now and kept."""
    space = discovery.space()
    out: dict[int, np.ndarray] = {}
    with _kept_lock:
        if _kept_space and _kept_space[0] is space:
            for unit in units:
                kept = _kept_vectors.get(unit.id)
                if kept is not None and kept[0] == hash(unit.text):
                    out[unit.id] = kept[1]
                    _kept_vectors.move_to_end(unit.id)
    missing = [unit for unit in units if unit.id not in out]
    if missing:
        computed = space.vectors([unit.text for unit in missing])
        fresh = {unit.id: vector for unit, vector in zip(missing, computed, strict=True)}
        _keep_vectors(fresh, {unit.id: unit.text for unit in missing})
        out.update(fresh)
    return out


def describe(engagement_id: int, theme_id: int, only: set[int] | None = None) -> bool:
    """Centres, central items, labels and drafts of a theme's concerns computed again
    from all their items, as refresh does after a change: of the concerns in ``only``
    (those that received or lost items; None: all), and of any whose centre is missing
    or of another space. A label is chosen against every concern's phrases, so each
    concern's units are read, but only the described ones are vectorised (from the
    vectors kept in memory where there are any). Computed without holding the write
    lock; written only if no concern gained or lost an item meanwhile (else left for
    the next run). Returns whether it wrote."""
    theme_slug = db.session.get(Theme, theme_id).slug
    before = _membership(engagement_id, theme_id)
    concerns = db.session.execute(
        select(Concern.id, Concern.centroid, Concern.edited_at, Concern.is_new_group, Concern.draft)
        .where(Concern.engagement_id == engagement_id, Concern.theme_id == theme_id)
        .order_by(Concern.id)
    ).all()
    gone = set(db.session.scalars(_gone(engagement_id, theme_id)))
    members: dict[int, list[_Unit]] = defaultdict(list)
    with_members: set[int] = set()
    for member_id, concern_id, *item in db.session.execute(
        select(
            ConcernItem.id,
            ConcernItem.concern_id,
            FeedbackItem.id,
            FeedbackItem.text,
            FeedbackItem.duplicate_group_id,
            FeedbackItem.redacted_text,
            FeedbackItem.consent_to_quote,
            FeedbackItem.status,
            FeedbackItem.author_name,
        )
        .join(Concern, Concern.id == ConcernItem.concern_id)
        .join(FeedbackItem, FeedbackItem.id == ConcernItem.item_id)
        .where(Concern.engagement_id == engagement_id, Concern.theme_id == theme_id)
        .order_by(ConcernItem.id)
    ):
        with_members.add(concern_id)
        if member_id not in gone:  # an item that left the theme is not described
            members[concern_id].append(_Unit(*item))
    db.session.rollback()
    live = [c for c in concerns if c.id in with_members]
    firsts_of = {c.id: units_of(members[c.id]) for c in live}
    dimensions = discovery.space().dimensions
    todo = [
        c
        for c in live
        if firsts_of[c.id]
        and (only is None or c.id in only or c.centroid is None or len(c.centroid) != dimensions)
    ]
    if not todo:
        return False
    worded = {c.id for c in todo if c.edited_at is None and not c.is_new_group}
    phrases = (
        dict(
            zip(
                [c.id for c in live],
                discovery.distinctive_phrases([[u.text for u in firsts_of[c.id]] for c in live]),
                strict=True,
            )
        )
        if worded
        else {}
    )
    vectors = _vectors_of([unit for c in todo for unit in firsts_of[c.id]])
    computed = {}
    # One draft line per concern, as service.recompute words them: the drafts kept are
    # taken first, then the concerns worded here, largest first.
    taken = {c.draft for c in live if c.id not in worded and c.draft}
    for concern in sorted(todo, key=lambda c: -len(firsts_of[c.id])):
        firsts = firsts_of[concern.id]
        centroid, order = centre_of(np.vstack([vectors[unit.id] for unit in firsts]))
        central = [firsts[i] for i in order]
        words = None
        if concern.id in worded:
            words = wording(
                phrases[concern.id],
                [unit.text for unit in firsts],
                central,
                theme_slug,
                members[concern.id],
                taken,
            )
            taken.add(words[1])
        computed[concern.id] = (centroid, [unit.id for unit in central], words)
    with claiming.writing():
        if _membership(engagement_id, theme_id) != before:
            db.session.rollback()
            return False
        current = {
            c.id: c
            for c in db.session.scalars(select(Concern).where(Concern.id.in_(list(computed))))
        }
        now = utcnow()
        for concern_id, (centroid, central_ids, words) in computed.items():
            concern = current.get(concern_id)
            if concern is None:
                continue
            concern.centroid, concern.central_ids = centroid, central_ids
            if words is not None and concern.edited_at is None and not concern.is_new_group:
                concern.label, concern.draft = words
            concern.updated_at = now
        db.session.commit()
    return True
